"""The application factory: `create_app(settings) -> web.Application`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import threading
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.web_runner import GracefulExit

from policies.engine import Policy
from policies.loader import load_policy
from proxy import routes
from proxy.audit import AuditLog
from proxy.demo import create_demo_app
from proxy.errors import BodyTooLarge, NotFound, ProxyError, error_response
from proxy.metrics import Metrics
from proxy.reload import PolicyReloader
from proxy.state import MODEL, REQUEST_ID, STATE, TENANT, ProxyState, Settings
from proxy.upstream import Upstream, UpstreamConfig

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
RELOADERS = web.AppKey("reloaders", list[PolicyReloader])


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take the client's `X-Request-ID` when it is sane, else make one; always send it back."""
    given = request.headers.get("X-Request-ID", "")
    request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    response = await handler(request)
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes an OpenAI-style error body; no traceback ever reaches a client."""
    try:
        return await handler(request)
    except ProxyError as exc:
        return exc.response()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[STATE].settings.max_body_bytes
        return BodyTooLarge(f"The request body exceeds the limit of {limit} bytes").response()
    except web.HTTPNotFound:
        return NotFound(f"Unknown route: {request.method} {request.path}").response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason, "invalid_request_error", None)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:
        # Type and frames only: an exception's message may quote request text.
        log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, request.path,
                  "".join(traceback.format_tb(exc.__traceback__)))
        return error_response(500, "The proxy failed to handle the request.", "server_error", "internal_error")


@web.middleware
async def client_key_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With client keys configured, every model route needs a known key; it names the tenant."""
    keys = request.app[STATE].settings.client_keys
    if keys is None or not request.path.startswith("/v1/"):
        return await handler(request)
    tenant = keys.tenant_for(request.headers.get("Authorization"))
    if tenant is None:
        return error_response(401, "Incorrect or missing API key. Send 'Authorization: Bearer <key>'.",
                              "invalid_request_error", "invalid_api_key")
    request[TENANT] = tenant
    return await handler(request)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    started = asyncio.get_running_loop().time()
    response = await handler(request)
    route = request.path.removeprefix("/v1/") if request.path.startswith("/v1/") else "other"
    if route not in ("chat/completions", "completions", "embeddings", "models"):
        return response
    labels = (route, state.model_label(request.get(MODEL)), str(response.status), request.get(TENANT, "-"))
    state.metrics.child(state.metrics.requests, *labels).inc()
    state.metrics.child(state.metrics.request_duration, route).observe(asyncio.get_running_loop().time() - started)
    return response


async def _upstream_ctx(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    if state.settings.demo:
        runner = web.AppRunner(create_demo_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        state.upstream = Upstream(UpstreamConfig(f"http://127.0.0.1:{port}/v1"), state.metrics)
        log.info("demo model serving on 127.0.0.1:%d", port)
    await state.upstream.start()
    yield
    await state.upstream.close()
    if state.settings.demo:
        await runner.cleanup()


async def _reload_ctx(app: web.Application) -> AsyncIterator[None]:
    interval = app[STATE].settings.reload_poll_seconds
    tasks = [asyncio.create_task(reloader.watch(interval)) for reloader in app[RELOADERS]]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _close_audit(app: web.Application) -> None:
    app[STATE].audit.close()
    app[STATE].guard_executor.shutdown(wait=False, cancel_futures=True)


def install_signal_handlers(
    app: web.Application, drain_seconds: float = 0.0, early_sighup: threading.Event | None = None
) -> None:
    """SIGHUP reloads the policy; SIGTERM drains: `/readyz` turns 503, then the listener closes
    and in-flight requests and streams get `shutdown_timeout` to finish before exit 0. A SIGHUP
    that `early_sighup` remembers from start-up reloads once the loop has taken the signal over."""

    async def on_startup(app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        state = app[STATE]
        tasks: set[asyncio.Task[bool]] = set()

        def on_sighup() -> None:
            for reloader in app[RELOADERS]:
                task = loop.create_task(reloader.reload("SIGHUP"))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        def on_sigterm() -> None:
            if not state.ready:
                return
            state.ready = False
            log.info("SIGTERM: draining for %.1f s, then closing the listener", drain_seconds)
            loop.call_later(drain_seconds, _graceful_exit)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        loop.add_signal_handler(signal.SIGINT, on_sigterm)
        if early_sighup is not None and early_sighup.is_set():
            early_sighup.clear()
            on_sighup()

    app.on_startup.append(on_startup)


def _graceful_exit() -> None:
    raise GracefulExit()


def create_app(settings: Settings, policy: Policy | None = None, metrics: Metrics | None = None) -> web.Application:
    """Build the proxy. The policy is loaded here unless given, so a bad policy fails at start."""
    metrics = metrics if metrics is not None else Metrics()
    policy = policy if policy is not None else load_policy(settings.policy_path)
    audit = AuditLog(settings.audit, metrics)
    audit.open()  # an unwritable audit path is said at start, not discovered per request
    state = ProxyState(settings, policy, metrics, Upstream(settings.upstream, metrics), audit)
    state.set_policy(policy)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[request_id_middleware, metrics_middleware, error_middleware, client_key_middleware],
    )
    app[STATE] = state
    reloaders = [PolicyReloader(state, settings.policy_path)]
    for tenant, path in (settings.client_keys.policies.items() if settings.client_keys else ()):
        if path is not None:
            state.set_policy(load_policy(path), tenant)
            reloaders.append(PolicyReloader(state, path, tenant))
    app[RELOADERS] = reloaders
    app.cleanup_ctx.append(_upstream_ctx)
    app.on_cleanup.append(_close_audit)
    if settings.reload_poll_seconds > 0:
        app.cleanup_ctx.append(_reload_ctx)
    routes.add_routes(app)
    return app
