"""Web Push subscriptions in the database: the store the webpush channel sends to, and the
service functions the routes call."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.models import PushSubscriptionRecord, User
from channels.webpush import PushSubscription


class DatabasePushStore:
    """The :class:`channels.webpush.PushSubscriptionStore` backed by Herald's database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def subscriptions(self) -> list[PushSubscription]:
        """Every stored subscription, oldest first."""
        async with self.database.session() as session:
            records = await session.scalars(
                select(PushSubscriptionRecord).order_by(PushSubscriptionRecord.id)
            )
            return [PushSubscription(r.endpoint, r.p256dh, r.auth) for r in records]

    async def remove(self, endpoint: str) -> None:
        """Delete the subscription for ``endpoint``."""
        async with self.database.session() as session:
            await session.execute(
                delete(PushSubscriptionRecord).where(PushSubscriptionRecord.endpoint == endpoint)
            )
            await session.commit()


async def save_subscription(
    session: AsyncSession, user_id: int, subscription: PushSubscription
) -> PushSubscriptionRecord:
    """Store ``subscription`` for the user, or refresh it (a browser subscribes again with the
    same endpoint and new keys, or another user signs in on that browser); commit."""
    record = await session.scalar(
        select(PushSubscriptionRecord).where(
            PushSubscriptionRecord.endpoint == subscription.endpoint
        )
    )
    if record is None:
        record = PushSubscriptionRecord(endpoint=subscription.endpoint)
        session.add(record)
    record.user_id = user_id
    record.p256dh, record.auth = subscription.p256dh, subscription.auth
    await session.commit()
    return record


async def delete_subscription(session: AsyncSession, user: User, subscription_id: int) -> bool:
    """Delete one of ``user``'s subscriptions (an administrator's: anyone's); commit. False
    when there is no such subscription that the user may delete."""
    record = await session.get(PushSubscriptionRecord, subscription_id)
    if record is None or (record.user_id != user.id and not user.is_admin):
        return False
    await session.delete(record)
    await session.commit()
    return True
