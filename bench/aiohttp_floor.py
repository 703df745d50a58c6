"""The aiohttp floor: what aiohttp's web framework alone costs per request on these cores.

The same aiohttp and uvloop as this server, one `web.Application` with one route per path the
scenarios use: each handler reads the whole body and answers a fixed 200 body, with no middleware,
auth, decoding or model. Between the HTTP floor (bench/floor_server.py: bare asyncio) and this
server, it shows how much of a request's cost is the framework and how much is the server's own
work. WORKERS processes share PORT through SO_REUSEPORT, like the real server's.

    PORT=5006 WORKERS=2 python3 bench/aiohttp_floor.py
"""

from __future__ import annotations

import asyncio
import os
import signal

import uvloop
from aiohttp import web
from floor_server import run_workers

ANSWER = b"[0]"


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=ANSWER, content_type="application/json")


async def serve(port: int) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> int:
    port = int(os.environ.get("PORT", "5006"))
    return run_workers(lambda port: uvloop.run(serve(port)), port, int(os.environ.get("WORKERS", "1")))


if __name__ == "__main__":
    raise SystemExit(main())
