"""Domain roles: the one write point of role assignments, and what the roles make of contact
changes (registry sync of every domain a contact serves, the refusal to delete one in use)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts.models import Contact
from nichandle.contacts.service import default_contact
from nichandle.contacts.validation import TEXT_FIELDS
from nichandle.db.base import utcnow
from nichandle.domains import dispute_hold, repository
from nichandle.domains.models import Domain, DomainContact
from nichandle.domains.repository import DomainSettings, UsedBy
from nichandle.events import catalogue
from nichandle.events.service import emit, emit_many
from nichandle.history.service import (
    ContactChange,
    RoleMove,
    record_role_change,
    record_role_changes,
)


class RegistrantWatch(Protocol):
    """Whatever follows from a domain's registrant being set (registrant verification)."""

    async def registrant_set(
        self, session: AsyncSession, actor: Actor, domain: Domain, *, created: bool
    ) -> None: ...


class RegistrantPolicy(Protocol):
    """Decides a change of a domain's registrant (the change-of-registrant policy): whether
    pointing the role elsewhere is held as a pending change instead of applied now."""

    async def registrant_repointed(
        self,
        session: AsyncSession,
        actor: Actor,
        domain: Domain,
        previous: Contact | None,
        new: Contact | None,
    ) -> bool:
        """True: the role stays as it is until the change is confirmed."""
        ...

    async def would_hold(
        self, session: AsyncSession, actor: Actor, domain_name: str, previous: Contact, new: Contact
    ) -> bool:
        """Whether registrant_repointed would hold it, deciding nothing (a dry run)."""
        ...

    def many_domains(self, session: AsyncSession) -> None:
        """The roles of many domains are assigned next (many_domains below)."""
        ...

    async def many_domains_done(
        self, session: AsyncSession, actor: Actor, *, completed: bool
    ) -> None:
        """They are: what the policy held back to do together is done now (dropped when the
        assignments failed: their transaction is rolled back)."""
        ...


_watchers: list[RegistrantWatch] = []
_policies: list[RegistrantPolicy] = []


def decide_with(policy: RegistrantPolicy) -> None:
    """Subscribes the change-of-registrant policy (once, however often it is called)."""
    if policy not in _policies:
        _policies.append(policy)


def watch(watcher: RegistrantWatch) -> None:
    """Subscribes to every registrant set (once, however often it is called)."""
    if watcher not in _watchers:
        _watchers.append(watcher)


async def _registrant_set(
    session: AsyncSession, actor: Actor, domain: Domain, *, created: bool
) -> None:
    for watcher in _watchers:
        await watcher.registrant_set(session, actor, domain, created=created)


@asynccontextmanager
async def many_domains(session: AsyncSession, actor: Actor) -> AsyncIterator[None]:
    """Role assignments of many domains in one transaction (a reassign): the policy may record
    its changes of registrant together at the end, in a few statements for thousands of
    domains instead of several per domain. Nothing is recorded if the block fails (the
    transaction is rolled back with it)."""
    for policy in _policies:
        policy.many_domains(session)
    try:
        yield
    except BaseException:
        for policy in _policies:
            await policy.many_domains_done(session, actor, completed=False)
        raise
    for policy in _policies:
        await policy.many_domains_done(session, actor, completed=True)


def used_by(contact: Contact) -> UsedBy:
    return UsedBy(contact.id, contact.is_default)


async def assign_roles(
    session: AsyncSession,
    actor: Actor,
    domain: Domain,
    assignments: Mapping[str, Contact | None],
    *,
    created: bool = False,
    removing: bool = False,
    decided: bool = False,
) -> list[str]:
    """Points roles at contacts (None: back to the default); a history row per role changed and
    one ``domain.contacts_changed`` event. The caller holds the domain's lock and the contacts'
    (contacts.service.contacts_to_assign). Returns the roles that changed.

    The watchers hear of a new registrant: on ``created`` (a new domain, whose registrant may be
    the default), or when the registrant role changed, unless the domain is ``removing``.

    A new registrant of an existing domain is the change-of-registrant policy's to decide; it
    may hold the role as it is, pending confirmation (``decided``: the policy applies its own
    confirmed change)."""
    current = {row.role: row for row in domain.roles}
    if not (created or removing or decided) and "registrant" in assignments:
        assignments = await _decide_registrant(session, actor, domain, current, assignments)
    changed: list[tuple[str, str | None, str | None]] = []
    for role, contact in assignments.items():
        row = current.get(role)
        before = row.contact.handle if row else None
        after = contact.handle if contact else None
        if before == after:
            continue
        if contact is None and row is not None:
            domain.roles.remove(row)
        elif row is None and contact is not None:
            domain.roles.append(
                DomainContact(
                    role=role, account_id=domain.account_id, contact_id=contact.id, contact=contact
                )
            )
        elif row is not None and contact is not None:
            row.contact_id = contact.id
            row.contact = contact
        changed.append((role, before, after))
    if not changed:
        if created:
            await _registrant_set(session, actor, domain, created=True)
        return []
    domain.updated_at = utcnow()
    if domain.id is None:
        await session.flush()
    # Otherwise nothing to flush yet: the next query or the commit writes it, together with
    # the other domains a bulk change (reassign) touched, in batches instead of one by one.
    for role, before, after in changed:
        record_role_change(
            session,
            actor,
            domain_id=domain.id,
            domain_name=domain.name,
            role=role,
            before_handle=before,
            after_handle=after,
        )
    roles = [role for role, _before, _after in changed]
    emit(
        session,
        actor,
        catalogue.DOMAIN_CONTACTS_CHANGED,
        catalogue.DomainContactsChanged(domain=domain.name, domain_id=domain.id, roles=roles),
    )
    if not removing and (created or "registrant" in roles):
        await _registrant_set(session, actor, domain, created=created)
    return roles


async def _decide_registrant(
    session: AsyncSession,
    actor: Actor,
    domain: Domain,
    current: Mapping[str, DomainContact],
    assignments: Mapping[str, Contact | None],
) -> Mapping[str, Contact | None]:
    """The dispute hold's refusal, then the policy's decision: the assignments left to make."""
    row = current.get("registrant")
    new = assignments["registrant"]
    if (row.contact if row else None) is new and new is not None:
        return assignments
    default = None
    if row is None or new is None:
        default = await default_contact(session, domain.account_id)
    previous, new = (row.contact if row else default), (new or default)
    if previous is new:
        return assignments
    if domain.dispute_hold:
        dispute_hold.refuse_repoint(domain.name, previous, new)
    for policy in _policies:
        if await policy.registrant_repointed(session, actor, domain, previous, new):
            return {role: c for role, c in assignments.items() if role != "registrant"}
    return assignments


async def registrant_would_wait(
    session: AsyncSession, actor: Actor, domain_name: str, previous: Contact, new: Contact
) -> bool:
    """Whether pointing the domain's registrant from ``previous`` at ``new`` would wait for
    confirmation, changing nothing (a reassign's dry run)."""
    for policy in _policies:
        if await policy.would_hold(session, actor, domain_name, previous, new):
            return True
    return False


async def repoint_registrants(
    session: AsyncSession,
    actor: Actor,
    domains: Sequence[tuple[int, str, str | None]],
    contact: Contact,
) -> list[DomainSettings]:
    """Points the registrant role of many domains at ``contact`` in a few statements (the
    change-of-registrant policy, for a registrant of thousands of domains): ``domains`` are
    (id, name, the handle the role names now or None for the default). History and a
    ``domain.contacts_changed`` each, as assign_roles writes; the policy has decided already,
    so no watcher is told. The domains' ORM objects in this session are stale afterwards; their
    settings as they are now are returned."""
    if not domains:
        return []
    now = utcnow()
    ids = [domain_id for domain_id, _name, _before in domains]
    explicit = {domain_id for domain_id, _name, before in domains if before is not None}
    moved = await repository.set_registrant(
        session,
        contact.account_id,
        [i for i in ids if i in explicit],
        [i for i in ids if i not in explicit],
        contact.id,
        at=now,
    )
    await record_role_changes(
        session,
        actor,
        [
            RoleMove(domain_id, name, "registrant", before, contact.handle)
            for domain_id, name, before in domains
        ],
    )
    await emit_many(
        session,
        actor,
        catalogue.DOMAIN_CONTACTS_CHANGED,
        [
            catalogue.DomainContactsChanged(
                domain=name, domain_id=domain_id, roles=["registrant"], contact=contact.handle
            )
            for domain_id, name, _before in domains
        ],
    )
    return moved


@dataclass(frozen=True)
class DomainRoles:
    """The domains' side of contact changes (contacts.changes.Dependents)."""

    kind: str = "domains"

    async def names_using(
        self, session: AsyncSession, contact: Contact, *, limit: int
    ) -> list[str]:
        found = await repository.roles_used_by(
            session, contact.account_id, used_by(contact), limit=limit
        )
        return [name for _id, name, _roles in found]

    async def contacts_changed(
        self, session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]
    ) -> None:
        """One ``domain.contacts_changed`` event per domain a changed contact serves, so registry
        sync pushes the new details: every role of a contact whose details changed, the unset
        roles of a contact that became the default."""
        payloads: list[catalogue.DomainContactsChanged] = []
        for change in changes:
            reach = _reach(change)
            if reach is None:
                continue
            user = UsedBy(change.contact_id, bool(change.after and change.after["is_default"]))
            for domain_id, name, roles in await repository.roles_used_by(
                session, actor.account_id, user, explicit=reach == "all"
            ):
                payloads.append(
                    {
                        "domain": name,
                        "domain_id": domain_id,
                        "contact": change.handle,
                        "roles": roles,
                    }
                )
        await emit_many(session, actor, catalogue.DOMAIN_CONTACTS_CHANGED, payloads)


def _reach(change: ContactChange) -> str | None:
    """Which of a contact's roles a change reaches: "all" when its details changed, "unset"
    when it became the default (a default moving away is covered by the one it moved to)."""
    before, after = change.before, change.after
    if after is None:
        return None  # deleted: nothing used it
    if before is not None and any(before[field] != after[field] for field in TEXT_FIELDS):
        return "all"
    if after["is_default"] and not (before and before["is_default"]):
        return "unset"
    return None


DOMAIN_ROLES = DomainRoles()
