"""Recording and reading the change history of contacts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.errors import NotFound
from nichandle.history import repository
from nichandle.history.models import ContactVersion, DomainRoleChange
from nichandle.paging import Page, PageRequest


def record_contact_change(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    contact_id: int,
    handle: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> ContactVersion:
    version = ContactVersion(
        account_id=actor.account_id,
        contact_id=contact_id,
        handle=handle,
        action=action,
        actor_token_id=actor.token_id,
        dialect=actor.dialect,
        before=before,
        after=after,
    )
    session.add(version)
    return version


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
            dialect=actor.dialect,
        )
    )
