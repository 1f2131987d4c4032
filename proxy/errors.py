"""The exception tree, and OpenAI-style error bodies.

Every error a client sees is `{"error": {"message", "type", "param", "code"}}` with the status
the OpenAI API would use, so the `openai` SDK raises the matching exception class.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


class ProxyError(Exception):
    """An error with an HTTP status and an OpenAI-style body."""

    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        return error_response(self.status, self.message, self.type, self.code, self.param, headers=headers)


class BadRequest(ProxyError):
    status = 400
    type = "invalid_request_error"


class NotFound(ProxyError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class BodyTooLarge(ProxyError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UpstreamUnavailable(ProxyError):
    """The model server refused the connection or broke the protocol."""

    status = 502
    type = "upstream_error"
    code = "upstream_unavailable"


class UpstreamTimeout(ProxyError):
    status = 504
    type = "upstream_error"
    code = "upstream_timeout"


class GuardUnavailable(ProxyError):
    """Content could not be scanned, so it is not forwarded (fail closed)."""

    status = 503
    type = "server_error"
    code = "guard_unavailable"


def error_body(
    message: str, type_: str, code: str | None, param: str | None = None, **extra: Any
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": type_, "param": param, "code": code}
    error.update(extra)
    return {"error": error}


def error_response(
    status: int,
    message: str,
    type_: str,
    code: str | None,
    param: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(error_body(message, type_, code, param, **extra)),
        content_type="application/json",
        headers=headers,
    )
