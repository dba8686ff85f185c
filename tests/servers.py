"""Real servers on loopback ports for end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Quart, request

from app.auth import create_token
from app.db import get_db


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


@dataclass(frozen=True)
class Captured:
    """One request as a provider received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """The body as an HTML form."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What a provider answers; ``hang`` means it never does."""

    status: int = 200
    body: Any = ""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    delay: float = 0.0  # seconds the provider takes to answer


HANG = Reply(hang=True)
Check = Callable[[Captured], "Reply | None"]


class ProviderSink:
    """A provider's HTTP API on a loopback port: it checks each request with ``check`` (as
    the real provider checks auth and fields), records it, and answers with the next
    scripted :class:`Reply`, or ``default`` once the script runs out."""

    def __init__(self, default: Reply, check: Check | None = None) -> None:
        self.default = default
        self.check = check
        self.script: deque[Reply] = deque()
        self.received: list[Captured] = []
        self.url = ""
        self._release = asyncio.Event()
        self.app = Quart("sink")
        self.app.add_url_rule(
            "/<path:path>", "catch", self._handle, methods=["GET", "POST", "PUT", "DELETE"]
        )

    async def _handle(self, path: str) -> Any:
        body = await request.get_data(as_text=False)
        assert isinstance(body, bytes)
        headers = {k.lower(): v for k, v in request.headers.items()}
        captured = Captured(request.method, "/" + path, headers, body)
        refusal = self.check(captured) if self.check else None
        if refusal is not None:
            self.received.append(captured)
            return self._respond(refusal)
        self.received.append(captured)
        reply = self.script.popleft() if self.script else self.default
        if reply.hang:
            await self._release.wait()
            return "", 504
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return self._respond(reply)

    @staticmethod
    def _respond(reply: Reply) -> Any:
        body = json.dumps(reply.body) if isinstance(reply.body, dict | list) else reply.body
        headers = {"Content-Type": "application/json"} if isinstance(reply.body, dict) else {}
        return body, reply.status, {**headers, **reply.headers}

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[ProviderSink]:
        """Serve on a free loopback port; ``self.url`` is the base URL meanwhile."""
        async with hypercorn_server(self.app) as url:
            self.url = url
            try:
                yield self
            finally:
                self._release.set()  # let hanging requests end so the server can stop


ROOT = Path(__file__).resolve().parent.parent


HOG = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def cpu_hogs(count: int, seconds: float = 300) -> Iterator[None]:
    """``count`` processes spinning on the CPU for the length of a block (``seconds`` at most,
    should the block outlive its test): a machine busy with other work."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", HOG.format(seconds=seconds)]) for _ in range(count)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


async def herald_env(settings: dict[str, Any], **extra: str) -> tuple[dict[str, str], str]:
    """Environment for a Herald subprocess on the test's (migrated) database, with ``extra``
    settings, and an API token of a user of that database."""
    from tests.conftest import add_user, migrated_app  # conftest's helpers need the app

    app = await migrated_app(settings)
    async with get_db(app).connected() as database, database.session() as session:
        token = await create_token(session, await add_user(app, "ops"), "subprocess")
    env = {
        "HERALD_DATABASE_URL": settings["DATABASE_URL"],
        "HERALD_API_RATE_LIMIT": "100000/minute",
        **extra,
    }
    return env, token


async def wait_until(check: Callable[[], Any], seconds: float, what: str) -> None:
    """Poll ``check`` (sync or async) until it is true, for ``seconds`` at most."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def run_hypercorn(env: dict[str, str], *extra: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``python -m app.serve -c hypercorn.toml asgi:app`` (hypercorn) from the
    repository, as ``make run`` does."""
    command = [sys.executable, "-m", "app.serve", "-c", "hypercorn.toml", *extra, "asgi:app"]
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, text=True, **kwargs)


def run_uvicorn(env: dict[str, str], fd: int, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``uvicorn asgi:app`` on an inherited socket, as the README shows it."""
    command = [sys.executable, "-m", "uvicorn", "asgi:app", "--fd", str(fd), *UVICORN_OPTIONS]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, text=True, **kwargs)


UVICORN_OPTIONS = ("--lifespan", "on", "--ws", "wsproto", "--timeout-graceful-shutdown", "15")


class HeraldProcess:
    """Herald under hypercorn (or uvicorn) in a subprocess, on a free loopback port; logs go
    to a file."""

    def __init__(self, env: dict[str, str], log: Path, server: str = "hypercorn") -> None:
        self.env = env
        self.log = log
        self.server = server
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> HeraldProcess:
        """Start serving; requests wait in the socket's backlog until the app is up."""
        sock = listening_socket()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with self.log.open("a") as log:
            fd, streams = sock.fileno(), {"stderr": log, "stdout": log}
            if self.server == "uvicorn":
                self.process = run_uvicorn(self.env, fd, pass_fds=(fd,), **streams)
            else:
                self.process = run_hypercorn(
                    self.env, "--bind", f"fd://{fd}", pass_fds=(fd,), **streams
                )
        sock.close()
        return self

    @contextmanager
    def running(self) -> Iterator[HeraldProcess]:
        """Serve for the length of a block (for synchronous tests); it must stop cleanly."""
        self.start().wait_ready()
        try:
            yield self
        finally:
            assert self.terminate() == 0

    def wait_ready(self, seconds: float = 60) -> None:
        """Poll ``/healthz`` until it answers (for synchronous tests)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Herald did not answer within {seconds} s; see {self.log}")

    async def ready(self, seconds: float = 60) -> None:
        """Wait until ``/healthz`` answers; signals sent before then find no handler yet."""
        async with httpx.AsyncClient(timeout=5) as client, asyncio.timeout(seconds):
            while True:
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    def terminate(self) -> int:
        """SIGTERM, and wait for the exit code (for synchronous tests)."""
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(60)

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the exit code, leaving the event loop free meanwhile
        (the sinks this process is talking to run on it)."""
        assert self.process is not None
        self.process.send_signal(sig)
        return await asyncio.to_thread(self.process.wait, 60)
