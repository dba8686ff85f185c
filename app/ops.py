"""Endpoints for load balancers, supervisors and Prometheus."""

from __future__ import annotations

from quart import Blueprint, abort, current_app
from quart.typing import ResponseReturnValue

from app import metrics
from app.db import DatabaseNotReadyError, get_db
from app.dispatch import get_dispatcher
from app.ratelimit import failed_authentications

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
async def healthz() -> ResponseReturnValue:
    """The process is up and answering."""
    return {"status": "ok"}


@bp.get("/readyz")
async def readyz() -> ResponseReturnValue:
    """Ready for traffic: the database answers (a SQLite file: and takes writes) and the
    dispatcher is running; else 503, with the reason in ``database``."""
    database = "ok"
    try:
        await get_db().probe()
    except DatabaseNotReadyError as problem:
        current_app.logger.warning("readiness: %s", problem)
        database = str(problem)
    dispatcher = "running" if get_dispatcher().alive else "stopped"
    ready = database == "ok" and dispatcher == "running"
    body = {
        "status": "ready" if ready else "not ready",
        "database": database,
        "dispatcher": dispatcher,
    }
    return body, 200 if ready else 503


@bp.get("/metrics")
async def prometheus_metrics() -> ResponseReturnValue:
    """Prometheus text format; bearer METRICS_TOKEN, or loopback clients when none is set."""
    failures = failed_authentications()
    await failures.refuse_if_exceeded()  # a wrong METRICS_TOKEN counts like a wrong API token
    if not metrics.allowed():
        if current_app.config.get("METRICS_TOKEN"):
            await failures.record()
        abort(403, "Metrics are served to loopback clients, or with METRICS_TOKEN when set.")
    registry = metrics.get_metrics()
    await registry.refresh(current_app)
    return metrics.exposition(registry)
