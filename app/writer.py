"""The alerts of concurrent API requests are committed together.

Each request hands its alert to the process's :class:`AlertWriter`, a group commit
(``app/batching.py``): the alerts waiting are recorded in one transaction (the active
silences read once, the new alerts and their deliveries inserted in one batch at the commit)
and only then is each request answered, so a 202 still means its alert and deliveries are
committed. The alternative, a transaction per request, costs an fsync per alert and queues
the requests for SQLite's write lock: p99 grows with the load (docs/benchmarks.md).

If a batch fails because it lost a race to another process (a dedup key or an
``Idempotency-Key`` taken first) or on something unforeseen, it is rolled back and its
alerts are recorded one per transaction, so that each request gets its own answer: the
loser of a race then finds the winner's alert, and one bad request fails alone. When the
database itself fails, every request of the batch hears why (503).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from quart import Quart, current_app
from sqlalchemy.exc import DBAPIError, IntegrityError

from app import idempotency
from app.batching import GroupCommit
from app.db import Database, DatabaseUnavailableError, get_db
from app.errors import InvalidInput
from app.lifecycle import Policy, Trigger, get_policy
from app.models import AlertRecord, utcnow
from app.silences import active_silences

log = logging.getLogger("herald.writer")

Recorded = tuple[AlertRecord | None, bool]  # the alert (None: its key's alert was purged), new?
MAX_BATCH = 256  # alerts in one transaction at most; the rest go in the next
RETRIES = 3  # transactions for one alert that keeps losing races, at most


@dataclass(frozen=True, slots=True)
class _Job:
    report: Trigger
    key: str | None
    digest: str


class AlertWriter:
    """Records the API's alerts in group commits; one per app."""

    def __init__(self, database: Database, policy: Policy) -> None:
        self.database = database
        self.policy = policy
        self._group = GroupCommit(self._write, max_batch=MAX_BATCH, name="herald-alert-writer")

    async def record(
        self, report: Trigger, *, key: str | None = None, digest: str = ""
    ) -> Recorded:
        """Record ``report`` (with its ``Idempotency-Key``, if any) and return once committed:
        (the alert, whether it is new), as :func:`app.idempotency.add_alert_once` says."""
        return await self._group.submit(_Job(report, key, digest))

    async def drain(self) -> None:
        """Wait until every alert handed over so far is recorded (or failed)."""
        await self._group.drain()

    async def _write(self, batch: list[_Job]) -> Sequence[Recorded | Exception]:
        """Each job's answer: all in one transaction, or else each in its own."""
        if len(batch) > 1:
            try:
                return await self._transaction(batch)
            except IntegrityError:  # lost a race to another process: one by one finds the winner
                log.debug("a batch of %d alerts lost a race; recording them one by one", len(batch))
            except (DBAPIError, DatabaseUnavailableError):  # the database, not a request
                raise
            except Exception:
                log.exception("a batch of %d alerts failed; recording them one by one", len(batch))
        return [await self._write_alone(job) for job in batch]

    async def _write_alone(self, job: _Job) -> Recorded | Exception:
        for attempt in range(1, RETRIES + 1):
            try:
                (answer,) = await self._transaction([job])
            except IntegrityError as error:  # lost a race; the next try finds the winner's alert
                if attempt == RETRIES:
                    return error
            except Exception as error:
                return error
            else:
                return answer
        raise AssertionError("unreachable: the last attempt returns")

    async def _transaction(self, batch: list[_Job]) -> list[Recorded | Exception]:
        """Each job's alert, all in one transaction, committed; a job's own mistake (a key
        reused with another body) is its answer, not the batch's failure."""
        answers: list[Recorded | Exception] = []
        async with self.database.session() as session:
            silences = await active_silences(session, utcnow())
            for job in batch:
                try:
                    answers.append(
                        await idempotency.add_alert_once(
                            session,
                            job.report,
                            self.policy,
                            utcnow(),
                            key=job.key,
                            digest=job.digest,
                            silences=silences,
                        )
                    )
                except InvalidInput as error:
                    answers.append(error)
            await session.commit()
        return answers


def get_writer(app: Quart | None = None) -> AlertWriter:
    """The app's :class:`AlertWriter`."""
    writer: AlertWriter = (app or current_app).extensions["herald.writer"]
    return writer


def init_app(app: Quart) -> None:
    """Attach an alert writer; shutdown waits for the alerts it was handed."""
    writer = AlertWriter(get_db(app), get_policy(app))
    app.extensions["herald.writer"] = writer
    app.after_serving(writer.drain)
