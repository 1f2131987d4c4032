from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings

from policies.engine import Policy
from policies.loader import load_policy
from tests.support.servers import Stack, proxy_stack

# Generated examples come from a fixed seed, so every run (CI included) checks the same cases
# and a failure reproduces; `HYPOTHESIS_PROFILE=explore bash scripts/test` searches new ones.
settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy()


@pytest.fixture
async def stack(default_policy: Policy) -> AsyncIterator[Stack]:
    async with proxy_stack(default_policy) as s:
        yield s
