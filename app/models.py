"""Database tables: users, API tokens, alerts and their per-channel deliveries, silences."""

from __future__ import annotations

import enum
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, orm_insert_sentinel, relationship

from channels.base import Alert, AlertState, Severity


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_uid() -> str:
    """A random id that stays with an alert for life (32 hex characters)."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back aware datetimes, even from SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class DeliveryStatus(enum.StrEnum):
    """Where one alert stands on one channel."""

    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"


# The statuses a delivery ends in: nothing about it changes any more.
class Lifecycle(enum.StrEnum):
    """An alert's own life, apart from how its deliveries went."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# The notifications of one alert, each a delivery per channel: the first, the repeats made
# while it keeps firing unacknowledged ("repeat-1", "repeat-2", ...), and the resolved one.
FIRST_NOTIFICATION = "firing"
RESOLVED_NOTIFICATION = "resolved"


def as_notification(alert: Alert, notification: str) -> Alert:
    """``alert`` as its ``notification`` goes out (links are added by app/links.py)."""
    state: AlertState = "resolved" if notification == RESOLVED_NOTIFICATION else "firing"
    return replace(alert, notification=notification, state=state)


FINAL_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.FAILED)
STATUSES = tuple(status.value for status in DeliveryStatus)


# what an Alert is made of: the dispatcher reads just these
ALERT_VALUE_COLUMNS = (
    "id",
    "title",
    "message",
    "severity",
    "created_at",
    "uid",
    "labels",
    "dedup_key",
)


def alert_value(stored: Any) -> Alert:
    """The :class:`Alert` (first notification) of a stored alert: an :class:`AlertRecord`,
    or a row of its :data:`ALERT_VALUE_COLUMNS`."""
    severity: Severity = stored.severity  # checked on the way in
    return Alert(
        stored.id,
        stored.title,
        stored.message,
        severity,
        stored.created_at,
        stored.uid,
        labels=dict(stored.labels or {}),
        dedup_key=stored.dedup_key or "",
    )


class Base(DeclarativeBase):
    """Declarative base with constraint names that migrations can refer to."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    """A person who signs in to the dashboard and owns API tokens."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written into each session cookie at sign-in; raising it ends every session issued
    # before (logout, a new password, disabling): a saved cookie cannot be replayed.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="ApiToken.id"
    )


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens", lazy="joined")


class AlertRecord(Base):
    """An alert as stored; :meth:`to_alert` gives the value the channels receive."""

    __tablename__ = "alerts"
    __table_args__ = (
        # one open alert per dedup key: concurrent triggers with one key cannot make two
        Index(
            "ix_alerts_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the sentinel: SQLite cannot say which autoincrement id a row of a multi-row INSERT got,
    # and without one the ORM inserts new alerts one statement each (app/writer.py)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid, insert_sentinel=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # {"href", "text"}
    state: Mapped[str] = mapped_column(String(16), default=Lifecycle.FIRING)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # channels last told
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    silence_id: Mapped[int | None] = mapped_column(ForeignKey("silences.id", ondelete="SET NULL"))

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="alert",
        cascade="all, delete-orphan",
        order_by="Delivery.id",
        lazy="selectin",
    )

    def to_alert(self, notification: str = FIRST_NOTIFICATION) -> Alert:
        """The immutable value handed to channels for one of the alert's notifications."""
        return as_notification(alert_value(self), notification)

    @property
    def status(self) -> str:
        """One word for the whole alert, derived from its deliveries."""
        statuses = {delivery.status for delivery in self.deliveries}
        if self.silenced and not statuses:
            return "silenced"
        if not statuses or statuses == {DeliveryStatus.PENDING}:
            return "pending"
        if statuses & {DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.RETRYING}:
            return "sending"
        if statuses == {DeliveryStatus.SENT}:
            return "sent"
        if statuses == {DeliveryStatus.FAILED}:
            return "failed"
        return "partial"

    @property
    def finished(self) -> bool:
        """Whether every delivery is sent or failed: nothing about the alert changes any more."""
        return all(d.status in FINAL_STATUSES for d in self.deliveries)


class Delivery(Base):
    """One notification of an alert on one channel: its status, attempts, last error, timing."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel", "notification"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    notification: Mapped[str] = mapped_column(String(32), default=FIRST_NOTIFICATION)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # stats
    latency_ms: Mapped[float | None] = mapped_column(Float)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_ref: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the same for deliveries (see AlertRecord.uid): a column the ORM numbers the rows of
    # one INSERT in, so that many alerts' deliveries go in one statement on SQLite too
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    alert: Mapped[AlertRecord] = relationship(back_populates="deliveries")
    history: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery",
        cascade="all, delete-orphan",
        order_by="DeliveryAttempt.number",
        lazy="raise",  # loaded on purpose (the alert page), never by accident
        passive_deletes=True,  # the database's ON DELETE CASCADE removes them
    )


class DeliveryAttempt(Base):
    """One try at one delivery: when, how long, and how it ended."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # stats
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    latency_ms: Mapped[float] = mapped_column(Float)
    worker: Mapped[str] = mapped_column(String(100))

    delivery: Mapped[Delivery] = relationship(back_populates="history")


class DeliveryRecipient(Base):
    """A recipient a fan-out delivery has served, by digest: a retry, in any process, skips it."""

    __tablename__ = "delivery_recipients"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    recipient: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256, hex


class PushSubscriptionRecord(Base):
    """A browser's Web Push subscription, owned by the user who enabled it."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(255))
    auth: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a client sent with ``POST /api/alerts``, and what it created."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Silence(Base):
    """Keeps matching alerts quiet from ``starts_at`` until ``ends_at``; expiring one early
    sets ``ends_at`` to the moment it was expired."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # name, value, regex, equal
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # active ones: ends later
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def state(self, now: datetime) -> str:
        """``pending`` before it starts, ``active`` while it holds, then ``expired``."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"
