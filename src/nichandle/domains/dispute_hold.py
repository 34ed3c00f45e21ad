"""The dispute hold: while staff hold a domain, no write path changes its registrant.

A change of registrant (contacts.registrant_change) reaches a domain two ways: an edit of the
contact that is its registrant (contacts.changes, subscribed as a Dependent through
``nichandle.write_path``), or the registrant role pointed at another contact (roles.assign_roles
asks ``refuse_repoint``). Either is refused with a Conflict naming the held domains, in the
edit's transaction, so nothing of it is written. docs/registrant-change.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts import registrant_change
from nichandle.contacts.models import Contact
from nichandle.contacts.service import snapshot
from nichandle.domains import repository
from nichandle.domains.repository import UsedBy
from nichandle.errors import Conflict
from nichandle.history.service import ContactChange

NAMED = 10  # a refusal names this many held domains at most


def refusal(names: Sequence[str], fields: Sequence[str]) -> Conflict:
    listed = ", ".join(f"`{name}`" for name in names[:NAMED])
    more = " and more" if len(names) > NAMED else ""
    return Conflict(
        f"Domain {listed}{more} is under a dispute hold: its registrant can't change "
        f"({', '.join(fields)}) until the hold is lifted",
        code="dispute_hold",
    )


def refuse_repoint(domain_name: str, previous: Contact | None, new: Contact | None) -> None:
    """Refuses pointing a held domain's registrant at a contact of another identity."""
    before = snapshot(previous) if previous else {}
    after = snapshot(new) if new else {}
    if fields := registrant_change.repoint_material_fields(before, after):
        raise refusal([domain_name], fields)


class DisputeHold:
    """The held domains' side of contact changes (contacts.changes.Dependents)."""

    kind = "dispute holds"

    async def names_using(
        self, session: AsyncSession, contact: Contact, *, limit: int
    ) -> list[str]:
        return []  # a hold never keeps a contact from being deleted (its roles do)

    async def contacts_changed(
        self, session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]
    ) -> None:
        # Setting a hold key-share-locks the registrant (domains.service), so an edit either
        # commits before the hold or, waiting for it, reads it here.
        old_default = next(
            (c.before for c in changes if _default(c.before) and not _default(c.after)), None
        )
        for change in changes:
            if change.action != "update" or change.before is None or change.after is None:
                continue
            fields = registrant_change.material_fields(
                change.before, change.after, typo_correction=change.typo_correction
            )
            user = UsedBy(change.contact_id, _default(change.before))
            if fields:
                await _refuse_if_held(session, actor, user, fields, explicit=True)
            if old_default is not None and _default(change.after) and not user.is_default:
                # It stands in for every registrant left unset, in the old default's place.
                moved = registrant_change.repoint_material_fields(old_default, change.after)
                if moved:
                    user = UsedBy(change.contact_id, True)
                    await _refuse_if_held(session, actor, user, moved, explicit=False)


async def _refuse_if_held(
    session: AsyncSession,
    actor: Actor,
    user: UsedBy,
    fields: Sequence[str],
    *,
    explicit: bool,
) -> None:
    held = await repository.held_registered_to(
        session, actor.account_id, user, explicit=explicit, limit=NAMED + 1
    )
    if held:
        raise refusal(held, fields)


def _default(version: dict[str, Any] | None) -> bool:
    return bool(version and version.get("is_default"))


DISPUTE_HOLD = DisputeHold()
