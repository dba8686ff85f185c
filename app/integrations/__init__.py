"""Alerts from the tools teams already run, each in its own payload: Prometheus Alertmanager
and Grafana webhooks (``/api/integrations/...``), PagerDuty's Events API v2
(``/v2/enqueue``) and ntfy's publish (``/ntfy/<topic>``).

Every endpoint authenticates with a Herald API token, ignores fields it does not know, and
maps what it gets onto the lifecycle (app/lifecycle.py). What a tool sends is made to fit
rather than refused where that loses nothing (a label value with a line break, a summary
too long): a 4xx tells these tools never to retry, so only what cannot be understood at all
is refused, and only a real server problem is a 5xx.
"""

from __future__ import annotations

from quart import Quart

from app.integrations import alertmanager, ntfy, pagerduty


def init_app(app: Quart) -> None:
    """Register every integration's routes."""
    app.register_blueprint(alertmanager.bp)
    app.register_blueprint(pagerduty.bp)
    app.register_blueprint(ntfy.bp)
