"""The upstream model API: one pooled `ClientSession`, timeouts, and errors mapped to statuses.

Connection refused → 502, timeouts → 504, broken protocol → 502; upstream 4xx/5xx bodies are
passed through by the caller. Hop-by-hop headers never cross the proxy in either direction.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.errors import UpstreamTimeout, UpstreamUnavailable
from proxy.metrics import Metrics

HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection",
    }
)
#: Headers the proxy recomputes: the body may have been rewritten or decompressed.
_REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "accept-encoding", "expect"}
_RESPONSE_DROP = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}
#: aiohttp's `payload.TOO_LARGE_BYTES_BODY`: bigger request bodies are sent from a BytesIO.
_BYTES_BODY_LIMIT = 1024 * 1024


def request_headers(
    incoming: Mapping[str, str], api_key: str | None, request_id: str
) -> CIMultiDict[str]:
    """Headers for the upstream request: the client's, minus hop-by-hop, with our key and id."""
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in incoming.items() if name.lower() not in _REQUEST_DROP
    )
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    headers["X-Request-ID"] = request_id
    return headers


def response_headers(upstream: CIMultiDictProxy[str], request_id: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in upstream.items() if name.lower() not in _RESPONSE_DROP
    )
    headers["X-Request-ID"] = request_id
    return headers


@dataclass(frozen=True)
class UpstreamConfig:
    base_url: str
    api_key: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    max_connections: int = 1000


class Upstream:
    """A pooled client for the model API, opened and closed with the application."""

    def __init__(self, config: UpstreamConfig, metrics: Metrics) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.metrics = metrics
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.config.connect_timeout, sock_read=self.config.read_timeout
        )
        connector = aiohttp.TCPConnector(limit=self.config.max_connections, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            timeout=timeout, connector=connector, auto_decompress=True, raise_for_status=False
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "Upstream.start() was not awaited"
        return self._session

    async def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None = None,
        query: str = "",
    ) -> aiohttp.ClientResponse:
        """Send one request; the caller reads (or streams) and releases the response."""
        url = f"{self.base_url}/{path}" + (f"?{query}" if query else "")
        # aiohttp warns (ResourceWarning) about a bytes body over 1 MiB; a stream it is not.
        data = io.BytesIO(body) if body is not None and len(body) > _BYTES_BODY_LIMIT else body
        with self._mapped_errors("did not answer in time", "failed"):
            try:
                return await self.session.request(method, url, headers=headers, data=data)
            except aiohttp.ClientConnectorError as exc:
                self.metrics.upstream_errors.labels("refused").inc()
                raise UpstreamUnavailable(f"Cannot connect to the upstream model API: {exc.strerror or exc}") from None

    async def read_body(self, response: aiohttp.ClientResponse, limit: int) -> bytes:
        """Read a whole response body, bounded; a body over `limit` is refused, not truncated."""
        try:
            with self._mapped_errors("stopped sending its response", "broke off"):
                chunks = []
                size = 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > limit:
                        self.metrics.upstream_errors.labels("too_large").inc()
                        raise UpstreamUnavailable(f"The upstream response exceeds {limit} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        finally:
            response.release()

    @contextlib.contextmanager
    def _mapped_errors(self, timed_out: str, failed: str) -> Iterator[None]:
        """Client-side failures as 504 (timeout) or 502 (anything else), counted by kind."""
        try:
            yield
        except (TimeoutError, aiohttp.ServerTimeoutError):
            self.metrics.upstream_errors.labels("timeout").inc()
            raise UpstreamTimeout(f"The upstream model API {timed_out}") from None
        except aiohttp.ClientError as exc:
            self.metrics.upstream_errors.labels("protocol").inc()
            raise UpstreamUnavailable(f"The upstream model API {failed}: {type(exc).__name__}") from None
