"""What a provider that answers with hundreds of megabytes costs Herald.

python bench/huge_answers.py [--megabytes 300] [--alerts 5]

Herald (as ``make run`` serves it, SQLite) delivers alerts through the webhook channel to
``bench/sink.py``, which answers each POST with ``--megabytes`` MiB of body. Reported: the
Herald process's peak RSS before and after, the time the deliveries took, and the slowest
``/healthz`` answer meanwhile (the event loop stays free when the body is not read).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throughput import SECRET, peak_rss_kib, prepare, serving

LIMIT = 120.0  # seconds the deliveries may take, at most


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=300)
    parser.add_argument("--alerts", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database_url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        token = await prepare(database_url)
        async with serving(
            database_url,
            CHANNELS='["channels.webhook.WebhookChannel"]',
            WEBHOOK_URLS=f'["{{sink}}/huge/{args.megabytes}"]',
            WEBHOOK_SECRET=SECRET,
        ) as (herald, _sink, pid):
            before = peak_rss_kib(pid)
            headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=30"}
            async with httpx.AsyncClient(base_url=herald, headers=headers, timeout=60) as client:
                slowest = 0.0
                started = time.monotonic()
                sends = [
                    asyncio.create_task(client.post("/api/alerts", json={"message": f"{n}"}))
                    for n in range(args.alerts)
                ]
                while not all(task.done() for task in sends):
                    if time.monotonic() - started > LIMIT:
                        raise RuntimeError("the deliveries did not finish in time")
                    probe = time.monotonic()
                    await client.get("/healthz")
                    slowest = max(slowest, time.monotonic() - probe)
                    await asyncio.sleep(0.05)
                took = time.monotonic() - started
                statuses = [(await task).json()["status"] for task in sends]
            after = peak_rss_kib(pid)
    print(
        json.dumps(
            {
                "megabytes_per_answer": args.megabytes,
                "alerts": args.alerts,
                "statuses": statuses,
                "seconds": round(took, 2),
                "slowest_healthz_ms": round(slowest * 1000, 1),
                "rss_before_mib": round(before / 1024, 1),
                "rss_peak_mib": round(after / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
