"""Making what a tool sends fit Herald's alert: labels, title, message, links."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.schemas import LABEL_NAME, MAX_LABEL_VALUE, MAX_LABELS, MAX_MESSAGE, MAX_TITLE
from channels.base import one_line

_LABEL_NAME = re.compile(LABEL_NAME)
WEB_LINK = re.compile(r"https?://[^\s\x00-\x1f\x7f]+")
MAX_LINKS = 10
ELLIPSIS = "\u2026"


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def fitted_labels(labels: Mapping[str, Any]) -> dict[str, str]:
    """The labels Herald keeps: names as Prometheus writes them, values as one line of at
    most MAX_LABEL_VALUE characters, at most MAX_LABELS of them (the first by name)."""
    kept: dict[str, str] = {}
    for name in sorted(labels):
        if len(kept) == MAX_LABELS:
            break
        if isinstance(name, str) and len(name) <= 128 and _LABEL_NAME.fullmatch(name):
            kept[name] = cut(one_line(str(labels[name])), MAX_LABEL_VALUE)
    return kept


def fitted_title(text: str) -> str:
    """A title: one line of at most MAX_TITLE characters."""
    return cut(one_line(text), MAX_TITLE)


def fitted_message(text: str, fallback: str) -> str:
    """A message: ``text`` (or ``fallback`` when blank) without NUL, at most MAX_MESSAGE."""
    text, fallback = text.replace("\x00", ""), fallback.replace("\x00", "")
    return cut(text if text.strip() else fallback, MAX_MESSAGE) or "(no message)"


def web_links(candidates: Iterable[tuple[str, Any]]) -> list[dict[str, str]]:
    """(text, href) pairs kept as links when the href is an http(s) URL (the page renders
    them: nothing else may become an href)."""
    links = []
    for text, href in candidates:
        if isinstance(href, str) and len(href) <= 2048 and WEB_LINK.fullmatch(href):
            links.append({"href": href, "text": fitted_title(str(text)) or href})
    return links[:MAX_LINKS]
