"""Every query of verifications, scoped by account where a request asks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.selectable import ScalarSelect

from nichandle.contacts.models import Contact
from nichandle.db.lists import among
from nichandle.domains.models import Domain, DomainContact, DomainStatus
from nichandle.domains.repository import SETTINGS, DomainSettings
from nichandle.verification.models import (
    Verification,
    VerificationDomain,
    VerificationEntry,
    VerificationState,
    VerificationToken,
)

OPEN = Verification.state == VerificationState.OPEN


async def open_for_email(
    session: AsyncSession, account_id: int, email_normalized: str, *, lock: bool = False
) -> Verification | None:
    query = select(Verification).where(
        Verification.account_id == account_id,
        Verification.email_normalized == email_normalized,
        OPEN,
    )
    if lock:
        # Shared: concurrent triggers join it together; verifying it waits for them, so it
        # lifts the suspension of every domain they added.
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    found: Verification | None = await session.scalar(query)
    return found


async def verified_at(
    session: AsyncSession, account_id: int, email_normalized: str
) -> datetime | None:
    return (await verified_emails(session, account_id, {email_normalized})).get(email_normalized)


async def verified_emails(
    session: AsyncSession, account_id: int, emails: Iterable[str]
) -> dict[str, datetime]:
    """When each of these addresses was first verified in the account (absent: never)."""
    query = (
        select(Verification.email_normalized, func.min(Verification.verified_at))
        .where(
            Verification.account_id == account_id,
            Verification.state == VerificationState.VERIFIED,
            among(Verification.email_normalized, set(emails)),
        )
        .group_by(Verification.email_normalized)
    )
    return {email: at for email, at in await session.execute(query) if at is not None}


async def insert_open(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Inserts an open verification; None when one for the email exists (a concurrent
    transaction's: the unique partial index decides, no error)."""
    dialect = session.get_bind().dialect.name
    table = cast(Table, Verification.__table__)
    statement: Any
    where = text("state = 'open'")  # as the partial index says it, not a bound parameter
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing(
            index_elements=["account_id", "email_normalized"], index_where=where
        )
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing(
            index_elements=["account_id", "email_normalized"], index_where=where
        )
    found = await session.scalar(statement.values(**values).returning(Verification.id))
    return int(found) if found is not None else None


async def domain_ids(session: AsyncSession, verification_id: int) -> list[int]:
    query = select(VerificationDomain.domain_id).where(
        VerificationDomain.verification_id == verification_id
    )
    return list(await session.scalars(query))


async def domain_names(session: AsyncSession, verification_id: int) -> list[str]:
    query = (
        select(Domain.name)
        .join(VerificationDomain, VerificationDomain.domain_id == Domain.id)
        .where(VerificationDomain.verification_id == verification_id)
        .order_by(Domain.name)
    )
    return list(await session.scalars(query))


async def contact_handle(session: AsyncSession, contact_id: int | None) -> str | None:
    if contact_id is None:
        return None
    found: str | None = await session.scalar(select(Contact.handle).where(Contact.id == contact_id))
    return found


async def by_token_hash(
    session: AsyncSession, token_hash: str, *, lock: bool = False
) -> tuple[VerificationToken, Verification] | None:
    query = (
        select(VerificationToken, Verification)
        .join(Verification, Verification.id == VerificationToken.verification_id)
        .where(VerificationToken.token_hash == token_hash)
    )
    if lock:
        # Two confirmations at once: the second reads it verified and is told the link is used.
        query = query.with_for_update(of=Verification).execution_options(populate_existing=True)
    found = (await session.execute(query)).one_or_none()
    return (found[0], found[1]) if found is not None else None


async def by_id(
    session: AsyncSession, account_id: int, verification_id: int, *, lock: bool = False
) -> Verification | None:
    query = select(Verification).where(
        Verification.account_id == account_id, Verification.id == verification_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found: Verification | None = await session.scalar(query)
    return found


async def open_in_account(session: AsyncSession, account_id: int) -> Sequence[Verification]:
    query = (
        select(Verification)
        .where(Verification.account_id == account_id, OPEN)
        .order_by(Verification.id)
    )
    return (await session.scalars(query)).all()


async def open_for_domain(
    session: AsyncSession, account_id: int, domain_id: int, *, lock: bool = False
) -> Verification | None:
    """The open verification that concerns the domain (the newest, should there be two)."""
    query = (
        select(Verification)
        .join(VerificationDomain, VerificationDomain.verification_id == Verification.id)
        .where(
            Verification.account_id == account_id,
            VerificationDomain.domain_id == domain_id,
            OPEN,
        )
        .order_by(Verification.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update(of=Verification).execution_options(populate_existing=True)
    found: Verification | None = await session.scalar(query)
    return found


async def open_for_domains(
    session: AsyncSession, account_id: int, ids: Sequence[int]
) -> dict[int, Verification]:
    """Domain id -> the open verification concerning it: a page of domains, or every domain a
    registrant holds."""
    query = (
        select(VerificationDomain.domain_id, Verification)
        .join(Verification, VerificationDomain.verification_id == Verification.id)
        .where(
            Verification.account_id == account_id,
            among(VerificationDomain.domain_id, ids),
            OPEN,
        )
        .order_by(Verification.id)
    )
    return {row[0]: row[1] for row in (await session.execute(query)).all()}


async def mark_contacts_verified(
    session: AsyncSession, account_id: int, email_normalized: str, at: datetime
) -> None:
    await session.execute(
        update(Contact)
        .where(
            Contact.account_id == account_id,
            Contact.email_normalized == email_normalized,
            Contact.email_verified_at.is_(None),
        )
        .values(email_verified_at=at)
        .execution_options(synchronize_session="fetch")
    )


async def has_due(session: AsyncSession, now: datetime) -> bool:
    found = await session.scalar(
        select(Verification.id).where(OPEN, Verification.due_at <= now).limit(1)
    )
    return found is not None


async def set_email_verified_at(
    session: AsyncSession, contact_ids: Sequence[int], at: datetime | None
) -> None:
    await session.execute(
        update(Contact)
        .where(among(Contact.id, contact_ids))
        .values(email_verified_at=at)
        .execution_options(synchronize_session=False)
    )
    # The contacts this transaction holds (the one a request answers with) read the same.
    for contact_id in contact_ids:
        held = session.identity_map.get(identity_key(Contact, contact_id))
        if held is not None:
            set_committed_value(held, "email_verified_at", at)


async def claim_due(session: AsyncSession, now: datetime, *, limit: int) -> list[Verification]:
    query = (
        select(Verification)
        .where(OPEN, Verification.due_at <= now)
        .order_by(Verification.due_at, Verification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(query))


async def suspend(
    session: AsyncSession, verification: Verification, *, reason: str, at: datetime
) -> list[DomainSettings]:
    """Suspends, in one statement, the verification's domains that are registered and whose
    registrant (their own, or the account default standing in) still has its email."""
    registrant = DomainContact.__table__.alias("registrant")
    still = (
        select(Domain.id)
        .join(VerificationDomain, VerificationDomain.domain_id == Domain.id)
        .outerjoin(
            registrant,
            and_(registrant.c.domain_id == Domain.id, registrant.c.role == "registrant"),
        )
        .join(
            Contact,
            and_(
                Contact.account_id == Domain.account_id,
                or_(
                    Contact.id == registrant.c.contact_id,
                    and_(registrant.c.contact_id.is_(None), Contact.is_default.is_(True)),
                ),
            ),
        )
        .where(
            VerificationDomain.verification_id == verification.id,
            Domain.status == DomainStatus.REGISTERED,
            Contact.email_normalized == verification.email_normalized,
        )
    )
    rows = await session.execute(
        update(Domain)
        .where(Domain.id.in_(still.scalar_subquery()))
        .values(status=DomainStatus.SUSPENDED, suspended_reason=reason, updated_at=at)
        .returning(*SETTINGS)
        .execution_options(synchronize_session=False)
    )
    return sorted((DomainSettings._make(row) for row in rows), key=lambda row: row.name)


async def unsuspend(
    session: AsyncSession, verification_id: int, *, reason: str, at: datetime
) -> list[DomainSettings]:
    """Lifts, in one statement, every suspension of the verification's domains it caused."""
    concerned = select(VerificationDomain.domain_id).where(
        VerificationDomain.verification_id == verification_id
    )
    return await unsuspend_domains(session, concerned.scalar_subquery(), reason=reason, at=at)


async def unsuspend_domains(
    session: AsyncSession,
    domain_ids: Sequence[int] | ScalarSelect[int],
    *,
    reason: str,
    at: datetime,
) -> list[DomainSettings]:
    """Lifts, in one statement, the suspensions of those domains (a query of them, or a list)
    ``reason`` gave."""
    concerned = (
        Domain.id.in_(domain_ids)
        if isinstance(domain_ids, ScalarSelect)
        else among(Domain.id, domain_ids)
    )
    rows = await session.execute(
        update(Domain)
        .where(
            concerned,
            Domain.status == DomainStatus.SUSPENDED,
            Domain.suspended_reason == reason,
        )
        .values(status=DomainStatus.REGISTERED, suspended_reason=None, updated_at=at)
        .returning(*SETTINGS)
        .execution_options(synchronize_session=False)
    )
    lifted = sorted((DomainSettings._make(row) for row in rows), key=lambda row: row.name)
    # The domains this transaction holds (the one a request answers with) read the same.
    for domain in lifted:
        held = session.identity_map.get(identity_key(Domain, domain.id))
        if held is not None:
            set_committed_value(held, "status", DomainStatus.REGISTERED)
            set_committed_value(held, "suspended_reason", None)
            set_committed_value(held, "updated_at", at)
    return lifted


async def entries_of_contact(
    session: AsyncSession, account_id: int, contact_id: int, *, offset: int, limit: int
) -> tuple[Sequence[VerificationEntry], int]:
    where = (VerificationEntry.account_id == account_id, VerificationEntry.contact_id == contact_id)
    total = await session.scalar(select(func.count()).select_from(VerificationEntry).where(*where))
    rows = await session.scalars(
        select(VerificationEntry)
        .where(*where)
        .order_by(VerificationEntry.id)
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), total or 0
