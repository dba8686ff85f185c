"""A provider stand-in for benchmarks: answers every POST with 204 and counts them.

python bench/sink.py PORT        # GET /count returns the number of POSTs so far

A POST to a path under /held/ is answered only once something POSTs /release, so that a
benchmark can keep deliveries in flight for as long as it needs. A POST to /huge/N is
answered 200 with N MiB of body, sent as fast as the client reads it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

received = 0
released = asyncio.Event()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Plain ASGI: as little work per request as possible, so Herald is what is measured."""
    global received
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "POST" and scope["path"] == "/release":
        released.set()
    elif scope["method"] == "POST" and scope["path"].startswith("/held/"):
        await released.wait()
    if scope["method"] == "POST" and scope["path"].startswith("/huge/"):
        received += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"x" * (1 << 20)
        for _ in range(int(scope["path"].rsplit("/", 1)[1])):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["method"] == "POST":
        received += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = str(received).encode()
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{int(sys.argv[1])}"]
    config.accesslog = None
    config.errorlog = None
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
