"""Template filters, globals and the context processor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart, render_template_string

from app.templating import duration, format_datetime, pluralize, status_badge, timeago

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=45), "45 seconds ago"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=5, seconds=59), "5 minutes ago"),
        (timedelta(hours=2), "2 hours ago"),
        (timedelta(days=1, hours=3), "1 day ago"),
        (timedelta(days=-2), "in 2 days"),
    ],
)
def test_timeago(delta: timedelta, expected: str) -> None:
    assert timeago(NOW - delta, now=NOW) == expected


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (None, "\u2013"),
        (0.4, "0 ms"),
        (850, "850 ms"),
        (1234, "1.2 s"),
        (125_000, "2 min 5 s"),
        (120_000, "2 min"),
    ],
)
def test_duration(ms: float | None, expected: str) -> None:
    assert duration(ms) == expected


@pytest.mark.parametrize(
    ("count", "args", "expected"),
    [
        (1, ("channel",), "1 channel"),
        (0, ("channel",), "0 channels"),
        (3, ("delivery", "deliveries"), "3 deliveries"),
    ],
)
def test_pluralize(count: int, args: tuple[str, ...], expected: str) -> None:
    assert pluralize(count, *args) == expected


def test_datetime_filter_formats_in_utc() -> None:
    assert format_datetime(NOW) == "2026-11-21 12:00:00 UTC"
    assert format_datetime(None) == ""


def test_status_badge_escapes_unknown_values() -> None:
    assert str(status_badge("sent")) == '<span class="badge badge-sent">sent</span>'
    assert str(status_badge("<b>")) == '<span class="badge badge-unknown">&lt;b&gt;</span>'


async def test_filters_globals_and_context_are_available_in_templates(app: Quart) -> None:
    source = (
        "{{ app_name }}|{{ current_year }}|{{ current_user }}|{{ 2|pluralize('alert') }}|"
        "{{ 1500|duration }}|{{ status_badge('failed') }}|{{ csrf_token()|length > 20 }}"
    )
    async with app.test_request_context("/"):
        rendered = await render_template_string(source)
    year = datetime.now(UTC).year
    assert rendered == (
        f'Herald|{year}|None|2 alerts|1.5 s|<span class="badge badge-failed">failed</span>|True'
    )
