"""The HTTP routes: guarded model endpoints, pass-through model list, health and metrics."""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from policies.findings import SEVERITY, Action, Direction
from proxy.audit import client_id
from proxy.errors import BadRequest, GuardUnavailable, NotFound, UpstreamUnavailable, error_response
from proxy.flow import Flow, guard_weight
from proxy.guarding import SlotsVerdict, guard_slots
from proxy.openai import Route, TextSlot, may_shadow_keys, request_slots, response_slots
from proxy.relay import relay_stream
from proxy.state import MODEL, REQUEST_ID, STATE, TENANT
from proxy.upstream import request_headers, response_headers

_PARAM = {Route.CHAT: "messages", Route.COMPLETIONS: "prompt", Route.EMBEDDINGS: "input"}


#: Request bodies larger than this are read (`_read_request`) on the guard's thread pool, not on
#: the event loop: ~2 µs a message, so at most ~10 ms of messages inline.
SLOTS_INLINE_BYTES = 256 * 1024


def _read_request(route: Route, raw: bytes, body: Any) -> tuple[list[TextSlot], bool]:
    """The texts of a request the guard must see, and whether its raw bytes may hold a guarded
    key that parsing dropped (`may_shadow_keys`: then the re-encoded body is forwarded)."""
    return request_slots(route, body), may_shadow_keys(raw, body)


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}", code="invalid_json") from None


def _blocked_prompt(route: Route, verdict: SlotsVerdict, request_id: str) -> web.Response:
    if not any(hit.action is Action.BLOCK for _, d in verdict.decisions for hit in d.hits):
        raise GuardUnavailable("The request could not be scanned, so it was not forwarded")
    return error_response(
        400,
        "The prompt was blocked by the content policy.",
        "invalid_request_error",
        "content_filter",
        _PARAM[route],
        headers={"X-Request-ID": request_id},
        findings=[f for f in verdict.findings if f["action"] == "block"],
    )


def _guard_response(flow: Flow, body: Any) -> tuple[Action, bool, list[dict[str, Any]]]:
    """Guard every text of a non-streamed response in place; blocked choices get the refusal."""
    worst, changed = Action.ALLOW, False
    audit: list[dict[str, Any]] = []
    blocked_choices: set[int] = set()
    by_choice: dict[int, list[Any]] = {}
    try:
        located = response_slots(flow.route, body)
    except UpstreamUnavailable:
        flow.state.metrics.upstream_errors.labels("protocol").inc()
        flow.state.metrics.fail_closed.labels("completion", "unreadable_body").inc()
        raise
    for index, slot in located:
        by_choice.setdefault(index, []).append(slot)
    for index, slots in by_choice.items():
        verdict = guard_slots(flow.policy, slots, Direction.COMPLETION, flow.state.metrics, flow.audit_salt)
        audit.extend(verdict.audit)
        if verdict.blocked:
            blocked_choices.add(index)
        changed = changed or verdict.changed
        worst = max(worst, verdict.action, key=SEVERITY.__getitem__)
    for position, choice in enumerate(body.get("choices", []) if blocked_choices else ()):
        if choice.get("index", position) in blocked_choices:
            _refuse_choice(flow.route, choice, flow.policy.refusal_message)
    return worst, changed or bool(blocked_choices), audit


def _refuse_choice(route: Route, choice: dict[str, Any], refusal: str) -> None:
    choice["finish_reason"] = "content_filter"
    if route is Route.COMPLETIONS:
        choice["text"] = refusal
        choice.pop("logprobs", None)
        return
    choice.pop("logprobs", None)
    message = choice.get("message") or {}
    for key in ("tool_calls", "function_call", "reasoning_content", "refusal", "audio"):
        message.pop(key, None)
    message["content"] = refusal
    choice["message"] = message


async def guarded(request: web.Request, route: Route) -> web.StreamResponse:
    state = request.app[STATE]
    started = time.perf_counter()
    tenant = request.get(TENANT)
    flow = Flow(state, state.policy_for(tenant), route, request[REQUEST_ID],  # this request's policy throughout
                client_id(request.headers.get("Authorization"), state.audit.config.salt), tenant)
    raw = await request.read()
    body = _parse_json(raw)
    # Reading a big body is work too (100,000 messages: 0.2 s): on the pool.
    slots, shadowing = (_read_request(route, raw, body) if len(raw) <= SLOTS_INLINE_BYTES
                        else await flow.run(len(raw), Direction.PROMPT, _read_request, route, raw, body))
    if isinstance(body.get("model"), str):
        request[MODEL] = flow.model = body["model"]
    weight = guard_weight((slot.text for slot in slots), state.settings.guard_inline_chars)
    verdict = await flow.run(weight, Direction.PROMPT, guard_slots, flow.policy, slots, Direction.PROMPT,
                             state.metrics, flow.audit_salt, flow.client)
    if not flow.audit(Direction.PROMPT, verdict.action, verdict.audit):
        raise GuardUnavailable("The audit trail cannot be written, so the request was not forwarded")
    if verdict.blocked:
        return _blocked_prompt(route, verdict, flow.request_id)
    headers = _upstream_headers(request)
    headers["Content-Type"] = "application/json"
    rewrite = verdict.changed or shadowing  # forward only what the guard read
    upstream_body = _encode(body, BadRequest("The request is nested too deeply to rewrite", code="invalid_value"),
                            flow, "prompt") if rewrite else raw
    upstream = await state.upstream.send("POST", str(route), headers, upstream_body)
    state.metrics.upstream_duration.labels(str(route)).observe(time.perf_counter() - started)
    out_headers = response_headers(upstream.headers, flow.request_id)
    out_headers["X-Guardrail-Prompt"] = str(verdict.action)
    stream = route is not Route.EMBEDDINGS and body.get("stream") is True
    if upstream.status < 400 and stream and upstream.headers.get("Content-Type", "").startswith("text/event-stream"):
        n = body.get("n") if isinstance(body.get("n"), int) else 1
        return await relay_stream(request, upstream, flow, out_headers, started, n)
    data = await state.upstream.read_body(upstream, state.settings.max_response_bytes)
    if upstream.status >= 400:
        state.metrics.upstream_errors.labels("status").inc()
        return web.Response(status=upstream.status, body=data, headers=out_headers)
    if stream:  # asked for a stream, got JSON: guard it as JSON all the same
        out_headers["X-Guardrail-Stream"] = "buffered"
    return await _guarded_json(flow, data, out_headers, upstream.status)


def _encode(body: Any, error: Exception, flow: Flow, direction: str) -> bytes:
    """Re-encode a rewritten body; one orjson cannot write (too deep) is refused, not a 500."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        if direction == "completion":
            flow.state.metrics.upstream_errors.labels("protocol").inc()
        flow.state.metrics.fail_closed.labels(direction, "unreadable_body").inc()
        raise error from None


async def _guarded_json(flow: Flow, data: bytes, headers: Any, status: int) -> web.Response:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        flow.state.metrics.upstream_errors.labels("protocol").inc()
        raise UpstreamUnavailable("The upstream returned a body that is not valid JSON") from None
    weight = guard_weight([data], flow.state.settings.guard_inline_chars)
    action, changed, audit = await flow.run(weight, Direction.COMPLETION, _guard_response, flow, body)
    if not flow.audit(Direction.COMPLETION, action, audit):
        raise GuardUnavailable("The audit trail cannot be written, so the answer was not returned")
    flow.state.learn_model(body.get("model") if isinstance(body, dict) else None)
    headers["X-Guardrail-Completion"] = str(action)
    out = _encode(body, UpstreamUnavailable("The upstream answer is nested too deeply to rewrite"), flow,
                  "completion") if changed or may_shadow_keys(data, body) else data
    return web.Response(status=status, body=out, headers=headers)


def _upstream_headers(request: web.Request) -> Any:
    """The client's headers for the upstream; a client key of this proxy never goes upstream."""
    state = request.app[STATE]
    headers = request_headers(request.headers, state.upstream.config.api_key, request[REQUEST_ID])
    if state.settings.client_keys is not None and not state.upstream.config.api_key:
        headers.popall("Authorization", None)
    return headers


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await guarded(request, Route.CHAT)


async def completions(request: web.Request) -> web.StreamResponse:
    return await guarded(request, Route.COMPLETIONS)


async def embeddings(request: web.Request) -> web.StreamResponse:
    return await guarded(request, Route.EMBEDDINGS)


async def list_models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    request_id = request[REQUEST_ID]
    upstream = await state.upstream.send("GET", "models", _upstream_headers(request), query=request.query_string)
    data = await state.upstream.read_body(upstream, state.settings.max_response_bytes)
    if upstream.status < 400:
        try:
            for model in orjson.loads(data).get("data", []):
                state.learn_model(model.get("id"))
        except (orjson.JSONDecodeError, AttributeError):
            pass
    return web.Response(status=upstream.status, body=data, headers=response_headers(upstream.headers, request_id))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not state.ready:
        return web.json_response({"status": "draining"}, status=503)
    return web.json_response({"status": "ready", "policy": state.policy.name, "version": state.policy.version})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[STATE].metrics.registry
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # several workers: report the sum over all
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    response = web.Response(body=generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def not_found(request: web.Request) -> web.Response:
    raise NotFound(f"Unknown route: {request.method} {request.path}. Nothing is forwarded unguarded.")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/{tail:.*}", not_found)

