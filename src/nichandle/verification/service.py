"""The rules of registrant verification: when one starts, verifying, resending, deadlines.

One open verification per (account, normalised email): every trigger while it is open adds its
domains to it instead of sending another mail, and verifying it covers every contact and every
domain of the account with that address. Deadlines are stored due times that the worker runs
(``run_due``), so a worker that was down catches up: reminders whose day passed meanwhile are
not sent late, a deadline that passed suspends at once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts.models import Contact
from nichandle.db.base import utcnow
from nichandle.db.rows import insert_rows
from nichandle.domains.models import Domain, DomainStatus
from nichandle.domains.repository import DomainSettings
from nichandle.errors import Conflict, NotApplicable, NotFound, RateLimited
from nichandle.events import catalogue
from nichandle.events.service import emit, emit_many
from nichandle.paging import Page, PageRequest
from nichandle.verification import repository
from nichandle.verification.models import (
    EntryKind,
    MailKind,
    Verification,
    VerificationDomain,
    VerificationEntry,
    VerificationMail,
    VerificationMethod,
    VerificationReason,
    VerificationState,
    VerificationToken,
)
from nichandle.verification.rules import rules

SUSPENDED_REASON = "registrant_verification"
# A transaction's view of the verifications it touched (session.info): a reassign of 1,000
# domains to one registrant asks the database once, not per domain.
_SEEN = "nichandle_verifications"
_VERIFIED = "verified"


@dataclass
class _Open:
    id: int
    deadline_at: datetime
    domain_ids: set[int] = field(default_factory=set)


class DomainRef(NamedTuple):
    id: int
    name: str
    tld: str


async def registrant_set(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    domains: Sequence[DomainRef],
    reason: VerificationReason,
) -> None:
    """``contact`` is now the registrant of ``domains``: the gTLD ones join the open
    verification of its email, or start one, unless the account verified the email already."""
    concerned = [domain for domain in domains if rules().needs_verification(domain.tld)]
    if not concerned:
        return
    seen: dict[tuple[int, str], _Open | str] = session.info.setdefault(_SEEN, {})
    key = (actor.account_id, contact.email_normalized)
    known = seen.get(key)
    if known is None:
        known = await _find_or_open(session, actor, contact, concerned, reason)
        seen[key] = known
    if not isinstance(known, _Open):
        await _lift_for_verified_registrant(session, actor, concerned)
        return
    new = [domain for domain in concerned if domain.id not in known.domain_ids]
    for domain in new:
        session.add(
            VerificationDomain(
                verification_id=known.id, domain_id=domain.id, account_id=actor.account_id
            )
        )
        known.domain_ids.add(domain.id)
    if new and known.deadline_at <= utcnow():
        # Past its deadline already: the worker suspends the newcomers at its next round.
        await session.execute(
            update(Verification).where(Verification.id == known.id).values(due_at=utcnow())
        )


async def _lift_for_verified_registrant(
    session: AsyncSession, actor: Actor, domains: Sequence[DomainRef]
) -> None:
    """The domains' new registrant has a verified address: a suspension for the unverified
    address of the one before is lifted at once (in the history of that verification). A new
    registrant still to verify leaves it: the domain then waits for that address instead."""
    waiting = await repository.open_for_domains(
        session, actor.account_id, [domain.id for domain in domains]
    )
    if not waiting:
        return
    now = utcnow()
    lifted = await repository.unsuspend_domains(
        session, list(waiting), reason=SUSPENDED_REASON, at=now
    )
    if not lifted:
        return
    await emit_many(
        session, actor, catalogue.DOMAIN_UNSUSPENDED, [_suspension(d, now) for d in lifted]
    )
    by_verification: dict[int, list[DomainSettings]] = {}
    for domain in lifted:
        by_verification.setdefault(waiting[domain.id].id, []).append(domain)
    for domain_rows in by_verification.values():
        verification = waiting[domain_rows[0].id]
        # The channel: the dialect the registrant was changed through.
        await _entries(session, verification, EntryKind.UNSUSPENDED, actor.dialect, domain_rows)


async def _find_or_open(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    domains: Sequence[DomainRef],
    reason: VerificationReason,
) -> _Open | str:
    email = contact.email_normalized
    for _attempt in range(2):
        found = await repository.open_for_email(session, actor.account_id, email, lock=True)
        if found is not None:
            ids = await repository.domain_ids(session, found.id)
            return _Open(found.id, found.deadline_at, set(ids))
        if await repository.verified_at(session, actor.account_id, email) is not None:
            return _VERIFIED
        now = utcnow()
        deadline = now + rules().deadline
        opened = await repository.insert_open(
            session,
            {
                "account_id": actor.account_id,
                "email": contact.email,
                "email_normalized": email,
                "state": VerificationState.OPEN,
                "reason": reason,
                "contact_id": contact.id,
                "created_at": now,
                "deadline_at": deadline,
                "reminders_sent": 0,
                "due_at": rules().next_due(now, 0),
                "last_mail_at": now,
            },
        )
        if opened is None:
            continue  # another transaction opened it meanwhile: join theirs
        session.add(
            VerificationMail(
                account_id=actor.account_id, verification_id=opened, kind=MailKind.REQUEST
            )
        )
        emit(
            session,
            actor,
            catalogue.CONTACT_VERIFICATION_STARTED,
            catalogue.ContactVerificationChanged(
                verification_id=opened,
                email=contact.email,
                contact=contact.handle,
                reason=reason.value,
                state=VerificationState.OPEN.value,
                deadline_at=catalogue.timestamp(deadline),
                domains=sorted(domain.name for domain in domains),
            ),
        )
        return _Open(opened, deadline)
    raise Conflict(  # pragma: no cover - opened and closed again between two statements
        "Another request changed the same verification at the same time; retry",
        code="concurrent_change",
    )


async def emails_set(
    session: AsyncSession, account_id: int, emails: Mapping[int, str], *, was_set: set[int]
) -> None:
    """``email_verified_at`` of contacts whose email was just set (contact id -> normalised
    email): when the account verified that address, else null for those in ``was_set`` (their
    old address may have been verified; a new contact's is null already). A statement per
    distinct outcome, not per contact: an import batch sets thousands."""
    if not emails:
        return
    verified = await repository.verified_emails(session, account_id, set(emails.values()))
    by_time: dict[datetime | None, list[int]] = {}
    for contact_id, email in emails.items():
        at = verified.get(email)
        if at is not None or contact_id in was_set:
            by_time.setdefault(at, []).append(contact_id)
    for at, ids in by_time.items():
        await repository.set_email_verified_at(session, ids, at)


# --- verifying ------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(session: AsyncSession, verification: Verification) -> str:
    """A link's secret: 256 random bits, kept only as its SHA-256, valid for a deadline's span
    while the verification is open."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        VerificationToken(
            token_hash=token_hash(token),
            verification_id=verification.id,
            account_id=verification.account_id,
            created_at=now,
            expires_at=now + rules().deadline,
        )
    )
    return token


class TokenGone(NotFound):
    """A link that was valid once: used, or expired (its page says which)."""

    code = "verification_token_gone"


@dataclass(frozen=True)
class LinkTarget:
    verification: Verification
    domains: list[str]


async def by_token(session: AsyncSession, token: str, *, lock: bool = False) -> LinkTarget:
    """The open verification a link's token opens; NotFound (unknown) or TokenGone."""
    found = await repository.by_token_hash(session, token_hash(token), lock=lock)
    if found is None:
        raise NotFound("This verification link is not known", code="verification_token_unknown")
    row, verification = found
    if verification.state is VerificationState.VERIFIED:
        raise TokenGone("This address is verified already: the link has been used")
    if row.expires_at <= utcnow():
        raise TokenGone(
            "This verification link has expired; ask for a new one", code="verification_expired"
        )
    names = await repository.domain_names(session, verification.id)
    return LinkTarget(verification, names)


async def verify_by_token(session: AsyncSession, token: str, *, ip: str | None) -> LinkTarget:
    """The registrant confirmed through the mailed link."""
    target = await by_token(session, token, lock=True)
    actor = Actor(target.verification.account_id, None, "web")
    await _verify(session, actor, target.verification, VerificationMethod.LINK, ip=ip)
    return target


async def verify_contact_email(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    *,
    method: VerificationMethod = VerificationMethod.API,
) -> None:
    """Staff or a reseller verified the contact's address themselves (recorded with the
    actor), or its holder answered a mail to it through a link (a change of registrant's
    confirmation): its open verification is verified, or, with none open, the address is
    marked verified for the account."""
    found = await repository.open_for_email(
        session, actor.account_id, contact.email_normalized, lock=True
    )
    if found is None:
        if await repository.verified_at(session, actor.account_id, contact.email_normalized):
            return
        now = utcnow()
        found = Verification(
            account_id=actor.account_id,
            email=contact.email,
            email_normalized=contact.email_normalized,
            state=VerificationState.OPEN,
            reason=VerificationReason.EMAIL_CHANGE,
            contact_id=contact.id,
            created_at=now,
            deadline_at=now,
            reminders_sent=0,
        )
        session.add(found)
        await session.flush()
    await _verify(session, actor, found, method, ip=None)


async def verify_by_id(session: AsyncSession, actor: Actor, verification_id: int) -> None:
    """name.com's verify: an open verification of the account, by id."""
    found = await repository.by_id(session, actor.account_id, verification_id, lock=True)
    if found is None or found.state is not VerificationState.OPEN:
        raise NotFound(f"Verification {verification_id} not found", code="verification_not_found")
    await _verify(session, actor, found, VerificationMethod.API, ip=None)


async def _verify(
    session: AsyncSession,
    actor: Actor,
    verification: Verification,
    method: VerificationMethod,
    *,
    ip: str | None,
) -> None:
    """Marks the email verified for the account and lifts every suspension the verification
    caused, in one statement however many domains (one event and one history entry each)."""
    now = utcnow()
    verification.state = VerificationState.VERIFIED
    verification.verified_at = now
    verification.verified_method = method
    verification.verified_ip = ip
    verification.verified_by_token_id = actor.token_id
    verification.due_at = None
    await session.flush()
    session.info.get(_SEEN, {}).pop((verification.account_id, verification.email_normalized), None)
    await repository.mark_contacts_verified(
        session, verification.account_id, verification.email_normalized, now
    )
    lifted = await repository.unsuspend(session, verification.id, reason=SUSPENDED_REASON, at=now)
    await emit_many(
        session,
        actor,
        catalogue.DOMAIN_UNSUSPENDED,
        [_suspension(domain, now) for domain in lifted],
    )
    channel = method.value
    await _entries(session, verification, EntryKind.UNSUSPENDED, channel, lifted)
    await _entries(session, verification, EntryKind.VERIFIED, channel, [])
    emit(
        session,
        actor,
        catalogue.CONTACT_VERIFICATION_VERIFIED,
        await _payload(session, verification),
    )


# --- resending and deadlines ----------------------------------------------------------------


async def open_for_domain(session: AsyncSession, domain: Domain) -> Verification:
    """The open verification that concerns the domain; NotFound without one."""
    found = await repository.open_for_domain(session, domain.account_id, domain.id)
    if found is None:
        raise NotFound(
            f"Domain `{domain.name}` has no open contact verification",
            code="verification_not_found",
        )
    return found


async def open_for_domains(
    session: AsyncSession, account_id: int, domain_ids: Sequence[int]
) -> dict[int, Verification]:
    """Domain id -> the open verification concerning it (a page of domains in one query)."""
    return await repository.open_for_domains(session, account_id, domain_ids)


async def domain_names(session: AsyncSession, verification: Verification) -> list[str]:
    return await repository.domain_names(session, verification.id)


async def resend(session: AsyncSession, actor: Actor, domain: Domain) -> Verification:
    """Queues the mail again, at most once per resend interval (429 with Retry-After)."""
    found = await repository.open_for_domain(session, actor.account_id, domain.id, lock=True)
    if found is None:
        raise NotApplicable(
            f"Domain `{domain.name}` needs no contact verification",
            code="verification_not_required",
        )
    return await _resend(session, actor, found)


async def open_for_contact(session: AsyncSession, contact: Contact) -> Verification | None:
    """The open verification of the contact's address, if any."""
    return await repository.open_for_email(session, contact.account_id, contact.email_normalized)


async def resend_for_contact(session: AsyncSession, actor: Actor, contact: Contact) -> Verification:
    """As ``resend``, for the open verification of the contact's address (the web UI's contact
    page)."""
    found = await open_for_contact(session, contact)
    locked = found and await repository.by_id(session, actor.account_id, found.id, lock=True)
    if not locked or locked.state is not VerificationState.OPEN:
        raise NotApplicable(
            f"Contact `{contact.handle}` has no open verification",
            code="verification_not_required",
        )
    return await _resend(session, actor, locked)


async def _resend(session: AsyncSession, actor: Actor, found: Verification) -> Verification:
    """The resend itself, ``found`` locked FOR UPDATE: concurrent resends take turns, so the
    interval holds."""
    now = utcnow()
    wait = (found.last_mail_at or found.created_at) + rules().resend_after - now
    if wait.total_seconds() > 0:
        raise RateLimited(
            "The verification mail was sent recently; try again later",
            retry_after=max(1, int(wait.total_seconds() + 0.999)),
            code="verification_resend_limited",
        )
    found.last_mail_at = now
    session.add(
        VerificationMail(
            account_id=actor.account_id, verification_id=found.id, kind=MailKind.RESEND
        )
    )
    await session.flush()
    return found


async def run_due(session: AsyncSession, *, limit: int) -> int:
    """One round of deadlines: reminders and suspensions of the open verifications due now (up
    to ``limit``, each claimed so concurrent workers take different ones)."""
    now = utcnow()
    due = await repository.claim_due(session, now, limit=limit)
    actor_for = {v.account_id: Actor(v.account_id, None, "worker") for v in due}
    for verification in due:
        actor = actor_for[verification.account_id]
        if now >= verification.deadline_at:
            await _suspend(session, actor, verification, now)
            continue
        # Only the latest reminder whose day has come: a worker that was down sends one.
        passed = sum(1 for day in rules().reminders if verification.created_at + day <= now)
        if passed > verification.reminders_sent:
            session.add(
                VerificationMail(
                    account_id=verification.account_id,
                    verification_id=verification.id,
                    kind=MailKind.REMINDER,
                )
            )
            verification.last_mail_at = now
            emit(
                session,
                actor,
                catalogue.CONTACT_VERIFICATION_REMINDED,
                await _payload(session, verification),
            )
        verification.reminders_sent = max(passed, verification.reminders_sent)
        verification.due_at = rules().next_due(verification.created_at, passed)
    return len(due)


async def _suspend(
    session: AsyncSession, actor: Actor, verification: Verification, now: datetime
) -> None:
    suspended = await repository.suspend(session, verification, reason=SUSPENDED_REASON, at=now)
    verification.suspended_at = verification.suspended_at or now
    verification.due_at = None
    await emit_many(
        session, actor, catalogue.DOMAIN_SUSPENDED, [_suspension(d, now) for d in suspended]
    )
    await _entries(session, verification, EntryKind.SUSPENDED, "worker", suspended)


def _suspension(domain: DomainSettings, now: datetime) -> catalogue.DomainSuspension:
    held = domain.status is DomainStatus.SUSPENDED
    return catalogue.DomainSuspension(
        domain=domain.name,
        domain_id=domain.id,
        status=domain.status.value,
        autorenew=domain.autorenew,
        privacy=domain.privacy,
        locked=domain.locked,
        expires_at=catalogue.timestamp(domain.expires_at),
        created_at=catalogue.timestamp(domain.created_at),
        updated_at=catalogue.timestamp(now),
        reason=SUSPENDED_REASON,
        registry_statuses=["clientHold", "clientTransferProhibited"]
        if held
        else (["clientTransferProhibited"] if domain.locked else ["ok"]),
    )


async def _entries(
    session: AsyncSession,
    verification: Verification,
    kind: EntryKind,
    channel: str,
    domains: Sequence[DomainSettings],
) -> None:
    """History: an entry of the contact, and one of each domain given."""
    now = utcnow()
    common: dict[str, Any] = {
        "account_id": verification.account_id,
        "verification_id": verification.id,
        "contact_id": verification.contact_id,
        "kind": kind,
        "channel": channel,
        "created_at": now,
    }
    rows = [{**common, "domain_id": d.id, "domain_name": d.name} for d in domains]
    if not domains:
        rows = [{**common, "domain_id": None, "domain_name": None}]
    await insert_rows(session, cast(Table, VerificationEntry.__table__), rows)


async def record_entry(
    session: AsyncSession, verification: Verification, kind: EntryKind, channel: str
) -> None:
    await _entries(session, verification, kind, channel, [])


async def _payload(
    session: AsyncSession, verification: Verification
) -> catalogue.ContactVerificationChanged:
    handle = await repository.contact_handle(session, verification.contact_id)
    payload = catalogue.ContactVerificationChanged(
        verification_id=verification.id,
        email=verification.email,
        contact=handle,
        reason=verification.reason.value,
        state=verification.state.value,
        deadline_at=catalogue.timestamp(verification.deadline_at),
        domains=await repository.domain_names(session, verification.id),
    )
    if verification.verified_at is not None:
        payload["verified_at"] = catalogue.timestamp(verification.verified_at)
        payload["method"] = (verification.verified_method or VerificationMethod.LINK).value
    if verification.bounce_reason is not None:
        payload["bounce_reason"] = verification.bounce_reason
    return payload


async def bounced(session: AsyncSession, verification: Verification, reason: str) -> None:
    """The SMTP server refused the mail for good: recorded, and visible in every dialect."""
    verification.bounced_at = utcnow()
    verification.bounce_reason = reason[:500]
    await record_entry(session, verification, EntryKind.BOUNCED, "mail")
    emit(
        session,
        Actor(verification.account_id, None, "worker"),
        catalogue.CONTACT_VERIFICATION_BOUNCED,
        await _payload(session, verification),
    )


# --- reading --------------------------------------------------------------------------------


async def unverified(
    session: AsyncSession, account_id: int
) -> list[tuple[Verification, list[str]]]:
    """The account's open verifications with their domains' names, oldest first."""
    found = await repository.open_in_account(session, account_id)
    return [(v, await repository.domain_names(session, v.id)) for v in found]


async def history(
    session: AsyncSession, contact: Contact, request: PageRequest
) -> Page[VerificationEntry]:
    """The verification history of a contact's address, oldest first: sent, reminded,
    verified, bounced, and each domain suspended or lifted."""
    rows, total = await repository.entries_of_contact(
        session, contact.account_id, contact.id, offset=request.offset, limit=request.per_page
    )
    return Page(items=rows, total=total, request=request)
