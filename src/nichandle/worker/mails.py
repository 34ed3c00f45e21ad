"""The mail outboxes (registrant verification, change of registrant): claimed under a lease,
rendered with a fresh link, sent by the worker outside any transaction, and their outcome
recorded (as worker/deliveries does for webhooks: 4xx retried with backoff for a day, 5xx a
bounce). Each outbox says what its mails are (``Outbox``); the leasing is the same for all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.db.base import utcnow
from nichandle.mail.smtp import Message, Outcome, Result
from nichandle.mail.states import MailState
from nichandle.registrant_changes import repository as registrant_changes_repository
from nichandle.registrant_changes import service as registrant_changes
from nichandle.registrant_changes.models import ChangeState, RegistrantChangeMail
from nichandle.registrant_changes.models import MailKind as ChangeMailKind
from nichandle.registrant_changes.rules import rules as change_rules
from nichandle.verification import repository, service
from nichandle.verification.models import (
    EntryKind,
    MailKind,
    VerificationMail,
    VerificationState,
)
from nichandle.worker.deliveries import RETRY_WINDOW, next_wait


def _templates(package: str) -> Environment:
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _message(env: Environment, to: str, subject: str, link: str, context: Any) -> Message:
    return Message(
        to=to,
        subject=subject,
        text=env.get_template("mail.txt").render(context),
        html=env.get_template("mail.html").render(context),
        link=link,
    )


class Outbox(Protocol):
    """One kind of mail: its table, how one is written, and what its outcome records."""

    mail: Any  # the mapped class: state, attempts, next_attempt_at, lease_until, ...

    async def message(self, session: AsyncSession, mail: Any, public_url: str) -> Message | str:
        """The message to send now, or why it is no longer to be sent."""
        ...

    async def sent(self, session: AsyncSession, mail: Any, channel: str) -> None: ...

    async def bounced(self, session: AsyncSession, mail: Any, error: str) -> None: ...


class VerificationOutbox:
    mail = VerificationMail
    templates = _templates("nichandle.verification")
    subjects: ClassVar[dict[MailKind, str]] = {
        MailKind.REQUEST: "Please verify your email address",
        MailKind.RESEND: "Please verify your email address",
        MailKind.REMINDER: "Reminder: please verify your email address",
    }

    async def message(
        self, session: AsyncSession, mail: VerificationMail, public_url: str
    ) -> Message | str:
        verification = await repository.by_id(session, mail.account_id, mail.verification_id)
        if verification is None or verification.state is not VerificationState.OPEN:
            return "the address was verified before the mail was sent"
        token = service.new_token(session, verification)
        domains = await repository.domain_names(session, verification.id)
        link = f"{public_url}/verify/{token}"
        context = {
            "kind": mail.kind.value,
            "email": verification.email,
            "domains": domains,
            "deadline": verification.deadline_at.strftime("%d %B %Y, %H:%M UTC"),
            "suspended": verification.suspended_at is not None,
            "link": link,
        }
        return _message(self.templates, verification.email, self.subjects[mail.kind], link, context)

    async def sent(self, session: AsyncSession, mail: VerificationMail, channel: str) -> None:
        verification = await repository.by_id(session, mail.account_id, mail.verification_id)
        if verification is not None:
            kind = EntryKind.REMINDED if mail.kind is MailKind.REMINDER else EntryKind.SENT
            await service.record_entry(session, verification, kind, channel)

    async def bounced(self, session: AsyncSession, mail: VerificationMail, error: str) -> None:
        verification = await repository.by_id(session, mail.account_id, mail.verification_id)
        if verification is not None:
            await service.bounced(session, verification, error)


class RegistrantChangeOutbox:
    mail = RegistrantChangeMail
    templates = _templates("nichandle.registrant_changes")
    subjects: ClassVar[dict[ChangeMailKind, str]] = {
        ChangeMailKind.CONFIRM: "Please confirm the change of registrant",
        ChangeMailKind.APPLIED: "The change of registrant is complete",
        ChangeMailKind.EXPIRED: "The change of registrant expired",
        ChangeMailKind.NOTICE: "The registrant of your domains changed",
    }

    async def message(
        self, session: AsyncSession, mail: RegistrantChangeMail, public_url: str
    ) -> Message | str:
        request = await registrant_changes_repository.request_by_id(session, mail.request_id)
        if request is None:
            return "the change is gone"
        link = ""
        if mail.kind is ChangeMailKind.CONFIRM:
            if request.state is not ChangeState.PENDING:
                return f"the change was {request.state.value} before the mail was sent"
            token = registrant_changes.new_token(session, request, mail.party)
            link = f"{public_url}/registrant-change/{token}"
        changes = await registrant_changes_repository.of_request(session, request.id)
        context = {
            "kind": mail.kind.value,
            "party": mail.party.value,
            "prior": {"name": request.prior_name, "email": request.prior_email},
            "new": {"name": request.new_name, "email": request.new_email},
            "fields": [field.replace("_", " ") for field in request.fields],
            "domains": [change.domain_name for change in changes],
            "date": request.created_at.strftime("%d %B %Y, %H:%M UTC"),
            "expires": request.expires_at.strftime("%d %B %Y, %H:%M UTC")
            if request.expires_at
            else None,
            "locked": sorted(c.domain_name for c in changes if c.transfer_lock_until),
            "lock_days": change_rules().transfer_lock.days,
            "link": link,
            "help": f"{public_url}/",
        }
        subject = self.subjects[mail.kind]
        return _message(self.templates, mail.to_email, subject, link or f"{public_url}/", context)

    async def sent(self, session: AsyncSession, mail: RegistrantChangeMail, channel: str) -> None:
        return None  # the mail row is its own record

    async def bounced(self, session: AsyncSession, mail: RegistrantChangeMail, error: str) -> None:
        return None


OUTBOXES: tuple[Outbox, ...] = (VerificationOutbox(), RegistrantChangeOutbox())


@dataclass(frozen=True)
class MailClaim:
    outbox: Outbox
    mail_id: int
    attempts: int
    lease_until: datetime
    first_attempt_at: datetime
    message: Message


def _due(mail: Any, now: datetime) -> list[ColumnElement[bool]]:
    return [
        mail.state == MailState.PENDING,
        mail.next_attempt_at <= now,
        or_(mail.lease_until.is_(None), mail.lease_until <= now),
    ]


async def has_due(session: AsyncSession) -> bool:
    """A read first, so an idle worker never takes SQLite's write lock."""
    now = utcnow()
    for outbox in OUTBOXES:
        query = select(outbox.mail.id).where(*_due(outbox.mail, now)).limit(1)
        if await session.scalar(query) is not None:
            return True
    return False


async def claim(
    session: AsyncSession, *, limit: int, lease: timedelta, public_url: str
) -> list[MailClaim]:
    """Leases up to ``limit`` due mails of each outbox and gives each a fresh link (a new
    token, stored hashed: the plain one exists only in the mail)."""
    now = utcnow()
    claims = []
    for outbox in OUTBOXES:
        mail_type = outbox.mail
        query = (
            select(mail_type)
            .where(*_due(mail_type, now))
            .order_by(mail_type.next_attempt_at, mail_type.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        for mail in (await session.scalars(query)).all():
            message = await outbox.message(session, mail, public_url)
            if isinstance(message, str):
                mail.state = MailState.FAILED
                mail.last_error = message
                continue
            mail.attempts += 1
            mail.lease_until = now + lease
            mail.first_attempt_at = mail.first_attempt_at or now
            claims.append(
                MailClaim(
                    outbox=outbox,
                    mail_id=mail.id,
                    attempts=mail.attempts,
                    lease_until=mail.lease_until,
                    first_attempt_at=mail.first_attempt_at,
                    message=message,
                )
            )
    await session.flush()
    return claims


async def record(session: AsyncSession, outcomes: Sequence[tuple[MailClaim, Outcome]]) -> None:
    """Each attempt's outcome, while the claim is still this worker's."""
    now = utcnow()
    for claim_, outcome in outcomes:
        mail_type = claim_.outbox.mail
        query = (
            select(mail_type)
            .where(
                mail_type.id == claim_.mail_id,
                mail_type.attempts == claim_.attempts,
                mail_type.lease_until == claim_.lease_until,
            )
            .with_for_update()
        )
        mail = await session.scalar(query)
        if mail is None:
            continue  # the lease ran out and another worker holds it now
        mail.lease_until = None
        mail.last_error = outcome.error[:500] if outcome.error else None
        if outcome.result in (Result.SENT, Result.LOGGED):
            mail.state = MailState.SENT if outcome.result is Result.SENT else MailState.LOGGED
            mail.sent_at = now
            channel = "mail" if outcome.result is Result.SENT else "log"
            await claim_.outbox.sent(session, mail, channel)
        elif outcome.result is Result.PERMANENT:
            mail.state = MailState.BOUNCED
            await claim_.outbox.bounced(session, mail, outcome.error or "refused")
        elif now - claim_.first_attempt_at >= RETRY_WINDOW:
            mail.state = MailState.FAILED
        else:
            mail.next_attempt_at = now + next_wait(mail.attempts)
