"""Recording and reading the change history of contacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.db.base import utcnow
from nichandle.db.rows import insert_rows
from nichandle.errors import NotFound
from nichandle.history import repository
from nichandle.history.models import ContactVersion, DomainRoleChange
from nichandle.paging import Page, PageRequest

ContactAction = Literal["create", "update", "delete"]


class ContactChange(NamedTuple):
    """One contact's change: what history keeps of it (contacts.changes records it)."""

    action: ContactAction
    contact_id: int
    handle: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    # The editor declared a name/organisation change a typo fix (contacts.registrant_change);
    # kept for the change's subscribers, not in history.
    typo_correction: bool = False


async def record_contact_changes(
    session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]
) -> None:
    """A version row per change, in a single multi-row insert (an import writes thousands)."""
    if not changes:
        return
    now = utcnow()
    # The table, not the ORM entity: plain rows skip the ORM's per-row bookkeeping.
    await insert_rows(
        session,
        cast(Table, ContactVersion.__table__),
        [
            {
                "account_id": actor.account_id,
                "contact_id": change.contact_id,
                "handle": change.handle,
                "action": change.action,
                "actor_token_id": actor.token_id,
                "actor_user_id": actor.user_id,
                "dialect": actor.dialect,
                "created_at": now,
                "before": change.before,
                "after": change.after,
            }
            for change in changes
        ],
    )


async def contact_history(
    session: AsyncSession, account_id: int, handle: str, request: PageRequest
) -> Page[ContactVersion]:
    """A contact's versions, oldest first; deleted contacts keep theirs."""
    rows, total = await repository.versions_of_handle(
        session, account_id, handle, offset=request.offset, limit=request.per_page
    )
    if total == 0:
        raise NotFound(f"Contact `{handle}` not found", code="contact_not_found")
    return Page(items=rows, total=total, request=request)


async def domain_role_history(
    session: AsyncSession, account_id: int, domain_id: int, *, limit: int = 50
) -> Sequence[DomainRoleChange]:
    """A domain's latest role changes, newest first."""
    return await repository.role_changes_of_domain(session, account_id, domain_id, limit=limit)


def record_role_change(
    session: AsyncSession,
    actor: Actor,
    *,
    domain_id: int,
    domain_name: str,
    role: str,
    before_handle: str | None,
    after_handle: str | None,
) -> None:
    """A role moving between contacts; None stands for the account default."""
    session.add(
        DomainRoleChange(
            account_id=actor.account_id,
            domain_id=domain_id,
            domain_name=domain_name,
            role=role,
            before_handle=before_handle,
            after_handle=after_handle,
            actor_token_id=actor.token_id,
            actor_user_id=actor.user_id,
            dialect=actor.dialect,
        )
    )


class RoleMove(NamedTuple):
    domain_id: int
    domain_name: str
    role: str
    before_handle: str | None
    after_handle: str | None


async def record_role_changes(
    session: AsyncSession, actor: Actor, moves: Sequence[RoleMove]
) -> None:
    """record_role_change for many domains at once, as plain rows (a registrant of thousands)."""
    now = utcnow()
    await insert_rows(
        session,
        cast(Table, DomainRoleChange.__table__),
        [
            {
                **move._asdict(),
                "account_id": actor.account_id,
                "actor_token_id": actor.token_id,
                "actor_user_id": actor.user_id,
                "dialect": actor.dialect,
                "created_at": now,
            }
            for move in moves
        ],
    )
