"""The one write point of contact changes.

Every path that creates, updates or deletes a contact (the three dialects, the bulk import, the
CLI, the web UI) ends in ``record``: the history versions, the events and whatever reacts to a
change are written there and nowhere else, in the caller's transaction.

The packages whose records point at contacts (domain roles, certificates) build on this one, so
it cannot call them; they subscribe as ``Dependents`` instead (``nichandle.write_path`` connects
them). They answer two questions: what of theirs uses a contact (a contact in use is never
deleted), and what follows from changes (registry sync of every domain a contact serves).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts.models import Contact
from nichandle.events import catalogue
from nichandle.events.service import emit_many
from nichandle.history.service import ContactAction, ContactChange, record_contact_changes


class Dependents(Protocol):
    """Records of another package that point at contacts."""

    @property
    def kind(self) -> str:
        """How a refusal names them: "domains", "certificates"."""
        ...

    async def names_using(
        self, session: AsyncSession, contact: Contact, *, limit: int
    ) -> list[str]:
        """Up to ``limit`` names of the records that use ``contact`` (the default fallback
        included), in a stable order."""
        ...

    async def contacts_changed(
        self, session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]
    ) -> None:
        """Reacts to recorded changes, in their transaction."""
        ...


_dependents: list[Dependents] = []


def connect(dependents: Dependents) -> None:
    """Subscribes a package to every contact change (once, however often it is called)."""
    if dependents not in _dependents:
        _dependents.append(dependents)


def dependents() -> Sequence[Dependents]:
    if not _dependents:
        # Writing without them would skip registry sync and delete contacts in use.
        raise RuntimeError("contact changes recorded before nichandle.write_path.connect()")
    return _dependents


async def record(session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]) -> None:
    """Writes the changes' history versions and events, then lets every dependent react."""
    if not changes:
        return
    await session.flush()  # the changed rows first: dependents query them
    await record_contact_changes(session, actor, changes)

    def of(action: ContactAction) -> list[ContactChange]:
        return [change for change in changes if change.action == action]

    await emit_many(
        session,
        actor,
        catalogue.CONTACT_CREATED,
        [catalogue.ContactCreated(contact=_contact(c.contact_id, c.after)) for c in of("create")],
    )
    await emit_many(
        session,
        actor,
        catalogue.CONTACT_UPDATED,
        [
            catalogue.ContactUpdated(
                before=_contact(c.contact_id, c.before), contact=_contact(c.contact_id, c.after)
            )
            for c in of("update")
        ],
    )
    await emit_many(
        session,
        actor,
        catalogue.CONTACT_DELETED,
        [catalogue.ContactDeleted(contact=_contact(c.contact_id, c.before)) for c in of("delete")],
    )
    for dependent in dependents():
        await dependent.contacts_changed(session, actor, changes)


def _contact(contact_id: int, version: dict[str, Any] | None) -> dict[str, Any]:
    """The contact as an event carries it: history's version of it, with its id."""
    assert version is not None  # noqa: S101 - a create has an after, a delete a before
    return {"id": contact_id, **version}
