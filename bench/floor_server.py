"""The HTTP floor: the least a Python server on these cores can do per request.

asyncio + uvloop, one Protocol per connection: it finds each request's header end, reads
Content-Length, counts the body's bytes without copying them, and answers a fixed 200 body. No
routing, no auth, no parsing of the body: what is left is the cost of the loop, the sockets and HTTP
framing. bench/run_bench.py prints every scenario's fraction of this floor. WORKERS processes share
PORT through SO_REUSEPORT, like the real server's.

    PORT=5003 WORKERS=2 python3 bench/floor_server.py
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable
from typing import cast

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[0]"


class FloorProtocol(asyncio.Protocol):
    __slots__ = ("_buffer", "_remaining", "_transport")

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0  # body bytes of the current request still to come
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport implements asyncio.Transport without deriving from it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        view = memoryview(data)
        while view:
            if self._remaining:
                taken = min(self._remaining, len(view))
                self._remaining -= taken
                view = view[taken:]
                if not self._remaining:
                    transport.write(ANSWER)
                continue
            # Only header bytes are kept (a few hundred); bodies are counted, never copied.
            self._buffer += bytes(view)
            view = memoryview(b"")
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = self._buffer[:end], self._buffer[end + 4 :]
            self._buffer = b""
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length == 0:
                transport.write(ANSWER)
            self._remaining = length
            view = memoryview(rest)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    server = await loop.create_server(FloorProtocol, sock=sock, backlog=1024)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def run(port: int) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(port))
    else:
        uvloop.run(serve(port))


def run_workers(serve: Callable[[int], None], port: int, workers: int) -> int:
    """serve(port) in `workers` processes sharing the port (SO_REUSEPORT), until SIGTERM."""
    children = []
    for _ in range(workers - 1):
        pid = os.fork()
        if pid == 0:
            serve(port)
            os._exit(0)
        children.append(pid)
    serve(port)  # until SIGTERM
    for pid in children:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    return 0


def main() -> int:
    return run_workers(run, int(os.environ.get("PORT", "5003")), int(os.environ.get("WORKERS", "1")))


if __name__ == "__main__":
    raise SystemExit(main())
