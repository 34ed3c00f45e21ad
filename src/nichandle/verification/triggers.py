"""Where verifications start: the write path's two points (roles, contact changes).

Registrant verification builds on domains and contacts, so neither can call it; it subscribes
to both instead (``nichandle.write_path`` connects it): a domain's registrant set (a new domain,
a role change in any dialect, setContacts, a bulk reassign), and a contact's change (its email,
or its becoming the default that stands in for unset registrants).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.domains import names
from nichandle.domains.models import Domain
from nichandle.domains.repository import UsedBy, registrant_of
from nichandle.history.service import ContactChange
from nichandle.verification import service
from nichandle.verification.models import VerificationReason
from nichandle.verification.service import DomainRef


class RegistrantVerification:
    """Both subscriptions (contacts.changes.Dependents, domains.roles.RegistrantWatch)."""

    kind = "verifications"

    async def names_using(
        self, session: AsyncSession, contact: Contact, *, limit: int
    ) -> list[str]:
        return []  # a verification never keeps a contact from being deleted

    async def registrant_set(
        self, session: AsyncSession, actor: Actor, domain: Domain, *, created: bool
    ) -> None:
        row = next((row for row in domain.roles if row.role == "registrant"), None)
        registrant = (
            row.contact if row else await contacts.default_contact(session, actor.account_id)
        )
        if registrant is None:
            return
        reason = (
            VerificationReason.NEW_REGISTRATION if created else VerificationReason.REGISTRANT_CHANGE
        )
        ref = DomainRef(domain.id, domain.name, domain.tld)
        await service.registrant_set(session, actor, registrant, [ref], reason)

    async def contacts_changed(
        self, session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]
    ) -> None:
        new_email = [
            change
            for change in changes
            if change.after is not None
            and (change.before is None or _email(change.before) != _email(change.after))
        ]
        became_default = [
            change
            for change in changes
            if change.after is not None
            and change.after["is_default"]
            and not (change.before and change.before["is_default"])
        ]
        if not new_email and not became_default:
            return
        await service.emails_set(
            session,
            actor.account_id,
            {change.contact_id: _email(change.after) for change in new_email if change.after},
            was_set={change.contact_id for change in new_email if change.before is not None},
        )
        # Only updates can make an existing registrant's address new: few contacts, loaded.
        updated = [change for change in new_email if change.before is not None]
        ids = {change.contact_id for change in [*updated, *became_default]}
        if not ids:
            return
        found = {
            contact.id: contact
            for contact in await session.scalars(select(Contact).where(Contact.id.in_(ids)))
        }
        for change in updated:
            if change.contact_id in found:
                contact = found[change.contact_id]
                user = UsedBy(contact.id, contact.is_default)
                await self._registrant_of(
                    session, actor, contact, user, VerificationReason.EMAIL_CHANGE
                )
        for change in became_default:
            if change.contact_id in found:
                # The registrant of every domain that leaves the role unset, from now on.
                user = UsedBy(change.contact_id, True)
                await self._registrant_of(
                    session,
                    actor,
                    found[change.contact_id],
                    user,
                    VerificationReason.REGISTRANT_CHANGE,
                    explicit=False,
                )

    async def _registrant_of(
        self,
        session: AsyncSession,
        actor: Actor,
        contact: Contact,
        user: UsedBy,
        reason: VerificationReason,
        *,
        explicit: bool = True,
    ) -> None:
        registered = await registrant_of(session, actor.account_id, user, explicit=explicit)
        refs = [DomainRef(i, name, names.tld_of(name)) for i, name, _own in registered]
        if refs:
            await service.registrant_set(session, actor, contact, refs, reason)


def _email(version: dict[str, object]) -> str:
    return str(version.get("email") or "").casefold()


REGISTRANT_VERIFICATION = RegistrantVerification()
