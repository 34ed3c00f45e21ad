"""The rules of contacts: create with dedup, update, delete protection, default and parent."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import repository as accounts_repository
from nichandle.accounts.service import Actor
from nichandle.contacts import repository
from nichandle.contacts.dedup import fingerprint
from nichandle.contacts.metadata import merge_metadata
from nichandle.contacts.models import Contact
from nichandle.contacts.repository import ContactFilter
from nichandle.contacts.validation import (
    TEXT_FIELDS,
    clean_text,
    normalize_contact,
    normalize_extension_data,
)
from nichandle.db.base import parse_id, utcnow
from nichandle.db.session import violated_constraint
from nichandle.domains import repository as domains_repository
from nichandle.domains.models import ROLES
from nichandle.errors import Conflict, FieldErrors, NotFound, Problem
from nichandle.events.service import emit, emit_many
from nichandle.history.service import record_contact_change
from nichandle.paging import Page, PageRequest

# Native PATCH may not change who the contact is: that takes a new contact (Domain Chief's rule).
IDENTITY_LOCKED_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "company_name",
    "address_country_code",
)
SORTABLE_FIELDS = frozenset(repository.SORT_COLUMNS)
MAX_SORT_FIELDS = 5
MAX_PARENT_DEPTH = 32

# Handles become registry contact ids (EPP: 3-16 characters); no look-alike characters.
HANDLE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
HANDLE_LENGTH = 12


@dataclass(frozen=True)
class CreateOutcome:
    contact: Contact
    created: bool


def new_handle() -> str:
    return "".join(secrets.choice(HANDLE_ALPHABET) for _ in range(HANDLE_LENGTH))


def not_found(handle: str | int) -> NotFound:
    return NotFound(f"Contact `{handle}` not found", code="contact_not_found")


def snapshot(contact: Contact) -> dict[str, Any]:
    """The contact as history keeps it: every field, by core name."""
    data: dict[str, Any] = {field: getattr(contact, field) for field in TEXT_FIELDS}
    data.update(
        handle=contact.handle,
        is_default=contact.is_default,
        parent_handle=contact.parent.handle if contact.parent else None,
        extension_data=contact.extension_data,
        metadata=contact.metadata_,
    )
    return data


def validate_fields(
    text: Mapping[str, str | None],
    *,
    metadata: tuple[Mapping[str, str], Mapping[str, object]] | None,
    extension_data: Mapping[str, Any] | None,
    require: Sequence[str] = (),
) -> tuple[dict[str, str | None], dict[str, str] | None, dict[str, Any] | None]:
    """Runs every validator and raises one FieldErrors holding all their problems.

    ``require``: fields a dialect's contract makes mandatory beyond the core's own.
    """
    problems: dict[str, list[Problem]] = {}
    values: dict[str, str | None] = {}
    merged_metadata: dict[str, str] | None = None
    clean_extensions: dict[str, Any] | None = None
    try:
        values = normalize_contact(text)
    except FieldErrors as exc:
        problems.update(exc.problems)
    if metadata is not None:
        try:
            merged_metadata = merge_metadata(*metadata)
        except FieldErrors as exc:
            problems.update(exc.problems)
    if extension_data is not None:
        try:
            clean_extensions = normalize_extension_data(extension_data)
        except FieldErrors as exc:
            problems.update(exc.problems)
    for field in require:
        raw = text.get(field)
        if field not in problems and not (raw and clean_text(raw)):
            problems[field] = [Problem("blank", "can't be blank")]
    if problems:
        raise FieldErrors(problems)
    return values, merged_metadata, clean_extensions


def check_contact(
    fields: Mapping[str, Any], *, require: Sequence[str] = ()
) -> dict[str, str | None]:
    """A contact's details validated and normalised, nothing written; every problem at once."""
    values, _metadata, _extensions = validate_fields(
        {field: fields.get(field) for field in TEXT_FIELDS},
        metadata=None,
        extension_data=None,
        require=require,
    )
    return values


def derived_columns(values: Mapping[str, str | None]) -> dict[str, str]:
    """The indexed columns computed from a contact's normalised details."""
    return {
        "email_normalized": (values.get("email") or "").casefold(),
        "fingerprint": fingerprint(values),
    }


def _apply_values(contact: Contact, values: Mapping[str, str | None]) -> None:
    for field, value in {**values, **derived_columns(values)}.items():
        setattr(contact, field, value)


async def _make_default(session: AsyncSession, contact: Contact) -> None:
    """Switches the account's default to ``contact``, serialised per account."""
    await accounts_repository.lock_account(session, contact.account_id)
    await repository.clear_default(session, contact.account_id)
    contact.is_default = True


async def default_contact(session: AsyncSession, account_id: int) -> Contact | None:
    """The contact that stands in for every role a domain leaves unset."""
    default_id = await repository.default_contact_id(session, account_id)
    return await repository.by_id(session, account_id, default_id) if default_id else None


async def announce_to_domains(
    session: AsyncSession, contact: Contact, *, only_unset_roles: bool = False
) -> int:
    """One ``domain.contacts_changed`` event per domain whose roles resolve to ``contact``,
    so registry sync pushes the new details. Returns how many domains were affected."""
    rows = await domains_repository.role_rows_of_contact(
        session, contact.account_id, contact.id, include_unset=contact.is_default
    )
    if only_unset_roles:
        rows = [row for row in rows if row[2] is None]
    by_domain: dict[int, tuple[str, set[str]]] = {}
    unset_ids = [domain_id for domain_id, _name, role in rows if role is None]
    present = await domains_repository.roles_set_of(session, unset_ids) if unset_ids else {}
    for domain_id, name, role in rows:
        roles = by_domain.setdefault(domain_id, (name, set()))[1]
        if role is None:
            roles.update(set(ROLES) - present.get(domain_id, set()))
        else:
            roles.add(role)
    payloads = [
        {"domain": name, "domain_id": domain_id, "contact": contact.handle, "roles": sorted(roles)}
        for domain_id, (name, roles) in sorted(by_domain.items())
    ]
    await emit_many(session, contact.account_id, "domain.contacts_changed", payloads)
    return len(payloads)


async def create_contact(
    session: AsyncSession,
    actor: Actor,
    fields: Mapping[str, Any],
    *,
    allow_duplicate: bool = False,
    require: Sequence[str] = (),
) -> CreateOutcome:
    """Creates a contact, or returns the identical one the account already has.

    Dedup: unless ``allow_duplicate``, a contact whose normalised details match an existing one
    (see dedup.py) is not created; the existing contact is returned with ``created=False``.
    Racing identical creates meet at a unique index and the loser returns the winner's contact.
    """
    values, metadata, extensions = validate_fields(
        {field: fields.get(field) for field in TEXT_FIELDS},
        metadata=({}, fields["metadata"]) if fields.get("metadata") is not None else None,
        extension_data=fields.get("extension_data"),
        require=require,
    )
    digest = fingerprint(values)
    if not allow_duplicate:
        existing = await repository.by_fingerprint(session, actor.account_id, digest)
        if existing is not None:
            return CreateOutcome(existing, created=False)

    parent = None
    if fields.get("parent_handle"):
        # An unknown parent is ignored on create (Domain Chief's rule).
        parent = await repository.by_handle(session, actor.account_id, fields["parent_handle"])

    now = utcnow()
    contact = Contact(
        account_id=actor.account_id,
        created_at=now,
        updated_at=now,
        handle=new_handle(),
        extension_data=extensions or {},
        metadata_=metadata or {},
        parent=parent,
        is_default=False,
        dedup_fingerprint=None if allow_duplicate else digest,
    )
    _apply_values(contact, values)
    while await repository.handle_taken(session, actor.account_id, contact.handle):
        contact.handle = new_handle()
    try:
        # A savepoint, so that losing the dedup race undoes the default switch too.
        async with session.begin_nested():
            # A team's first contact becomes its default, so every domain role has a fallback.
            if (
                fields.get("is_default")
                or await repository.default_contact_id(session, actor.account_id) is None
            ):
                await _make_default(session, contact)
            session.add(contact)
    except IntegrityError as exc:
        if violated_constraint(exc) != "uq_contact_account_id_dedup_fingerprint":
            raise
        winner = await repository.by_fingerprint(session, actor.account_id, digest)
        if winner is None:  # pragma: no cover - the winner cannot vanish inside our transaction
            raise
        return CreateOutcome(winner, created=False)

    if contact.is_default:
        await announce_to_domains(session, contact, only_unset_roles=True)
    after = snapshot(contact)
    record_contact_change(
        session,
        actor,
        action="create",
        contact_id=contact.id,
        handle=contact.handle,
        before=None,
        after=after,
    )
    emit(session, actor.account_id, "contact.created", {"contact": after})
    return CreateOutcome(contact, created=True)


async def get_contact(session: AsyncSession, account_id: int, handle: str) -> Contact:
    contact = await repository.by_handle(session, account_id, handle)
    if contact is None:
        raise not_found(handle)
    return contact


async def find_contact_by_id(
    session: AsyncSession, account_id: int, contact_id: int | str
) -> Contact | None:
    """The account's contact with this id, or None (also for ids that can't exist)."""
    number = parse_id(contact_id)
    return await repository.by_id(session, account_id, number) if number is not None else None


async def get_contact_by_id(
    session: AsyncSession, account_id: int, contact_id: int | str
) -> Contact:
    """A contact by id as the wire gives it; anything that names no contact is not found."""
    contact = await find_contact_by_id(session, account_id, contact_id)
    if contact is None:
        raise not_found(contact_id)
    return contact


async def contacts_by_handles(
    session: AsyncSession, account_id: int, handles: Sequence[str]
) -> list[Contact]:
    """The account's contacts among ``handles``, in the order asked; unknown ones left out."""
    found = {c.handle: c for c in await repository.by_handles(session, account_id, set(handles))}
    seen: set[str] = set()
    ordered = []
    for handle in handles:
        if handle in found and handle not in seen:
            seen.add(handle)
            ordered.append(found[handle])
    return ordered


def parse_sort(
    spec: str | None, *, allowed: frozenset[str] = SORTABLE_FIELDS
) -> list[tuple[str, bool]]:
    """``"-is_default,handle"`` -> [("is_default", True), ("handle", False)]; DNSimple's
    ``"label:asc,id:desc"`` -> [("label", False), ("id", True)].

    Case-insensitive; fields not in ``allowed`` are ignored; a direction other than asc/desc
    or more than five fields is an error.
    """
    if not spec:
        return []
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if len(parts) > MAX_SORT_FIELDS:
        raise FieldErrors.single(
            "sort", "invalid", f"can't sort by more than {MAX_SORT_FIELDS} fields"
        )
    order = []
    for part in parts:
        field, colon, direction = part.partition(":")
        if colon:
            if direction.strip().lower() not in ("asc", "desc"):
                raise FieldErrors.single(
                    "sort", "invalid", f"`{part}`: the direction must be asc or desc"
                )
            desc = direction.strip().lower() == "desc"
        else:
            desc = field.startswith("-")
        name = field.strip().lstrip("-+").lower()
        if name in allowed:
            order.append((name, desc))
    return order


async def list_contacts(
    session: AsyncSession,
    account_id: int,
    request: PageRequest,
    *,
    query: str | None = None,
    parent_handle: str | None = None,
    metadata: Mapping[str, str] | None = None,
    sort: Sequence[tuple[str, bool]] = (),
) -> Page[Contact]:
    """A page of the account's contacts, searched, filtered and sorted."""
    parent_id = None
    if parent_handle:
        parent = await repository.by_handle(session, account_id, parent_handle)
        if parent is None:
            return Page(items=[], total=0, request=request)
        parent_id = parent.id
    where = ContactFilter(query=query or None, parent_id=parent_id, metadata=dict(metadata or {}))
    items, total = await repository.page(session, account_id, where, sort, request)
    return Page(items=items, total=total, request=request)


async def would_cycle(session: AsyncSession, contact: Contact, parent: Contact) -> bool:
    current: int | None = parent.id
    for _ in range(MAX_PARENT_DEPTH):
        if current is None:
            return False
        if current == contact.id:
            return True
        current = await repository.parent_id_of(session, contact.account_id, current)
    return True  # deeper than any sane grouping: treat as a cycle rather than walk forever


async def update_contact(
    session: AsyncSession,
    actor: Actor,
    handle: str,
    changes: Mapping[str, Any],
    *,
    allow_identity_change: bool = False,
) -> Contact:
    """Changes only the fields given; the result is validated as a whole contact."""
    contact = await get_contact(session, actor.account_id, handle)
    return await update_loaded_contact(
        session, actor, contact, changes, allow_identity_change=allow_identity_change
    )


async def update_loaded_contact(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    changes: Mapping[str, Any],
    *,
    allow_identity_change: bool = False,
    require: Sequence[str] = (),
) -> Contact:
    """Like update_contact, for a contact the caller already looked up (by id or handle).

    ``require``: fields that must not be blank in the updated contact (a dialect's contract).
    """
    if not allow_identity_change:
        locked = [f for f in IDENTITY_LOCKED_FIELDS if f in changes]
        if locked:
            raise FieldErrors(
                {
                    f: [Problem("immutable", "can't be changed; create a new contact instead")]
                    for f in locked
                }
            )
    if changes.get("is_default") is False:
        raise FieldErrors.single(
            "is_default", "invalid", "can only be true; make another contact the default instead"
        )
    before = snapshot(contact)
    text = {field: changes.get(field, before[field]) for field in TEXT_FIELDS}
    values, metadata, extensions = validate_fields(
        text,
        metadata=(contact.metadata_, changes["metadata"])
        if changes.get("metadata") is not None
        else None,
        extension_data=changes.get("extension_data"),
        require=require,
    )
    old_fingerprint = contact.fingerprint
    _apply_values(contact, values)
    if contact.fingerprint != old_fingerprint:
        contact.dedup_fingerprint = None  # only creates guard against racing twins
    if metadata is not None:
        contact.metadata_ = metadata
    if extensions is not None:
        contact.extension_data = extensions
    if "parent_handle" in changes:
        await _set_parent(session, contact, changes["parent_handle"])
    became_default = changes.get("is_default") is True and not contact.is_default
    if became_default:
        await _make_default(session, contact)

    after = snapshot(contact)
    if after == before:
        return contact
    contact.updated_at = utcnow()
    await session.flush()
    record_contact_change(
        session,
        actor,
        action="update",
        contact_id=contact.id,
        handle=contact.handle,
        before=before,
        after=after,
    )
    emit(session, actor.account_id, "contact.updated", {"before": before, "contact": after})
    if any(before[field] != after[field] for field in TEXT_FIELDS):
        await announce_to_domains(session, contact)
    elif became_default:
        await announce_to_domains(session, contact, only_unset_roles=True)
    return contact


async def _set_parent(session: AsyncSession, contact: Contact, parent_handle: str | None) -> None:
    # An unknown (or empty) parent handle removes the parent (Domain Chief's rule).
    parent = (
        await repository.by_handle(session, contact.account_id, parent_handle)
        if parent_handle
        else None
    )
    if parent is not None and await would_cycle(session, contact, parent):
        raise FieldErrors.single(
            "parent_handle", "cycle", "would make the contact its own ancestor"
        )
    contact.parent = parent


async def update_contact_by_id(
    session: AsyncSession,
    actor: Actor,
    contact_id: int | str,
    changes: Mapping[str, Any],
    *,
    allow_identity_change: bool = False,
    require: Sequence[str] = (),
) -> Contact:
    """update_contact for a contact named by id (dialects that identify contacts by id)."""
    contact = await get_contact_by_id(session, actor.account_id, contact_id)
    return await update_loaded_contact(
        session,
        actor,
        contact,
        changes,
        allow_identity_change=allow_identity_change,
        require=require,
    )


async def delete_contact(session: AsyncSession, actor: Actor, handle: str) -> None:
    """Deletes a contact nothing depends on; its history stays."""
    contact = await get_contact(session, actor.account_id, handle)
    await delete_loaded_contact(session, actor, contact)


async def delete_contact_by_id(session: AsyncSession, actor: Actor, contact_id: int | str) -> None:
    """delete_contact for a contact named by id."""
    contact = await get_contact_by_id(session, actor.account_id, contact_id)
    await delete_loaded_contact(session, actor, contact)


IN_USE_EXAMPLES = 10


async def _refuse_if_in_use(session: AsyncSession, contact: Contact) -> None:
    account_id = contact.account_id
    domains = await domains_repository.domain_names_using(
        session, account_id, contact.id, limit=IN_USE_EXAMPLES + 1
    )
    certificates = await domains_repository.certificate_names_using(
        session, account_id, contact.id, limit=IN_USE_EXAMPLES + 1
    )
    if not domains and not certificates:
        return
    parts = []
    for kind, found in (("domains", domains), ("certificates", certificates)):
        if found:
            more = ", ..." if len(found) > IN_USE_EXAMPLES else ""
            parts.append(f"{kind} {', '.join(found[:IN_USE_EXAMPLES])}{more}")
    raise Conflict(
        f"The contact is in use by {' and '.join(parts)}; assign other contacts first",
        code="contact_in_use",
    )


async def delete_loaded_contact(session: AsyncSession, actor: Actor, contact: Contact) -> None:
    if await repository.count(session, actor.account_id) <= 1:
        raise Conflict(
            "The contact is the team's last contact and cannot be deleted",
            code="contact_is_last",
        )
    if contact.is_default:
        raise Conflict(
            "The contact is the team's default contact; make another contact the default "
            "before deleting it",
            code="contact_is_default",
        )
    await _refuse_if_in_use(session, contact)
    for child in await repository.children(session, actor.account_id, contact.id):
        await update_loaded_contact(
            session, actor, child, {"parent_handle": None}, allow_identity_change=True
        )
    before = snapshot(contact)
    await session.delete(contact)
    await session.flush()
    record_contact_change(
        session,
        actor,
        action="delete",
        contact_id=contact.id,
        handle=contact.handle,
        before=before,
        after=None,
    )
    emit(session, actor.account_id, "contact.deleted", {"contact": before})
