"""The verification mails: claimed from their outbox under a lease, rendered with a fresh link,
sent by the worker outside any transaction, and their outcome recorded (as worker/deliveries
does for webhooks: 4xx retried with backoff for a day, 5xx a bounce on the verification)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.db.base import utcnow
from nichandle.mail.smtp import Message, Outcome, Result
from nichandle.verification import repository, service
from nichandle.verification.models import (
    EntryKind,
    MailKind,
    MailState,
    Verification,
    VerificationMail,
    VerificationState,
)
from nichandle.worker.deliveries import RETRY_WINDOW, next_wait

TEMPLATES = Environment(
    loader=PackageLoader("nichandle.verification", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
SUBJECTS = {
    MailKind.REQUEST: "Please verify your email address",
    MailKind.RESEND: "Please verify your email address",
    MailKind.REMINDER: "Reminder: please verify your email address",
}


@dataclass(frozen=True)
class MailClaim:
    mail_id: int
    attempts: int
    lease_until: datetime
    first_attempt_at: datetime
    message: Message


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        VerificationMail.state == MailState.PENDING,
        VerificationMail.next_attempt_at <= now,
        or_(VerificationMail.lease_until.is_(None), VerificationMail.lease_until <= now),
    ]


async def has_due(session: AsyncSession) -> bool:
    """A read first, so an idle worker never takes SQLite's write lock."""
    found = await session.scalar(select(VerificationMail.id).where(*_due(utcnow())).limit(1))
    return found is not None


async def claim(
    session: AsyncSession, *, limit: int, lease: timedelta, public_url: str
) -> list[MailClaim]:
    """Leases up to ``limit`` due mails and gives each a fresh link (a new token, stored
    hashed: the plain one exists only in the mail)."""
    now = utcnow()
    query = (
        select(VerificationMail, Verification)
        .join(Verification, Verification.id == VerificationMail.verification_id)
        .where(*_due(now))
        .order_by(VerificationMail.next_attempt_at, VerificationMail.id)
        .limit(limit)
        .with_for_update(of=VerificationMail, skip_locked=True)
    )
    claims = []
    for mail, verification in (await session.execute(query)).all():
        if verification.state is not VerificationState.OPEN:
            mail.state = MailState.FAILED
            mail.last_error = "the address was verified before the mail was sent"
            continue
        mail.attempts += 1
        mail.lease_until = now + lease
        mail.first_attempt_at = mail.first_attempt_at or now
        token = service.new_token(session, verification)
        domains = await repository.domain_names(session, verification.id)
        claims.append(
            MailClaim(
                mail_id=mail.id,
                attempts=mail.attempts,
                lease_until=mail.lease_until,
                first_attempt_at=mail.first_attempt_at,
                message=render(mail.kind, verification, domains, f"{public_url}/verify/{token}"),
            )
        )
    await session.flush()
    return claims


def render(
    kind: MailKind, verification: Verification, domains: Sequence[str], link: str
) -> Message:
    context = {
        "kind": kind.value,
        "email": verification.email,
        "domains": domains,
        "deadline": verification.deadline_at.strftime("%d %B %Y, %H:%M UTC"),
        "suspended": verification.suspended_at is not None,
        "link": link,
    }
    return Message(
        to=verification.email,
        subject=SUBJECTS[kind],
        text=TEMPLATES.get_template("mail.txt").render(context),
        html=TEMPLATES.get_template("mail.html").render(context),
        link=link,
    )


async def record(session: AsyncSession, outcomes: Sequence[tuple[MailClaim, Outcome]]) -> None:
    """Each attempt's outcome, while the claim is still this worker's."""
    now = utcnow()
    for claim_, outcome in outcomes:
        query = (
            select(VerificationMail, Verification)
            .join(Verification, Verification.id == VerificationMail.verification_id)
            .where(
                VerificationMail.id == claim_.mail_id,
                VerificationMail.attempts == claim_.attempts,
                VerificationMail.lease_until == claim_.lease_until,
            )
            .with_for_update(of=VerificationMail)
        )
        found = (await session.execute(query)).one_or_none()
        if found is None:
            continue  # the lease ran out and another worker holds it now
        mail, verification = found
        mail.lease_until = None
        mail.last_error = outcome.error[:500] if outcome.error else None
        if outcome.result in (Result.SENT, Result.LOGGED):
            mail.state = MailState.SENT if outcome.result is Result.SENT else MailState.LOGGED
            mail.sent_at = now
            kind = EntryKind.REMINDED if mail.kind is MailKind.REMINDER else EntryKind.SENT
            channel = "mail" if outcome.result is Result.SENT else "log"
            await service.record_entry(session, verification, kind, channel)
        elif outcome.result is Result.PERMANENT:
            mail.state = MailState.BOUNCED
            await service.bounced(session, verification, outcome.error or "refused")
        elif now - claim_.first_attempt_at >= RETRY_WINDOW:
            mail.state = MailState.FAILED
        else:
            mail.next_attempt_at = now + next_wait(mail.attempts)
