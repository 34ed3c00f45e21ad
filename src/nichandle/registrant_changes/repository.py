"""Every query over changes of registrant, their requests, links and agents, scoped by account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.db.lists import among
from nichandle.paging import PageRequest
from nichandle.registrant_changes.models import (
    ChangeState,
    DesignatedAgent,
    NoticeOptOut,
    RegistrantChange,
    RegistrantChangeRequest,
    RegistrantChangeToken,
)


@dataclass(frozen=True)
class ChangeFilter:
    domain_id: int | None = None
    contact_id: int | None = None  # the prior or the new registrant
    new_contact_id: int | None = None
    states: tuple[ChangeState, ...] = ()
    # Pending ones: whether a party confirmed already (DNSimple's "pending", else "new").
    confirmed: bool | None = None
    ascending: bool = False  # by id; newest first by default


def _conditions(account_id: int, where: ChangeFilter) -> list[ColumnElement[bool]]:
    conditions = [RegistrantChange.account_id == account_id]
    if where.domain_id is not None:
        conditions.append(RegistrantChange.domain_id == where.domain_id)
    if where.contact_id is not None:
        conditions.append(
            or_(
                RegistrantChange.prior_contact_id == where.contact_id,
                RegistrantChange.new_contact_id == where.contact_id,
            )
        )
    if where.new_contact_id is not None:
        conditions.append(RegistrantChange.new_contact_id == where.new_contact_id)
    if where.states:
        conditions.append(RegistrantChange.state.in_(where.states))
    if where.confirmed is not None:
        someone = or_(
            RegistrantChangeRequest.prior_confirmed_at.is_not(None),
            RegistrantChangeRequest.new_confirmed_at.is_not(None),
        )
        confirmed = select(RegistrantChangeRequest.id).where(someone)
        requests = RegistrantChange.request_id.in_(confirmed)
        conditions.append(requests if where.confirmed else ~requests)
    return conditions


async def page(
    session: AsyncSession, account_id: int, where: ChangeFilter, request: PageRequest
) -> tuple[Sequence[RegistrantChange], int]:
    conditions = _conditions(account_id, where)
    total = await session.scalar(select(func.count()).where(*conditions))
    query = (
        select(RegistrantChange)
        .where(*conditions)
        .order_by(RegistrantChange.id.asc() if where.ascending else RegistrantChange.id.desc())
        .offset(request.offset)
        .limit(request.per_page)
    )
    return (await session.scalars(query)).all(), total or 0


async def by_id(
    session: AsyncSession, account_id: int, change_id: int, *, lock: bool = False
) -> RegistrantChange | None:
    query = select(RegistrantChange).where(
        RegistrantChange.account_id == account_id, RegistrantChange.id == change_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def request_by_id(
    session: AsyncSession, request_id: int, *, lock: bool = False
) -> RegistrantChangeRequest | None:
    query = select(RegistrantChangeRequest).where(RegistrantChangeRequest.id == request_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def requests_by_ids(
    session: AsyncSession, request_ids: set[int], *, lock: bool = False
) -> dict[int, RegistrantChangeRequest]:
    """The requests; ``lock``: locked in id order, as they are now."""
    query = select(RegistrantChangeRequest).where(among(RegistrantChangeRequest.id, request_ids))
    if lock:
        query = (
            query.order_by(RegistrantChangeRequest.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    return {request.id: request for request in await session.scalars(query)}


async def of_request(
    session: AsyncSession, request_id: int, *, state: ChangeState | None = None
) -> Sequence[RegistrantChange]:
    query = select(RegistrantChange).where(RegistrantChange.request_id == request_id)
    if state is not None:
        query = query.where(RegistrantChange.state == state)
    return (await session.scalars(query.order_by(RegistrantChange.domain_name))).all()


async def by_ids(session: AsyncSession, change_ids: Sequence[int]) -> list[RegistrantChange]:
    """The changes, by domain name."""
    query = select(RegistrantChange).where(among(RegistrantChange.id, change_ids))
    return list((await session.scalars(query.order_by(RegistrantChange.domain_name))).all())


async def pending_for_domains(
    session: AsyncSession, account_id: int, domain_ids: Sequence[int]
) -> dict[int, RegistrantChange]:
    """Domain id -> its pending change (one at most)."""
    query = select(RegistrantChange).where(
        RegistrantChange.account_id == account_id,
        RegistrantChange.state == ChangeState.PENDING,
        among(RegistrantChange.domain_id, domain_ids),
    )
    return {change.domain_id: change for change in await session.scalars(query)}


async def end_pending(
    session: AsyncSession,
    account_id: int,
    domain_ids: Sequence[int],
    state: ChangeState,
    *,
    at: datetime,
) -> list[RegistrantChange]:
    """Ends the pending changes of these domains (a newer change replaces them): the ended."""
    statement = (
        update(RegistrantChange)
        .where(
            RegistrantChange.account_id == account_id,
            RegistrantChange.state == ChangeState.PENDING,
            among(RegistrantChange.domain_id, domain_ids),
        )
        .values(state=state, ended_at=at, updated_at=at)
        .returning(RegistrantChange)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    return list((await session.scalars(statement)).all())


async def pending_for_new_contact(
    session: AsyncSession, account_id: int, contact_id: int
) -> Sequence[RegistrantChange]:
    """The pending changes that would make the contact their domains' registrant, by domain."""
    query = select(RegistrantChange).where(
        RegistrantChange.account_id == account_id,
        RegistrantChange.state == ChangeState.PENDING,
        RegistrantChange.new_contact_id == contact_id,
    )
    query = query.order_by(RegistrantChange.domain_name)
    return (await session.scalars(query.execution_options(populate_existing=True))).all()


async def pending_domain_names_for_new_contact(
    session: AsyncSession, account_id: int, contact_id: int, *, limit: int
) -> list[str]:
    query = (
        select(RegistrantChange.domain_name)
        .where(
            RegistrantChange.account_id == account_id,
            RegistrantChange.state == ChangeState.PENDING,
            RegistrantChange.new_contact_id == contact_id,
        )
        .order_by(RegistrantChange.domain_name)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def by_token_hash(
    session: AsyncSession, token_hash: str, *, lock: bool = False
) -> tuple[RegistrantChangeToken, RegistrantChangeRequest] | None:
    query = (
        select(RegistrantChangeToken, RegistrantChangeRequest)
        .join(
            RegistrantChangeRequest,
            RegistrantChangeRequest.id == RegistrantChangeToken.request_id,
        )
        .where(RegistrantChangeToken.token_hash == token_hash)
    )
    if lock:
        query = query.with_for_update(of=RegistrantChangeRequest).execution_options(
            populate_existing=True
        )
    row = (await session.execute(query)).one_or_none()
    return (row[0], row[1]) if row else None


async def claim_expired(
    session: AsyncSession, now: datetime, *, limit: int
) -> Sequence[RegistrantChangeRequest]:
    query = (
        select(RegistrantChangeRequest)
        .where(
            RegistrantChangeRequest.state == ChangeState.PENDING,
            RegistrantChangeRequest.expires_at <= now,
        )
        .order_by(RegistrantChangeRequest.expires_at, RegistrantChangeRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()


async def claim_notices(
    session: AsyncSession, now: datetime, *, limit: int
) -> Sequence[RegistrantChangeRequest]:
    query = (
        select(RegistrantChangeRequest)
        .where(
            RegistrantChangeRequest.notified_at.is_(None),
            RegistrantChangeRequest.notify_due_at <= now,
        )
        .order_by(RegistrantChangeRequest.notify_due_at, RegistrantChangeRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()


async def claim_locks_ending(
    session: AsyncSession, now: datetime, *, limit: int
) -> Sequence[RegistrantChange]:
    query = (
        select(RegistrantChange)
        .where(
            RegistrantChange.lock_released_at.is_(None),
            RegistrantChange.transfer_lock_until <= now,
        )
        .order_by(RegistrantChange.transfer_lock_until, RegistrantChange.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()


async def has_due(session: AsyncSession, now: datetime) -> bool:
    """Whether the worker has anything to do: a read first, so an idle worker never takes
    SQLite's write lock."""
    checks = (
        select(RegistrantChangeRequest.id).where(
            RegistrantChangeRequest.state == ChangeState.PENDING,
            RegistrantChangeRequest.expires_at <= now,
        ),
        select(RegistrantChangeRequest.id).where(
            RegistrantChangeRequest.notified_at.is_(None),
            RegistrantChangeRequest.notify_due_at <= now,
        ),
        select(RegistrantChange.id).where(
            RegistrantChange.lock_released_at.is_(None),
            RegistrantChange.transfer_lock_until <= now,
        ),
    )
    for check in checks:
        if await session.scalar(check.limit(1)) is not None:
            return True
    return False


async def active_agents(session: AsyncSession, account_id: int) -> Sequence[DesignatedAgent]:
    query = (
        select(DesignatedAgent)
        .where(DesignatedAgent.account_id == account_id, DesignatedAgent.revoked_at.is_(None))
        .order_by(DesignatedAgent.id)
    )
    return (await session.scalars(query)).all()


async def agents(session: AsyncSession, account_id: int) -> Sequence[DesignatedAgent]:
    query = (
        select(DesignatedAgent)
        .where(DesignatedAgent.account_id == account_id)
        .order_by(DesignatedAgent.id)
    )
    return (await session.scalars(query)).all()


async def agent_by_id(
    session: AsyncSession, account_id: int, agent_id: int, *, lock: bool = False
) -> DesignatedAgent | None:
    query = select(DesignatedAgent).where(
        DesignatedAgent.account_id == account_id, DesignatedAgent.id == agent_id
    )
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def notice_opt_out(session: AsyncSession, contact_id: int) -> NoticeOptOut | None:
    return await session.get(NoticeOptOut, contact_id)
