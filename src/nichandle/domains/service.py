"""The rules of domains: roles that reference contacts, the default fallback, certificates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import repository as accounts_repository
from nichandle.accounts.service import Actor
from nichandle.contacts import matching
from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.contacts.service import ContactRef
from nichandle.db.base import parse_id, utcnow
from nichandle.domains import limits, names, repository, roles
from nichandle.domains.models import ROLES, Domain, DomainStatus
from nichandle.domains.repository import DomainFilter
from nichandle.domains.roles import used_by
from nichandle.domains.status import lock_payload, settings_payload
from nichandle.errors import Conflict, ErrorCollector, FieldErrors, NotFound, Problem
from nichandle.events import catalogue
from nichandle.events.service import emit
from nichandle.paging import Page, PageRequest

DEFAULT_TERM = timedelta(days=365)
SORTABLE_FIELDS = frozenset(repository.SORT_COLUMNS)
DOMAIN_FIELDS = ("autorenew", "privacy", "locked", "nameservers", "expires_at", "renewal_price")


@dataclass(frozen=True)
class ResolvedRole:
    contact: Contact
    # True when the domain leaves the role unset and the account default stands in.
    by_default: bool


@dataclass
class DomainView:
    """A domain with every role resolved to a contact (or None if the account has none)."""

    domain: Domain
    roles: dict[str, ResolvedRole | None] = field(default_factory=dict)

    def contact(self, role: str) -> Contact | None:
        resolved = self.roles.get(role)
        return resolved.contact if resolved else None


def domain_not_found(name: str) -> NotFound:
    return NotFound(f"Domain `{name}` not found", code="domain_not_found")


def _ascii_name(name: str, *, field_name: str = "name") -> str:
    try:
        return names.to_ascii(name)
    except names.InvalidName as exc:
        raise FieldErrors.single(field_name, "invalid", str(exc)) from exc


def _lookup_name(name: str) -> str:
    """A name from a URL: unknown-looking names are simply not found, not a 422."""
    try:
        return names.to_ascii(name)
    except names.InvalidName:
        return name.lower()


def _nameservers(values: Sequence[str], errors: ErrorCollector) -> list[str]:
    out: list[str] = []
    if len(values) > names.MAX_NAMESERVERS:
        errors.add("nameservers", "invalid", f"can't list more than {names.MAX_NAMESERVERS}")
        return out
    for index, host in enumerate(values):
        try:
            ascii_host = names.to_ascii(host)
        except names.InvalidName as exc:
            errors.add(f"nameservers.{index}", "invalid", str(exc))
            continue
        if ascii_host not in out:
            out.append(ascii_host)
    return out


def _price_minor(value: Any, errors: ErrorCollector) -> int | None:
    return limits.price_minor(value, errors)


def renewal_price(domain: Domain) -> Decimal | None:
    if domain.renewal_price_minor is None:
        return None
    return (Decimal(domain.renewal_price_minor) / 100).quantize(Decimal("0.01"))


def _apply_settings(domain: Domain, changes: Mapping[str, Any], errors: ErrorCollector) -> None:
    for flag in ("autorenew", "privacy", "locked"):
        if changes.get(flag) is not None:
            setattr(domain, flag, bool(changes[flag]))
    if changes.get("nameservers") is not None:
        domain.nameservers = _nameservers(changes["nameservers"], errors)
    if changes.get("expires_at") is not None:
        # Refused: the collected error is raised before anything is written.
        domain.expires_at = limits.expiry(changes["expires_at"], errors) or domain.expires_at
    if "renewal_price" in changes:
        domain.renewal_price_minor = _price_minor(changes["renewal_price"], errors)


async def _contacts_for_roles(
    session: AsyncSession, account_id: int, handles: Mapping[str, str | None]
) -> dict[str, Contact | None]:
    """Role -> contact for role -> handle; an unknown (or foreign) handle names its role."""
    errors = ErrorCollector()
    found: dict[str, Contact | None] = {}
    for role, handle in handles.items():
        if role not in ROLES:
            continue  # unknown role keys are ignored
        if handle is None:
            found[role] = None
            continue
        # Key-share locked: a contact being assigned can't be deleted until this commits.
        contact = await contacts.find_contact(
            session, account_id, ContactRef(handle=handle), lock="key_share"
        )
        if contact is None:
            errors.add(f"contacts.{role}", "not_found", f"contact `{handle}` not found")
        found[role] = contact
    errors.raise_if_any()
    return found


async def resolve(session: AsyncSession, domain: Domain) -> DomainView:
    """Every role of a domain as a contact, falling back to the account default at read time."""
    return (await resolve_many(session, [domain]))[0]


async def resolve_many(session: AsyncSession, domains: Sequence[Domain]) -> list[DomainView]:
    defaults: dict[int, Contact | None] = {}
    views = []
    for domain in domains:
        explicit = {row.role: row.contact for row in domain.roles}
        if len(explicit) < len(ROLES) and domain.account_id not in defaults:
            defaults[domain.account_id] = await contacts.default_contact(session, domain.account_id)
        default = defaults.get(domain.account_id)
        view = DomainView(domain)
        for role in ROLES:
            if role in explicit:
                view.roles[role] = ResolvedRole(explicit[role], by_default=False)
            else:
                view.roles[role] = ResolvedRole(default, by_default=True) if default else None
        views.append(view)
    return views


async def add_domain(
    session: AsyncSession,
    actor: Actor,
    name: str,
    *,
    contacts_by_role: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> DomainView:
    """Adds an existing registration to the account; roles not given use the default contact."""
    ascii_name = _ascii_name(name)
    if await repository.by_name(session, actor.account_id, ascii_name) is not None:
        raise Conflict(f"Domain `{ascii_name}` is already in this account", code="domain_exists")
    now = utcnow()
    domain = Domain(
        account_id=actor.account_id,
        name=ascii_name,
        tld=names.tld_of(ascii_name),
        status=DomainStatus.REGISTERED,
        autorenew=False,
        locked=False,
        privacy=False,
        created_at=now,
        updated_at=now,
        expires_at=now + DEFAULT_TERM,
        roles=[],
    )
    errors = ErrorCollector()
    _apply_settings(domain, settings or {}, errors)
    if not (settings or {}).get("nameservers"):
        account = await accounts_repository.account_by_id(session, actor.account_id)
        domain.nameservers = list(account.default_nameservers) if account else []
    errors.raise_if_any()
    assignments = await _contacts_for_roles(session, actor.account_id, contacts_by_role or {})
    session.add(domain)
    await session.flush()
    emit(session, actor, catalogue.DOMAIN_CREATED, settings_payload(domain))
    await roles.assign_roles(session, actor, domain, assignments, created=True)
    return await resolve(session, domain)


async def get_domain_model(
    session: AsyncSession, account_id: int, name: str, *, lock: bool = False
) -> Domain:
    """The domain by name; ``lock``: held until commit, as it is now (writes of its roles)."""
    domain = await repository.by_name(session, account_id, _lookup_name(name), lock=lock)
    if domain is None:
        raise domain_not_found(name)
    return domain


async def get_domain(session: AsyncSession, account_id: int, name: str) -> DomainView:
    return await resolve(session, await get_domain_model(session, account_id, name))


async def get_domain_by_name_or_id(
    session: AsyncSession, account_id: int, name_or_id: str
) -> DomainView:
    """A domain named by its name or, all digits, by its id (no domain name is all digits)."""
    if name_or_id.isascii() and name_or_id.isdigit():
        domain_id = parse_id(name_or_id)
        domain = await repository.by_id(session, account_id, domain_id) if domain_id else None
        if domain is None:
            raise domain_not_found(name_or_id)
        return await resolve(session, domain)
    return await get_domain(session, account_id, name_or_id)


def parse_sort(spec: str | None) -> list[tuple[str, bool]]:
    """``"expiration:asc,name:desc"`` over id, name and expiration (see contacts.parse_sort)."""
    return contacts.parse_sort(spec, allowed=SORTABLE_FIELDS)


async def list_domains(
    session: AsyncSession,
    account_id: int,
    request: PageRequest,
    *,
    query: str | None = None,
    contact: Contact | None = None,
    registrant: Contact | None = None,
    sort: Sequence[tuple[str, bool]] = (),
) -> Page[DomainView]:
    """A page of the account's domains; ``contact``/``registrant`` count the default fallback."""
    where = DomainFilter(
        query=query or None,
        contact=used_by(contact) if contact else None,
        registrant=used_by(registrant) if registrant else None,
    )
    items, total = await repository.page(session, account_id, where, request, sort)
    return Page(items=await resolve_many(session, items), total=total, request=request)


async def list_domains_by_registrant_id(
    session: AsyncSession,
    account_id: int,
    request: PageRequest,
    *,
    query: str | None = None,
    registrant_id: int | str | None = None,
    sort: Sequence[tuple[str, bool]] = (),
) -> Page[DomainView]:
    """Like list_domains, with the registrant named by contact id (unknown id: no domains)."""
    registrant = None
    if registrant_id is not None:
        registrant = await contacts.find_contact(session, account_id, ContactRef(id=registrant_id))
        if registrant is None:
            return Page(items=[], total=0, request=request)
    return await list_domains(
        session, account_id, request, query=query, registrant=registrant, sort=sort
    )


async def list_domains_by_handle(
    session: AsyncSession,
    account_id: int,
    request: PageRequest,
    *,
    query: str | None = None,
    contact_handle: str | None = None,
) -> Page[DomainView]:
    """Like list_domains, with the contact named by handle (unknown handle: no domains)."""
    contact = None
    if contact_handle:
        contact = await contacts.find_contact(
            session, account_id, ContactRef(handle=contact_handle)
        )
        if contact is None:
            return Page(items=[], total=0, request=request)
    return await list_domains(session, account_id, request, query=query, contact=contact)


async def update_domain(
    session: AsyncSession,
    actor: Actor,
    name: str,
    changes: Mapping[str, Any],
    *,
    contacts_by_role: Mapping[str, str | None] | None = None,
    reset_roles: bool = False,
) -> DomainView:
    """Changes settings, and the roles given (a handle, or None: back to the default;
    ``reset_roles``: every role back to the default)."""
    if changes.get("dispute_hold") and not contacts_by_role and not reset_roles:
        # Setting a hold locks the registrant before the domain, in an edit's order (the
        # contact, then the domains it serves), so the two never wait on each other in a cycle.
        unlocked = await get_domain_model(session, actor.account_id, name)
        if not unlocked.dispute_hold:
            await _hold_registrant(session, actor.account_id, unlocked)
    domain = await get_domain_model(session, actor.account_id, name, lock=True)
    was_locked = domain.locked
    errors = ErrorCollector()
    _apply_settings(domain, changes, errors)
    errors.raise_if_any()
    # Decided before the roles: a change of settings is domain.updated, a change of roles is
    # domain.contacts_changed (assign_roles), and one request may make both.
    settings_changed = session.is_modified(domain)
    # After: a hold's lock query flushes the domain, which is_modified would no longer see.
    settings_changed |= await _apply_registrant_settings(session, actor, domain, changes)
    if reset_roles:
        await roles.assign_roles(session, actor, domain, dict.fromkeys(ROLES))
    elif contacts_by_role:
        assignments = await _contacts_for_roles(session, actor.account_id, contacts_by_role)
        await roles.assign_roles(session, actor, domain, assignments)
    if settings_changed:
        domain.updated_at = utcnow()
        emit(session, actor, catalogue.DOMAIN_UPDATED, settings_payload(domain))
    if domain.locked != was_locked:
        emit(
            session,
            actor,
            catalogue.DOMAIN_LOCK_CHANGED,
            lock_payload(domain, lock="transfer", action="added" if domain.locked else "removed"),
        )
    await session.flush()
    return await resolve(session, domain)


async def _apply_registrant_settings(
    session: AsyncSession, actor: Actor, domain: Domain, changes: Mapping[str, Any]
) -> bool:
    """The dispute hold and the transfer-lock opt-out (docs/registrant-change.md); whether
    either changed."""
    changed = False
    opt_out = changes.get("transfer_lock_opt_out")
    if opt_out is not None and bool(opt_out) != domain.transfer_lock_opt_out:
        changed = True
        domain.transfer_lock_opt_out = bool(opt_out)
        domain.transfer_lock_opt_out_at = utcnow()
        domain.transfer_lock_opt_out_by = actor_label(actor)
    hold = changes.get("dispute_hold")
    if hold is not None and bool(hold) != domain.dispute_hold:
        changed = True
        domain.dispute_hold = bool(hold)
        if domain.dispute_hold:
            # Re-pointed since update_domain held it first: this one too (rare: a retry at worst).
            await _hold_registrant(session, actor.account_id, domain)
    return changed


async def _hold_registrant(session: AsyncSession, account_id: int, domain: Domain) -> None:
    """Key-share-locks the domain's registrant: an edit of it that started first commits first,
    one that starts later waits and then reads the hold (domains.dispute_hold)."""
    registrant = (await resolve(session, domain)).contact("registrant")
    if registrant is not None:
        await contacts.find_contact(
            session, account_id, ContactRef(id=registrant.id), lock="key_share"
        )


def actor_label(actor: Actor) -> str:
    """Who acted, as a domain's record of a choice keeps it: "token:12", "user:3", "cli"."""
    if actor.token_id is not None:
        return f"token:{actor.token_id}"
    if actor.user_id is not None:
        return f"user:{actor.user_id}"
    return actor.dialect


MAX_YEARS = 10  # ICANN: a registration runs for at most ten years


def _check_details(
    details_by_role: Mapping[str, Mapping[str, Any] | None],
    *,
    every_role: bool,
    require: Sequence[str],
) -> tuple[dict[str, dict[str, str | None]], dict[str, list[Problem]]]:
    """Each role's details normalised, and every problem of every role keyed ``<role>.<field>``
    (a missing role, when ``every_role``, by ``<role>``). Nothing is written."""
    problems: dict[str, list[Problem]] = {}
    normalised: dict[str, dict[str, str | None]] = {}
    for role in ROLES:
        details = details_by_role.get(role)
        if details is None:
            if every_role:
                problems[role] = [Problem("blank", "is required")]
            continue
        try:
            normalised[role] = contacts.check_contact(details, require=require)
        except FieldErrors as exc:
            problems.update({f"{role}.{key}": value for key, value in exc.problems.items()})
    return normalised, problems


async def set_domain_contacts(
    session: AsyncSession,
    actor: Actor,
    name: str,
    contacts_by_role: Mapping[str, Mapping[str, Any] | None],
    *,
    require: Sequence[str] = (),
) -> DomainView:
    """Replaces all four roles with full contact details, reusing identical existing contacts.

    Every role is validated before anything is written; problems are keyed ``<role>.<field>``.
    A role whose details its contact already holds is left as it is (a role that falls back to
    the default keeps doing so), so sending back what was read changes nothing.
    ``require``: contact fields the caller's wire format makes mandatory beyond the core's own.
    """
    view = await resolve(
        session, await get_domain_model(session, actor.account_id, name, lock=True)
    )
    normalised, problems = _check_details(contacts_by_role, every_role=True, require=require)
    if problems:
        raise FieldErrors(problems)
    current = {role: r.contact for role, r in view.roles.items() if r is not None}
    default = await contacts.default_contact(session, actor.account_id)
    found = await matching.contacts_for_details(
        session,
        actor,
        {role: d for role, d in contacts_by_role.items() if d is not None},
        normalised,
        current=current,
        known=[default] if default else [],
        require=require,
    )
    changed = {
        role: contact
        for role, contact in found.items()
        if role not in current or current[role].id != contact.id
    }
    await roles.assign_roles(session, actor, view.domain, changed)
    return await resolve(session, view.domain)


async def add_domain_with_details(
    session: AsyncSession,
    actor: Actor,
    name: str,
    *,
    contacts_by_role: Mapping[str, Mapping[str, Any] | None],
    settings: Mapping[str, Any] | None = None,
    years: int | None = None,
    require: Sequence[str] = (),
) -> DomainView:
    """add_domain with full contact details per role instead of handles (each an identical
    existing contact reused, or a new one); roles not given use the default contact.

    ``years``: the registration term from now, 1 to 10. Every problem (name, term, each role's
    fields) is reported at once, before anything is written.
    """
    problems: dict[str, list[Problem]] = {}
    try:
        ascii_name = _ascii_name(name)
    except FieldErrors as exc:
        problems.update(exc.problems)
    changes = dict(settings or {})
    if years is not None:
        if 1 <= years <= MAX_YEARS:
            changes["expires_at"] = utcnow() + years * DEFAULT_TERM
        else:
            problems["years"] = [Problem("invalid", f"must be between 1 and {MAX_YEARS}")]
    normalised, contact_problems = _check_details(
        contacts_by_role, every_role=False, require=require
    )
    problems.update(contact_problems)
    if problems:
        raise FieldErrors(problems)
    default = await contacts.default_contact(session, actor.account_id)
    found = await matching.contacts_for_details(
        session,
        actor,
        {role: d for role, d in contacts_by_role.items() if d is not None},
        normalised,
        current={},
        known=[default] if default else [],
        require=require,
    )
    handles = {role: contact.handle for role, contact in found.items()}
    return await add_domain(session, actor, ascii_name, contacts_by_role=handles, settings=changes)


async def delete_domain(session: AsyncSession, actor: Actor, name: str) -> None:
    """Removes a domain from the account; its role history stays."""
    domain = await get_domain_model(session, actor.account_id, name, lock=True)
    await roles.assign_roles(session, actor, domain, dict.fromkeys(ROLES), removing=True)
    await session.delete(domain)
    await session.flush()
    emit(session, actor, catalogue.DOMAIN_DELETED, settings_payload(domain))


# expand[]=domains shows this many domains; the rest are a link to the filtered domain list.
USAGE_LIMIT = 100


@dataclass(frozen=True)
class DomainsUsing:
    """The first domains whose roles resolve to a contact, by name, and whether there are more."""

    domains: list[tuple[str, list[str]]]
    more: bool


async def domains_using(
    session: AsyncSession, contact: Contact, *, limit: int = USAGE_LIMIT
) -> DomainsUsing:
    """Every role that resolves to the contact (the default fallback included), domain by
    domain, at most ``limit`` domains."""
    found = await repository.roles_used_by(
        session, contact.account_id, used_by(contact), limit=limit + 1
    )
    used = [(name, role_names) for _id, name, role_names in found]
    return DomainsUsing(domains=used[:limit], more=len(used) > limit)


async def domain_counts(
    session: AsyncSession, account_id: int, found: Sequence[Contact]
) -> dict[int, int]:
    """Contact id -> how many domains use the contact in some role, the default fallback
    included (a contact list's column)."""
    default_id = next((c.id for c in found if c.is_default), None)
    return await repository.domain_counts(
        session, account_id, [c.id for c in found], default_id=default_id
    )
