"""What live dashboards cost: many open /live websockets on one Herald process.

    .venv/bin/python bench/live.py [--clients 100,400] [--alerts 20] [--idle 10]

Herald is started as ``make run`` starts it (hypercorn, hypercorn.toml, SQLite) with one
webhook channel whose provider (``bench/sink.py``) holds every delivery until released.
For each number of clients it then:

1. sends ``--alerts`` alerts through the API; their deliveries stay "sending";
2. signs in through the login form and opens that many websockets, each following all the
   alerts as the dashboard's list does, and waits until each has the first snapshot;
3. measures Herald's resident memory, and the CPU it spends over ``--idle`` seconds while
   the connections wait (each looks at the database every poll interval);
4. releases the deliveries and measures, per client, how long after the release it had
   every alert as sent and was told the alerts are finished (close code 1000).

Every wait is bounded in time; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throughput import PASSWORD, SECRET, USERNAME, prepare, serving

WAIT_LIMIT = 120.0  # seconds any phase may take, at most


def rss_mib(pid: int) -> float:
    """The resident memory of ``pid`` now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def send_alerts(herald: str, token: str, count: int) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=herald, headers=headers, timeout=30) as client:
        ids = []
        for n in range(count):
            response = await client.post("/api/alerts", json={"message": f"live {n}"})
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


async def session_cookie(herald: str) -> str:
    """Sign in through the login form, as a browser does; the session cookie."""
    async with httpx.AsyncClient(base_url=herald, timeout=30) as client:
        page = (await client.get("/login")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        form = {"username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1)}
        response = await client.post("/login", data=form)
        assert response.status_code == 302, response.status_code
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


class Watcher:
    """One dashboard's websocket: counts the alerts it has seen sent, and when it closed."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, alerts: int) -> None:
        self.socket, self.alerts = socket, alerts
        self.first_snapshot = asyncio.Event()
        self.seen: dict[int, str] = {}
        self.done_at: float | None = None

    async def run(self) -> None:
        async for message in self.socket:
            update = message.json()
            self.seen[update["alert"]] = update["status"]
            if len(self.seen) == self.alerts:
                self.first_snapshot.set()
        if self.socket.close_code == 1000 and set(self.seen.values()) == {"sent"}:
            self.done_at = time.monotonic()


async def round_of(
    herald: str, sink: str, token: str, pid: int, clients: int, args: Any
) -> dict[str, Any]:
    ids = await send_alerts(herald, token, args.alerts)
    cookie = await session_cookie(herald)
    rss_before = rss_mib(pid)
    url = f"{herald.replace('http', 'ws')}/live?view=list&alerts={','.join(map(str, ids))}"
    headers = {"Cookie": cookie, "Origin": herald}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        started = time.monotonic()
        sockets = await asyncio.gather(
            *(http.ws_connect(url, headers=headers) for _ in range(clients))
        )
        watchers = [Watcher(socket, len(ids)) for socket in sockets]
        tasks = [asyncio.create_task(w.run()) for w in watchers]
        async with asyncio.timeout(WAIT_LIMIT):
            await asyncio.gather(*(w.first_snapshot.wait() for w in watchers))
        connected_in = time.monotonic() - started
        rss_open = rss_mib(pid)
        cpu_before = cpu_seconds(pid)
        await asyncio.sleep(args.idle)  # the measurement itself: Herald's CPU while idle
        idle_cpu = (cpu_seconds(pid) - cpu_before) / args.idle
        async with httpx.AsyncClient() as client:
            released = time.monotonic()
            await client.post(f"{sink}/release")
        async with asyncio.timeout(WAIT_LIMIT):
            await asyncio.gather(*tasks)
    finished = sorted(w.done_at - released for w in watchers if w.done_at is not None)
    if len(finished) != clients:
        raise RuntimeError(f"{clients - len(finished)} clients did not see every alert sent")
    return {
        "clients": clients,
        "connected_s": connected_in,
        "rss_before": rss_before,
        "rss_open": rss_open,
        "idle_cpu": idle_cpu,
        "p50_ms": statistics.median(finished) * 1000,
        "max_ms": finished[-1] * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="100,400")
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    print(f"# {' '.join(sys.argv)}  ({os.cpu_count()} CPUs)")
    print(
        "| clients | connected in s | RSS before (MiB) | RSS open (MiB) | idle CPU (cores) "
        "| all sent p50 ms | max ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for clients in map(int, args.clients.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'live.db'}"
            token = await prepare(database_url)
            async with serving(
                database_url,
                CHANNELS='["channels.webhook.WebhookChannel"]',
                WEBHOOK_URLS='["{sink}/held/hook"]',
                WEBHOOK_SECRET=SECRET,
                CHANNEL_TIMEOUT="25",  # longer than the benchmark holds deliveries
                LEASE_SECONDS="60",
            ) as (herald, sink, pid):
                r = await round_of(herald, sink, token, pid, clients, args)
        print(
            f"| {r['clients']} | {r['connected_s']:.1f} | {r['rss_before']:.1f} | "
            f"{r['rss_open']:.1f} | {r['idle_cpu']:.2f} | {r['p50_ms']:.0f} | {r['max_ms']:.0f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
