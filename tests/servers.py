"""Real servers on loopback ports for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Quart


def listening_socket() -> socket.socket:
    """A TCP socket listening on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@asynccontextmanager
async def hypercorn_server(app: Quart) -> AsyncIterator[str]:
    """Serve ``app`` with hypercorn on a port-0 loopback socket; yield its base URL."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    config = HypercornConfig()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]  # hypercorn owns and closes the copy
    config.graceful_timeout = 5
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await server
        sock.close()
