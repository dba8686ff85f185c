"""CPU per request, next to req/s and latency, against Quart's hello world in the same run.

    .venv/bin/python bench/cpu.py [--seconds 5] [--concurrency 32] [--runs 3]
                                  [--servers hypercorn,uvicorn] [--deliveries 3000]
                                  [--queued 100000] [--subscribers 10000]
                                  [--only hello,healthz,channels,post-sqlite,post-postgresql]
                                  [--write docs/benchmarks.md]

Each case starts one server process (hypercorn with ``hypercorn.toml`` as ``make run`` does,
and uvicorn as the README shows it), loads it from ``--concurrency`` clients for
``--seconds``, and reads the server's CPU time (user + system) from ``/proc/PID/stat``
before and after: CPU per request stays steady on a shared machine where req/s does not.
With two CPUs or more, the server runs alone on the first, and the load generator (with the
sink and PostgreSQL) on the others.
The drain cases write ``--deliveries`` alerts straight into the database of an idle server
and time its dispatcher until every delivery is sent (console, or webhook into
``bench/sink.py``), and ``drain-100k`` empties ``--queued`` console deliveries, for the
peak memory (``VmHWM``) of a long queue; ``drain-webpush`` sends one alert to
``--subscribers`` browsers (pushes into the sink), CPU per push. Figures are medians of
``--runs``. Every loop is bounded in time and everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import ROOT, add_subscriptions, prepare, process, wait_http

from app.models import AlertRecord, Delivery, DeliveryStatus
from channels.webpush import new_vapid_keys
from tests.postgres import free_port, fresh_database, postgres_server

TICKS = os.sysconf("SC_CLK_TCK")
CASES = (
    "hello",
    "healthz",
    "channels",
    "post-sqlite",
    "post-postgresql",
    "drain-console",
    "drain-100k",
    "drain-webhook",
    "drain-webpush",
)
ALLOWED_CPUS = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
SERVER_CPU = min(ALLOWED_CPUS, default=0)  # the first CPU this process may use
PINNED = len(ALLOWED_CPUS) >= 2
DRAIN_LIMIT = 300.0  # seconds to wait for a queue to drain, at most
BEGIN, END = "<!-- bench/cpu.py: begin -->", "<!-- bench/cpu.py: end -->"


def peak_rss_mib(pid: int) -> float:
    """The most resident memory the process has had (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def serve_command(name: str, target: str, port: int) -> list[str]:
    """hypercorn as ``make run`` serves Herald, or uvicorn as the README shows it; on a
    CPU of its own when the machine has two (see :func:`keep_off_the_server_cpu`)."""
    if name == "uvicorn":
        options = ["--lifespan", "on", "--ws", "wsproto", "--no-access-log"]
        bind = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        command = [sys.executable, "-m", "uvicorn", target, *bind, *options]
    else:
        bind = ["-c", "hypercorn.toml", "-b", f"127.0.0.1:{port}"]
        command = [sys.executable, "-m", "hypercorn", *bind, target]
    if PINNED:
        return ["taskset", "--cpu-list", str(SERVER_CPU), *command]  # it execs: same pid
    return command


def keep_off_the_server_cpu() -> None:
    """Run this process, and all it starts but the server, on the CPUs the server is not on.

    The server does not then take turns on its CPU with the clients, the sink or PostgreSQL,
    and the scheduler does not move it between CPUs: CPU per request no longer depends on
    who ran when.
    """
    if PINNED:
        os.sched_setaffinity(0, ALLOWED_CPUS - {SERVER_CPU})


@asynccontextmanager
async def server(name: str, target: str, env: dict[str, str]) -> AsyncIterator[tuple[str, int]]:
    """``target`` (module:app) served by the server ``name``; (URL, pid)."""
    port = free_port()
    with process(serve_command(name, target, port), env) as child:
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/healthz" if target == "asgi:app" else url)
        yield url, child.pid


async def load(
    send: Callable[[aiohttp.ClientSession], Awaitable[int]], seconds: float, concurrency: int
) -> list[float]:
    """Latencies (s) of the requests that succeeded from ``concurrency`` clients."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while time.monotonic() < deadline:
                started = time.monotonic()
                if await send(session) < 400:
                    latencies.append(time.monotonic() - started)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def request(
    method: str, url: str, **kwargs: Any
) -> Callable[[aiohttp.ClientSession], Awaitable[int]]:
    async def send(session: aiohttp.ClientSession) -> int:
        async with session.request(method, url, **kwargs) as response:
            await response.read()
            return response.status

    return send


def database_url(kind: str, args: argparse.Namespace, stack: ExitStack) -> str:
    """A fresh database of ``kind`` for one run (one PostgreSQL server for the whole bench)."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{args.directory}/bench-{time.monotonic_ns()}.db"
    if args.postgres is None:
        args.postgres = args.lasting.enter_context(postgres_server())
    return stack.enter_context(fresh_database(args.postgres))


async def measure(case: str, args: argparse.Namespace, stack: ExitStack) -> dict[str, Any]:
    """One run of one case: requests, req/s, p50/p99 ms and CPU ms per request."""
    env = {"HERALD_LOG_LEVEL": "WARNING"}
    target, path, method, kwargs = "asgi:app", "/healthz", "GET", {}
    if case == "hello":
        target, path = "bench.hello:app", "/"
    else:
        kind = "postgresql" if case.endswith("postgresql") else "sqlite"
        url = database_url(kind, args, stack)
        token = await prepare(url)
        env |= {"HERALD_DATABASE_URL": url, "HERALD_API_RATE_LIMIT": "100000000/minute"}
        bearer = {"Authorization": f"Bearer {token}"}
        if case == "channels":
            path, kwargs = "/api/channels", {"headers": bearer}
        elif case.startswith("post"):
            body = {"message": "Disk 99% full", "severity": "critical"}
            path, method, kwargs = "/api/alerts", "POST", {"headers": bearer, "json": body}
    async with server(args.server, target, env) as (base, pid):
        before = cpu_seconds(pid)
        started = time.monotonic()
        latencies = await load(
            request(method, base + path, **kwargs), args.seconds, args.concurrency
        )
        elapsed = time.monotonic() - started
        used, peak = cpu_seconds(pid) - before, peak_rss_mib(pid)
    done = max(len(latencies), 1)
    ordered = sorted(latencies) or [0.0]
    return {
        "requests": len(latencies),
        "req/s": len(latencies) / elapsed,
        "p50 ms": ordered[len(ordered) // 2] * 1000,
        "p99 ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "CPU ms/req": used * 1000 / done,
        "peak RSS MiB": peak,
    }


async def queue_alerts(url: str, count: int, channel: str) -> None:
    """``count`` alerts with one pending delivery each, written straight into the database."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            now = datetime.now(UTC)
            first = await connection.scalar(select(func.coalesce(func.max(AlertRecord.id), 0)))
            ids = range(first + 1, first + count + 1)
            rows = [
                {
                    "id": i,
                    "uid": uuid.uuid4().hex,
                    "title": "",
                    "message": "Disk 99% full",
                    "severity": "critical",
                    "source": "bench",
                    "created_at": now,
                    "last_seen_at": now,
                    "notified_at": now,
                    "labels": {},
                    "links": [],
                }
                for i in ids
            ]
            await connection.execute(insert(AlertRecord), rows)
            await connection.execute(
                insert(Delivery), [{"alert_id": i, "channel": channel} for i in ids]
            )
    finally:
        await engine.dispose()


async def sent_count(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).where(Delivery.status == DeliveryStatus.SENT)
            return int(await connection.scalar(query.select_from(Delivery)) or 0)
    finally:
        await engine.dispose()


async def sink(stack: ExitStack) -> str:
    """``bench/sink.py`` for the length of the run; its URL."""
    port = free_port()
    stack.enter_context(process([sys.executable, "bench/sink.py", str(port)]))
    await wait_http(f"http://127.0.0.1:{port}/count")
    return f"http://127.0.0.1:{port}"


async def drain(case: str, args: argparse.Namespace, stack: ExitStack) -> dict[str, Any]:
    """How fast one process's dispatcher empties a queue of ``--deliveries`` (SQLite); for
    Web Push, one alert to ``--subscribers`` browsers, CPU per push."""
    url = database_url("sqlite", args, stack)
    await prepare(url)
    # polled often, so that the queue is found within 50 ms of being written
    env = {"HERALD_DATABASE_URL": url, "HERALD_LOG_LEVEL": "ERROR"}
    env["HERALD_DISPATCH_POLL_INTERVAL"] = "0.05"
    channel = case.removeprefix("drain-")
    deliveries, units = args.deliveries, args.deliveries
    if channel == "100k":  # memory stays bounded however long the queue is
        channel, deliveries, units = "console", args.queued, args.queued
    if channel == "webhook":
        env |= {
            "HERALD_CHANNELS": '["channels.webhook.WebhookChannel"]',
            "HERALD_WEBHOOK_URLS": f'["{await sink(stack)}/hook"]',
            "HERALD_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        }
    elif channel == "webpush":
        await add_subscriptions(url, await sink(stack), args.subscribers)
        deliveries, units = 1, args.subscribers
        env |= {
            "HERALD_CHANNELS": '["channels.webpush.WebPushChannel"]',
            "HERALD_VAPID_PRIVATE_KEY": new_vapid_keys()[0],
            "HERALD_VAPID_SUBJECT": "mailto:bench@herald.example",
            "HERALD_CHANNEL_TIMEOUT": str(DRAIN_LIMIT - 10),
            "HERALD_LEASE_SECONDS": str(DRAIN_LIMIT),
        }
    async with server(args.server, "asgi:app", env) as (_, pid):
        before, started = cpu_seconds(pid), time.monotonic()
        await queue_alerts(url, deliveries, channel)
        while await sent_count(url) < deliveries:
            if time.monotonic() - started > DRAIN_LIMIT:
                raise RuntimeError(f"{case}: the queue did not drain in {DRAIN_LIMIT} s")
            await asyncio.sleep(0.05)
        elapsed, used = time.monotonic() - started, cpu_seconds(pid) - before
        peak = peak_rss_mib(pid)
    return {
        "requests": units,
        "req/s": units / elapsed,
        "p50 ms": float("nan"),
        "p99 ms": float("nan"),
        "CPU ms/req": used * 1000 / units,
        "peak RSS MiB": peak,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


LATENCIES = ("p50 ms", "p99 ms")  # a drain has none: "-" (NaN is not equal to itself)


def table(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    """A Markdown table, each case also as a ratio of hello world's CPU per request on the
    same server."""
    lines = [
        "| server | case | CPU ms per request or delivery | req/s or deliveries/s | p50 ms "
        "| p99 ms | CPU vs hello world | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (name, case), row in results.items():
        base = results.get((name, "hello"), {}).get("CPU ms/req")
        ratio = f"{row['CPU ms/req'] / base:.1f}x" if base else "-"
        p50, p99 = (f"{row[key]:.1f}" if row[key] == row[key] else "-" for key in LATENCIES)
        lines.append(
            f"| {name} | {case} | {row['CPU ms/req']:.2f} | {row['req/s']:.0f} | {p50} | {p99} "
            f"| {ratio} | {row['peak RSS MiB']:.0f} |"
        )
    return "\n".join(lines)


def write(path: Path, command: str, text: str) -> None:
    """Replace the section between the markers in ``path`` with the results."""
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    where = f"alone on CPU {SERVER_CPU}" if PINNED else "on any CPU"
    section = (
        f"{BEGIN}\n{datetime.now(UTC):%Y-%m-%d}, {machine}, one server process ({where}):\n\n"
        f"```sh\n{command}\n```\n\n{text}\n{END}"
    )
    document = path.read_text()
    if BEGIN in document:
        head, _, rest = document.partition(BEGIN)
        document = head + section + rest.partition(END)[2]
    else:
        document += f"\n## CPU per request\n\n{section}\n"
    path.write_text(document)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--queued", type=int, default=100000)
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--servers", default="hypercorn,uvicorn")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    os.chdir(ROOT)
    keep_off_the_server_cpu()
    results: dict[tuple[str, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="herald-bench-") as directory, ExitStack() as lasting:
        args.directory, args.lasting, args.postgres = directory, lasting, None
        for name in args.servers.split(","):
            args.server = name
            for case in args.only.split(","):
                runs = []
                for _ in range(args.runs):
                    with ExitStack() as stack:
                        run = drain if case.startswith("drain") else measure
                        runs.append(await run(case, args, stack))
                results[name, case] = median_of(runs)
    text = table(results)
    print(text)
    if args.write:
        write(args.write, "make bench   # " + " ".join(sys.argv[1:]), text)


if __name__ == "__main__":
    asyncio.run(main())
