from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from policies.engine import Policy
from policies.loader import load_policy
from tests.support.servers import Stack, proxy_stack


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy()


@pytest.fixture
async def stack(default_policy: Policy) -> AsyncIterator[Stack]:
    async with proxy_stack(default_policy) as s:
        yield s
