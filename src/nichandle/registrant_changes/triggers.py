"""Where changes of registrant start: the write path's two points (roles, contact changes).

The policy builds on domains and contacts, so neither can call it; it subscribes to both
(``nichandle.write_path`` connects it): the registrant role pointed at another contact (any
dialect, setContacts, a bulk reassign), and an edit of a contact that is a registrant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts import registrant_change
from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.domains.models import Domain
from nichandle.history.service import ContactChange
from nichandle.registrant_changes import repository, service


class RegistrantChanges:
    """Both subscriptions (contacts.changes.Dependents, domains.roles.RegistrantPolicy)."""

    kind = "pending registrant changes of"

    async def names_using(
        self, session: AsyncSession, contact: Contact, *, limit: int
    ) -> list[str]:
        # The new registrant of a pending change is kept until it is applied or ends.
        return await repository.pending_domain_names_for_new_contact(
            session, contact.account_id, contact.id, limit=limit
        )

    async def contacts_changed(
        self, session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]
    ) -> None:
        # First: a new default that was edited too is then registrant of its own domains only.
        await _default_moved(session, actor, changes)
        for change in changes:
            if change.action != "update" or change.before is None or change.after is None:
                continue
            fields = registrant_change.material_fields(
                change.before, change.after, typo_correction=change.typo_correction
            )
            if not fields:
                continue
            contact = await session.get(Contact, change.contact_id)
            if contact is not None:
                await service.registrant_edited(session, actor, contact, change.before, fields)

    async def registrant_repointed(
        self,
        session: AsyncSession,
        actor: Actor,
        domain: Domain,
        previous: Contact | None,
        new: Contact | None,
    ) -> bool:
        return await service.registrant_repointed(session, actor, domain, previous, new)

    async def would_hold(
        self, session: AsyncSession, actor: Actor, domain_name: str, previous: Contact, new: Contact
    ) -> bool:
        return await service.would_hold(session, actor, domain_name, previous, new)

    def many_domains(self, session: AsyncSession) -> None:
        service.many_domains(session)

    async def many_domains_done(
        self, session: AsyncSession, actor: Actor, *, completed: bool
    ) -> None:
        await service.started_together(session, actor, completed=completed)


async def _default_moved(
    session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]
) -> None:
    """The account's default moved (one contact left it, another took it, in this change)."""

    def default(version: dict[str, Any] | None) -> bool:
        return bool(version and version["is_default"])

    left = next((c for c in changes if default(c.before) and not default(c.after)), None)
    took = next((c for c in changes if default(c.after) and not default(c.before)), None)
    if left is None or took is None or left.after is None:
        return
    previous = await contacts.find_contact(
        session, actor.account_id, contacts.ContactRef(id=left.contact_id)
    )
    new = await contacts.find_contact(
        session, actor.account_id, contacts.ContactRef(id=took.contact_id)
    )
    if previous is not None and new is not None:
        await service.default_moved(session, actor, previous, new)


REGISTRANT_CHANGES = RegistrantChanges()
