"""The floor for an aiohttp proxy: relay every request to the upstream, guard nothing.

One `ClientSession` (keep-alive pool), request body read whole and forwarded, response
streamed back chunk by chunk as it arrives (`iter_any`), so SSE passes through unbuffered.

    python bench/bare_relay.py --port 9001 --upstream http://127.0.0.1:9000
"""

from __future__ import annotations

import os
import sys

# bench/ goes last on the import path, so no script here can shadow a standard module:
# search bench/ last (it still finds `_common`).
if os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.append(sys.path.pop(0))

import argparse

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


def create_app(upstream: str) -> web.Application:
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[session_key] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)
        yield
        await app[session_key].close()

    async def relay(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        async with app[session_key].request(request.method, upstream + request.path_qs, headers=headers,
                                            data=body) as upstream_response:
            out_headers = {k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_BY_HOP}
            if not upstream_response.headers.get("Content-Type", "").startswith("text/event-stream"):
                return web.Response(status=upstream_response.status, body=await upstream_response.read(),
                                    headers=out_headers)
            response = web.StreamResponse(status=upstream_response.status, headers=out_headers)
            await response.prepare(request)
            async for chunk in upstream_response.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL without /v1, e.g. http://127.0.0.1:9000")
    args = parser.parse_args()
    web.run_app(create_app(args.upstream.rstrip("/")), host="127.0.0.1", port=args.port, print=None,
                access_log=None, backlog=1024)
