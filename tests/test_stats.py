"""The last day's statistics per channel, and the page that charts them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.db import get_db
from app.models import AlertRecord, Delivery, DeliveryAttempt, DeliveryStatus, User, utcnow
from app.stats import WINDOW, Bar, ChannelStats, Panel, channel_stats, panels
from tests.conftest import AuthActions

pytestmark = pytest.mark.storage
SENT, FAILED = DeliveryStatus.SENT, DeliveryStatus.FAILED

# (channel, outcome, latency in ms, hours ago): one attempt per delivery
HISTORY = [
    ("recording", SENT, 100.0, 1),
    ("recording", SENT, 200.0, 2),
    ("recording", SENT, 300.0, 23),
    ("recording", FAILED, 50.0, 3),
    ("failing", FAILED, 20.0, 1),
    ("failing", FAILED, 30.0, 1),
    ("retired", SENT, 400.0, 5),  # a channel no longer configured
    *[("recording", FAILED, 10.0, 30)] * 5,  # older than a day: left out
]


@pytest.fixture(name="history")
async def _history(app: Quart) -> None:
    now = utcnow()
    alerts = []
    for channel, outcome, latency, hours in HISTORY:
        when = now - timedelta(hours=hours)
        attempt = DeliveryAttempt(
            number=1,
            outcome=outcome,
            started_at=when,
            finished_at=when,
            latency_ms=latency,
            worker="test",
        )
        delivery = Delivery(
            channel=channel,
            status=outcome,
            attempts=1,
            finished_at=when,
            latency_ms=latency,
            history=[attempt],
        )
        alerts.append(
            AlertRecord(message="m", severity="info", source="api", deliveries=[delivery])
        )
    async with get_db(app).session() as session:
        session.add_all(alerts)
        await session.commit()


async def test_stats_count_the_last_day_per_channel(app: Quart, history: None) -> None:
    async with get_db(app).session() as session:
        stats = await channel_stats(session, ["recording", "failing"], utcnow() - WINDOW)
    assert stats == [
        ChannelStats("recording", sent=3, failed=1, attempts=4, mean_latency_ms=200.0,
                     max_latency_ms=300.0),
        ChannelStats("failing", sent=0, failed=2, attempts=2),
        ChannelStats("retired", sent=1, failed=0, attempts=1, mean_latency_ms=400.0,
                     max_latency_ms=400.0),
    ]  # fmt: skip
    assert [s.success_rate for s in stats] == [0.75, 0.0, 1.0]


def test_a_channel_without_finished_deliveries_has_no_rate_and_empty_bars() -> None:
    assert ChannelStats("quiet").success_rate is None
    rates, latencies = panels([ChannelStats("quiet")])
    assert rates.bars == [Bar("quiet", 0.0, "\u2013", "rate-poor")]
    assert latencies.bars == [Bar("quiet", 0.0, "\u2013", "latency")]


BAR = re.compile(r'<rect class="bar ([^"]+)"[^>]* width="([\d.]+)"[^>]*/>\s*<text[^>]*>([^<]*)<')


def bar(page: str, channel: str, measure: str) -> tuple[str, float, str]:
    """The class, the width and the figure of one channel's bar in one chart."""
    chart = page.split(f'<svg class="chart" data-measure="{measure}"', 1)[1].split("</svg>")[0]
    group = chart.split(f'<g data-channel="{channel}">', 1)[1].split("</g>", 1)[0]
    found = BAR.search(group)
    assert found, f"no {measure} bar for {channel}"
    return found.group(1), float(found.group(2)), found.group(3)


async def test_the_stats_page_charts_rates_and_latencies_as_svg(
    auth: AuthActions, client: Client, user: User, history: None
) -> None:
    await auth.login()
    response = await client.get("/stats")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert '<svg class="chart"' in page
    assert "<script" not in page.split("</head>", 1)[1]  # the chart needs no script
    width = Panel.BAR_WIDTH
    # success rate: a share of the panel; latency: against the slowest mean (retired, 400 ms)
    assert bar(page, "recording", "success-rate") == ("rate-poor", 0.75 * width, "75.0 %")
    assert bar(page, "recording", "latency") == ("latency", 0.5 * width, "200 ms")
    assert bar(page, "failing", "success-rate") == ("rate-poor", 0.0, "0.0 %")
    assert bar(page, "failing", "latency") == ("latency", 0.0, "\u2013")
    assert bar(page, "retired", "success-rate") == ("rate-good", width, "100.0 %")
    assert bar(page, "retired", "latency") == ("latency", width, "400 ms")
    assert "Mean latency (full bar: 400 ms)" in page
    row = page.split('<tr data-channel="recording">', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells == ["recording", "3", "1", "75.0 %", "4", "200 ms", "300 ms"]


async def test_the_stats_page_says_when_nothing_was_sent(
    auth: AuthActions, client: Client, user: User
) -> None:
    await auth.login()
    page = await (await client.get("/stats")).get_data(as_text=True)
    assert "No delivery was attempted in the last 24 hours." in page
    assert "<svg" not in page


async def test_the_stats_page_needs_a_login(client: Client) -> None:
    response = await client.get("/stats")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/stats"
