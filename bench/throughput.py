"""Herald's throughput and memory, measured on real processes over loopback.

    .venv/bin/python bench/throughput.py [--seconds 10] [--concurrency 32]
                                         [--backends sqlite,postgresql] [--subscribers 10000]

For each database it starts Herald exactly as ``make run`` does (hypercorn, hypercorn.toml)
with one webhook channel pointing at ``bench/sink.py`` in another process, then:

1. accepted alerts/s: POST /api/alerts from ``--concurrency`` clients for ``--seconds``;
2. end-to-end deliveries/s: from the first POST until the sink has every delivery;
3. peak memory (VmHWM) of the Herald process before and after one alert fans out to
   ``--subscribers`` Web Push subscriptions (SQLite only).

Every loop is bounded in time; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.auth import create_token, create_user  # noqa: E402
from app.db import get_db  # noqa: E402
from app.models import PushSubscriptionRecord  # noqa: E402
from channels.webpush import new_vapid_keys  # noqa: E402
from tests.postgres import free_port, fresh_database, postgres_server  # noqa: E402

USERNAME, PASSWORD = "bench", "bench-password"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DRAIN_LIMIT = 300.0  # seconds to wait for the last deliveries, at most


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@contextmanager
def process(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` for the length of a block."""
    child = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield child
    finally:
        child.terminate()
        child.wait(timeout=60)


@asynccontextmanager
async def serving(database_url: str, **settings: str) -> AsyncIterator[tuple[str, str, int]]:
    """Start ``bench/sink.py`` and Herald as ``make run`` serves it, with the database and
    ``settings`` (``HERALD_`` names without the prefix; ``{sink}`` in a value stands for the
    sink's URL); yield Herald's URL, the sink's URL and Herald's process id."""
    sink_port, herald_port = free_port(), free_port()
    sink, herald = f"http://127.0.0.1:{sink_port}", f"http://127.0.0.1:{herald_port}"
    env = {"HERALD_DATABASE_URL": database_url, "HERALD_LOG_LEVEL": "WARNING"}
    env |= {f"HERALD_{name}": value.replace("{sink}", sink) for name, value in settings.items()}
    hypercorn = [sys.executable, "-m", "hypercorn", "-c", "hypercorn.toml"]
    with (
        process([sys.executable, "bench/sink.py", str(sink_port)]),
        process([*hypercorn, "-b", f"127.0.0.1:{herald_port}", "asgi:app"], env) as server,
    ):
        await wait_http(f"{sink}/count")
        await wait_http(f"{herald}/healthz")
        yield herald, sink, server.pid


async def prepare(database_url: str) -> str:
    """Migrate the database and return a fresh API token."""
    app = create_app({"DATABASE_URL": database_url}, env="testing")
    async with get_db(app).connected() as database:
        await database.migrate()
        async with database.session() as session:
            user = await create_user(session, USERNAME, PASSWORD, is_admin=True)
            return await create_token(session, user, "bench")


async def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


async def sink_count(client: httpx.AsyncClient, sink: str) -> int:
    return int((await client.get(f"{sink}/count")).text)


async def load(herald: str, token: str, seconds: float, concurrency: int) -> list[float]:
    """POST alerts for ``seconds`` from ``concurrency`` clients; latencies of accepted ones."""
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=herald, headers=headers, limits=limits, timeout=30) as c:

        async def client_loop(worker: int) -> None:
            n = 0
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = await c.post("/api/alerts", json={"message": f"load {worker}-{n}"})
                if response.status_code == 202:
                    latencies.append(time.perf_counter() - started)
                n += 1

        await asyncio.gather(*(client_loop(w) for w in range(concurrency)))
    return latencies


async def throughput(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    token = await prepare(database_url)
    async with serving(
        database_url,
        CHANNELS='["channels.webhook.WebhookChannel"]',
        WEBHOOK_URLS='["{sink}/hook"]',
        WEBHOOK_SECRET=SECRET,
        API_RATE_LIMIT="1000000/minute",
    ) as (herald, sink, _):
        started = time.monotonic()
        latencies = await load(herald, token, args.seconds, args.concurrency)
        accepted_in = time.monotonic() - started
        async with httpx.AsyncClient() as client:
            while await sink_count(client, sink) < len(latencies):
                if time.monotonic() - started > args.seconds + DRAIN_LIMIT:
                    raise RuntimeError("deliveries did not drain in time")
                await asyncio.sleep(0.05)
        delivered_in = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "accepted": len(latencies),
        "accepted_per_s": len(latencies) / accepted_in,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "delivered_per_s": len(latencies) / delivered_in,
        "drain_s": delivered_in - accepted_in,
    }


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


async def add_subscriptions(database_url: str, endpoint: str, count: int) -> None:
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(min(count, 100))]
    points = [
        k.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        for k in keys
    ]
    app = create_app({"DATABASE_URL": database_url}, env="testing")
    async with get_db(app).connected() as database, database.session() as session:
        session.add_all(
            PushSubscriptionRecord(
                user_id=1,
                endpoint=f"{endpoint}/push/{n}",
                p256dh=b64url(points[n % len(points)]),
                auth=b64url(os.urandom(16)),
            )
            for n in range(count)
        )
        await session.commit()


async def fan_out_memory(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    token = await prepare(database_url)
    private, _ = new_vapid_keys()
    async with serving(
        database_url,
        CHANNELS='["channels.webpush.WebPushChannel"]',
        VAPID_PRIVATE_KEY=private,
        VAPID_SUBJECT="mailto:bench@herald.example",
        CHANNEL_TIMEOUT="600",
        LEASE_SECONDS="900",
    ) as (herald, sink, pid):
        await add_subscriptions(database_url, sink, args.subscribers)
        before = peak_rss_kib(pid)
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=30"}
        async with httpx.AsyncClient(base_url=herald, headers=headers, timeout=60) as client:
            alert = (await client.post("/api/alerts", json={"message": "fan out"})).json()
            while (await client.get(f"/api/alerts/{alert['id']}")).json()["status"] not in (
                "sent",
                "failed",
                "partial",
            ):
                if time.monotonic() - started > DRAIN_LIMIT:
                    raise RuntimeError("the fan-out did not finish in time")
                await asyncio.sleep(0.2)
            pushed = await sink_count(client, sink)
        took = time.monotonic() - started
        after = peak_rss_kib(pid)
    return {
        "subscribers": args.subscribers,
        "pushed": pushed,
        "seconds": took,
        "rss_before_mib": before / 1024,
        "rss_peak_mib": after / 1024,
    }


@contextmanager
def database(kind: str, directory: Path, stack: ExitStack) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'bench-{time.monotonic_ns()}.db'}"
        return
    base = stack.enter_context(postgres_server())
    with fresh_database(base) as url:
        yield url


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--subscribers", type=int, default=10_000)
    args = parser.parse_args()
    print(f"# {' '.join(sys.argv)}  ({os.cpu_count()} CPUs)")
    print("| database | accepted | accepted/s | p50 ms | p99 ms | delivered/s | drain s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        for kind in args.backends.split(","):
            with database(kind, Path(tmp), stack) as url:
                r = await throughput(url, args)
            print(
                f"| {kind} | {r['accepted']} | {r['accepted_per_s']:.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['delivered_per_s']:.0f} | {r['drain_s']:.1f} |"
            )
        if args.subscribers:
            with database("sqlite", Path(tmp), stack) as url:
                m = await fan_out_memory(url, args)
            print()
            print("| subscribers | pushed | seconds | RSS before (MiB) | peak RSS (MiB) |")
            print("| --- | --- | --- | --- | --- |")
            print(
                f"| {m['subscribers']} | {m['pushed']} | {m['seconds']:.1f} | "
                f"{m['rss_before_mib']:.1f} | {m['rss_peak_mib']:.1f} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
