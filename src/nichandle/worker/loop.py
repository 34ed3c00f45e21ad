"""The worker's loop: dispatch, deliver, and wait a little when there was nothing to do."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from nichandle.db.base import utcnow
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.mail.smtp import Mailer
from nichandle.registrant_changes import repository as registrant_changes_repository
from nichandle.registrant_changes import rules as registrant_change_rules
from nichandle.registrant_changes import service as registrant_changes
from nichandle.settings import Settings
from nichandle.verification import repository as verifications
from nichandle.verification import rules
from nichandle.verification import service as verification
from nichandle.worker import deliveries, dispatch, mails
from nichandle.worker.send import Sender

logger = logging.getLogger("nichandle.worker")


class Worker:
    """Drains the outbox of ``db``. Several may run at once, in any processes."""

    def __init__(self, db: Database, settings: Settings, sender: Sender) -> None:
        self.db = db
        self.settings = settings
        self.sender = sender
        self.mailer = Mailer(settings)
        rules.configure(settings)
        registrant_change_rules.configure(settings)

    async def run_once(self) -> int:
        """One round: dispatch a batch of events, deliver a batch of due deliveries; the larger
        count (0: idle; a full batch: there is probably more)."""
        dispatched = await self.dispatch()
        delivered = await self.deliver()
        return max(dispatched, delivered, await self.verify())

    async def dispatch(self) -> int:
        async with unit_of_work(self.db, write=False, per_statement=True) as session:
            if not await dispatch.has_undispatched(session):
                return 0
        async with unit_of_work(self.db) as session:
            return await dispatch.dispatch(
                session,
                limit=self.settings.worker_dispatch_batch_size,
                stream=self.settings.events_redis_url is not None,
            )

    async def deliver(self) -> int:
        async with unit_of_work(self.db, write=False, per_statement=True) as session:
            if not await deliveries.has_due(session):
                return 0
        async with unit_of_work(self.db) as session:
            claims = await deliveries.claim(
                session,
                limit=self.settings.worker_batch_size,
                lease=timedelta(seconds=self.settings.worker_lease_seconds),
            )
        if not claims:
            return 0
        # Sent within most of the lease, leaving the rest to record the results.
        outcomes = await self.sender.send(claims, within=self.settings.worker_lease_seconds * 0.8)
        async with unit_of_work(self.db) as session:
            await deliveries.record(session, list(zip(claims, outcomes, strict=True)))
        return len(claims)

    async def verify(self) -> int:
        """Registrant verification and change of registrant: the deadlines due (reminders,
        suspensions, expiries, locks ending, notices), then the mails due, sent outside any
        transaction."""
        handled = 0
        async with unit_of_work(self.db, write=False, per_statement=True) as session:
            deadlines = await verifications.has_due(session, utcnow())
            changes_due = await registrant_changes_repository.has_due(session, utcnow())
        if deadlines:
            async with unit_of_work(self.db) as session:
                handled = await verification.run_due(session, limit=self.settings.worker_batch_size)
        if changes_due:
            async with unit_of_work(self.db) as session:
                limit = self.settings.worker_batch_size
                handled += await registrant_changes.run_due(session, limit=limit)
        async with unit_of_work(self.db, write=False, per_statement=True) as session:
            if not await mails.has_due(session):
                return handled
        async with unit_of_work(self.db) as session:
            claims = await mails.claim(
                session,
                limit=self.settings.worker_batch_size,
                lease=timedelta(seconds=self.settings.worker_lease_seconds),
                public_url=self.settings.public_url
                or f"http://{self.settings.host}:{self.settings.port}",
            )
        outcomes = [(claim, await self.mailer.send(claim.message)) for claim in claims]
        async with unit_of_work(self.db) as session:
            await mails.record(session, outcomes)
        return max(handled, len(claims))

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set; the round under way finishes first, so what was sent is
        recorded and no lease is left to run out."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # the database went away, say: log it, keep going
                logger.exception("outbox worker round failed; retrying")
                handled = 0
            # Straight on only after a full batch: under a steady trickle of writes, a round per
            # poll interval takes many events at once, not one transaction per event.
            if handled < self.settings.worker_batch_size:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.worker_poll_seconds)


@asynccontextmanager
async def running(db: Database, settings: Settings) -> AsyncIterator[None]:
    """A worker running beside the block (`nichandle worker`, and in `nichandle serve`); when
    the block ends it finishes its round and stops."""
    stop = asyncio.Event()
    async with Sender(settings) as sender:
        task = asyncio.create_task(Worker(db, settings, sender).run(stop))
        try:
            yield
        finally:
            stop.set()
            await task
