"""Real HTTP servers for tests: the proxy and a recording OpenAI-wire-format upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from policies.engine import Policy
from proxy.app import create_app
from proxy.demo import DEMO_KEY, DemoModel, create_demo_app
from proxy.state import STATE, ProxyState, Settings
from proxy.upstream import UpstreamConfig


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on 127.0.0.1 on a free port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Stack:
    """A proxy in front of a recording upstream, both on real sockets."""

    url: str
    upstream_url: str
    model: DemoModel
    app: web.Application

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def state(self) -> ProxyState:
        return self.app[STATE]


@asynccontextmanager
async def proxy_in_front_of(base_url: str, policy: Policy | None = None, **settings: Any) -> AsyncIterator[Stack]:
    """The proxy in front of an already running OpenAI-compatible server at `base_url` (…/v1)."""
    config = UpstreamConfig(base_url, **settings.pop("upstream", {}))
    app = create_app(Settings(upstream=config, reload_poll_seconds=settings.pop("reload", 0), **settings), policy)
    async with serve(app) as url:
        yield Stack(url, base_url, DemoModel(), app)


@asynccontextmanager
async def proxy_stack(
    policy: Policy | None = None, upstream_app: web.Application | None = None, **settings: Any
) -> AsyncIterator[Stack]:
    """The proxy in front of `upstream_app` (default: the recording demo model)."""
    upstream_app = upstream_app if upstream_app is not None else create_demo_app()
    async with serve(upstream_app) as upstream_url, proxy_in_front_of(f"{upstream_url}/v1", policy, **settings) as stack:
        if DEMO_KEY in upstream_app:
            stack.model = upstream_app[DEMO_KEY]
        yield stack
