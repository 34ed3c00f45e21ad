"""Reassigning a contact: contact A replaced by contact B in chosen roles across domains, in one
transaction, each domain's change through the one write point of roles (roles.assign_roles).

Only roles that name A explicitly move. A role left unset, which falls back to A while A is the
team's default, stays unset: pinning it to B would stop it following the default, and moving
the default is its own change. The answer counts those domains, so nobody is surprised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.contacts.service import ContactRef
from nichandle.domains import names, repository
from nichandle.domains.models import ROLES
from nichandle.domains.roles import assign_roles, many_domains, registrant_would_wait
from nichandle.errors import ErrorCollector, FieldErrors

# A selection longer than this is a list to split, not one change to review.
MAX_DOMAINS = 1000


@dataclass(frozen=True)
class Reassignment:
    """What a reassign changes (``dry_run``: would change), domain by domain."""

    from_handle: str
    to_handle: str
    roles: tuple[str, ...]
    dry_run: bool
    # (A-label, roles moved from A to B), by name.
    domains: list[tuple[str, list[str]]]
    # Selected domains where A holds none of the roles: nothing to change there.
    unchanged: list[str]
    # Domains (selected, or all) where one of the roles is unset and falls back to A as the
    # team's default: left as they are.
    default_fallback: int
    # Domains whose registrant change waits for both registrants' confirmation (cor-2024,
    # docs/registrant-change.md): their registrant role is not moved yet, so not in ``domains``.
    pending_registrant: list[str]


@dataclass(frozen=True)
class _Selection:
    roles: tuple[str, ...]
    # A-label -> the index and spelling it was first given at; None: every domain.
    names: dict[str, tuple[int, str]] | None


def _select(
    chosen_roles: Sequence[str] | None, domains: Sequence[str] | None, errors: ErrorCollector
) -> _Selection:
    """The roles (all four when None) and domains (as A-labels; all when None); problems are
    keyed ``roles.N`` / ``domains.N``."""
    if chosen_roles is None:
        picked: tuple[str, ...] = ROLES
    elif not chosen_roles:
        errors.add("roles", "blank", "must name at least one role")
        picked = ()
    else:
        for index, role in enumerate(chosen_roles):
            if role not in ROLES:
                errors.add(f"roles.{index}", "invalid", f"must be one of {', '.join(ROLES)}")
        picked = tuple(role for role in ROLES if role in chosen_roles)
    if domains is None:
        return _Selection(picked, None)
    selected: dict[str, tuple[int, str]] = {}
    if len(domains) > MAX_DOMAINS:
        errors.add("domains", "invalid", f"can't list more than {MAX_DOMAINS} domains")
        return _Selection(picked, selected)
    if not domains:
        errors.add("domains", "blank", "must name at least one domain (leave it out for all)")
    for index, name in enumerate(domains):
        try:
            selected.setdefault(names.to_ascii(name), (index, name))
        except names.InvalidName as exc:
            errors.add(f"domains.{index}", "invalid", str(exc))
    return _Selection(picked, selected)


async def _target(
    session: AsyncSession,
    account_id: int,
    source: Contact,
    handle: str,
    errors: ErrorCollector,
    *,
    lock: bool,
) -> Contact | None:
    """Contact B; key-share locked for a real run, so it can't be deleted before this commits.
    Another team's contact is as unknown as one that doesn't exist."""
    found = await contacts.find_contact(
        session, account_id, ContactRef(handle=handle), lock="key_share" if lock else None
    )
    if found is None:
        errors.add("to", "not_found", f"contact `{handle}` not found")
    elif found.id == source.id:
        errors.add("to", "invalid", "must be another contact than the one replaced")
    return found


async def _check_selected(
    session: AsyncSession,
    account_id: int,
    selected: dict[str, tuple[int, str]],
    errors: ErrorCollector,
) -> None:
    """A selected domain the team doesn't have is an error naming it: a typo must not pass as
    "nothing to change there"."""
    known = await repository.names_in_account(session, account_id, list(selected))
    for ascii_name, (index, name) in selected.items():
        if ascii_name not in known:
            errors.add(f"domains.{index}", "not_found", f"domain `{name}` not found")


async def reassign_contact(
    session: AsyncSession,
    actor: Actor,
    from_ref: ContactRef | str,
    to_ref: str,
    *,
    roles: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
    dry_run: bool = False,
) -> Reassignment:
    """Replaces contact A by contact B in the chosen roles (default all four) of every domain
    (or of the ``domains`` named) whose role rows name A; ``dry_run`` changes nothing and
    answers what a real run would change now."""
    account_id = actor.account_id
    errors = ErrorCollector()
    selection = _select(roles, domains, errors)
    source = await contacts.get_contact(session, account_id, from_ref)
    # Looked up unlocked first, so a bad request waits on nobody; a real run locks it below.
    target = await _target(session, account_id, source, to_ref, errors, lock=False)
    if selection.names:
        await _check_selected(session, account_id, selection.names, errors)
    errors.raise_if_any()
    names_only = list(selection.names) if selection.names is not None else None
    found = await repository.roles_held(
        session, account_id, source.id, selection.roles, names=names_only
    )
    # Lock order (docs/decisions.md): the domains, in id order, then the contact assigned.
    # Locked, each domain is read as it is now: a role that moved away meanwhile stays out.
    locked = {}
    if not dry_run:
        ids = [domain_id for domain_id, _name, _roles in found]
        locked = {
            domain.id: domain for domain in await repository.lock_many(session, account_id, ids)
        }
    if not dry_run:
        target = await _target(session, account_id, source, to_ref, errors, lock=True)
    if target is None:  # deleted since the first look
        raise FieldErrors(errors.problems)
    changed: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    if dry_run:
        for _domain_id, name, held in found:
            waits = "registrant" in held and await registrant_would_wait(
                session, actor, name, source, target
            )
            if waits:
                pending.append(name)
            if moved := [role for role in held if not (waits and role == "registrant")]:
                changed.append((name, moved))
    else:
        async with many_domains(session, actor):
            for domain_id, name, _held in found:
                domain = locked.get(domain_id)
                if domain is None:
                    continue  # deleted meanwhile
                holder = {row.role: row.contact_id for row in domain.roles}
                moving = {r: target for r in selection.roles if holder.get(r) == source.id}
                moved = await assign_roles(session, actor, domain, moving)
                if "registrant" in moving and "registrant" not in moved:
                    pending.append(name)  # held by the change-of-registrant policy
                if moved:
                    changed.append((name, moved))
    fallback = 0
    if source.is_default:
        fallback = await repository.count_unset(
            session, account_id, selection.roles, names=names_only
        )
    done = {name for name, _roles in changed} | set(pending)
    return Reassignment(
        from_handle=source.handle,
        to_handle=target.handle,
        roles=selection.roles,
        dry_run=dry_run,
        domains=changed,
        unchanged=[name for name in names_only or [] if name not in done],
        default_fallback=fallback,
        pending_registrant=pending,
    )
