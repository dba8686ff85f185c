"""Prometheus Alertmanager's webhook (``version: "4"``) and Grafana's webhook contact point,
which sends the same ``alerts[]`` with more fields.

Each entry of ``alerts[]`` fires or resolves the Herald alert whose dedup key is its
``fingerprint``. Title: ``alertname`` (with ``instance``); message: the ``summary``
annotation, else ``description``; severity from the ``severity`` label.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from quart import g
from quart.typing import ResponseReturnValue
from quart_schema import validate_request, validate_response

from app.alerts import channels_for
from app.api import json_api_blueprint
from app.channelset import get_channels
from app.db import db_session
from app.dispatch import get_dispatcher
from app.integrations.fit import fitted_labels, fitted_message, fitted_title, web_links
from app.lifecycle import Trigger, get_policy, open_alert_id, resolve, trigger
from app.openapi import document_errors

bp = json_api_blueprint("integrations", __name__, "/api/integrations")

SEVERITIES = {
    "critical": "critical",
    "page": "critical",
    "error": "critical",
    "warning": "warning",
    "info": "info",
    "none": "info",
}
MAX_ALERTS = 1000


class WebhookAlert(BaseModel):
    """One entry of ``alerts[]``; Grafana's extra fields are kept as links."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    fingerprint: str = Field(default="", max_length=255)
    generatorURL: str = ""
    dashboardURL: str = ""
    panelURL: str = ""
    silenceURL: str = ""


class WebhookIn(BaseModel):
    """Alertmanager's (and Grafana's) webhook body; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    alerts: list[WebhookAlert] = Field(min_length=1, max_length=MAX_ALERTS)


class HandledOut(BaseModel):
    """What became of one entry."""

    id: int | None
    dedup_key: str
    state: str


class HandledList(BaseModel):
    """What became of each entry of ``alerts[]``, in order."""

    alerts: list[HandledOut]


def dedup_key(alert: WebhookAlert) -> str:
    """The fingerprint; without one, a digest of the labels (stable for one alert)."""
    if alert.fingerprint.strip():
        return fitted_title(alert.fingerprint)
    labels = json.dumps(alert.labels, sort_keys=True).encode()
    return hashlib.sha256(labels).hexdigest()[:16]


def as_trigger(alert: WebhookAlert, source: str) -> Trigger:
    """The Herald alert an entry fires."""
    labels = fitted_labels(alert.labels)
    name = alert.labels.get("alertname", "") or "Alert"
    instance = alert.labels.get("instance", "")
    title = fitted_title(f"{name} on {instance}" if instance else name)
    annotations = alert.annotations
    message = annotations.get("summary", "") or annotations.get("description", "")
    severity = SEVERITIES.get(alert.labels.get("severity", "").lower(), "warning")
    links = web_links(
        [
            ("Source", alert.generatorURL),
            ("Dashboard", alert.dashboardURL),
            ("Panel", alert.panelURL),
            ("Silence in Grafana", alert.silenceURL),
        ]
    )
    return Trigger(
        message=fitted_message(message, title),
        title=title,
        severity=severity,
        channels=channels_for(get_channels(), severity),
        source=source,
        dedup_key=dedup_key(alert),
        labels=labels,
        links=links,
        created_by_id=g.user.id,
    )


async def handle(alert: WebhookAlert, source: str) -> dict[str, Any]:
    """Fire or resolve the Herald alert of one entry; one transaction."""
    session = db_session()
    if alert.status == "resolved":
        key = dedup_key(alert)
        alert_id = await open_alert_id(session, key)
        if alert_id is not None:
            await resolve(session, alert_id, get_policy())
        return {"id": alert_id, "dedup_key": key, "state": "resolved"}
    record, _ = await trigger(session, as_trigger(alert, source), get_policy())
    return {"id": record.id, "dedup_key": record.dedup_key or "", "state": record.state}


async def handle_all(data: WebhookIn, source: str) -> ResponseReturnValue:
    """Every entry in order; then wake the dispatcher once."""
    handled = [await handle(alert, source) for alert in data.alerts]
    get_dispatcher().notify()
    return {"alerts": handled}


@bp.post("/alertmanager")
@validate_request(WebhookIn)
@validate_response(HandledList)
@document_errors(400, 413, 415, 422)
async def alertmanager(data: WebhookIn) -> ResponseReturnValue:
    """Prometheus Alertmanager's webhook receiver (``version: "4"``)."""
    return await handle_all(data, "alertmanager")


@bp.post("/grafana")
@validate_request(WebhookIn)
@validate_response(HandledList)
@document_errors(400, 413, 415, 422)
async def grafana(data: WebhookIn) -> ResponseReturnValue:
    """Grafana alerting's webhook contact point."""
    return await handle_all(data, "grafana")
