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
from nichandle.contacts import changes as contact_changes
from nichandle.contacts import registrant_change, repository
from nichandle.contacts.dedup import fingerprint
from nichandle.contacts.metadata import merge_metadata
from nichandle.contacts.models import Contact
from nichandle.contacts.repository import ContactFilter, Lock
from nichandle.contacts.validation import (
    TEXT_FIELDS,
    clean_text,
    normalize_contact,
    normalize_extension_data,
)
from nichandle.db.base import parse_id, utcnow
from nichandle.db.session import violated_constraint
from nichandle.errors import Conflict, FieldErrors, NotFound, Problem
from nichandle.history.service import ContactAction, ContactChange
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


@dataclass(frozen=True)
class ContactRef:
    """A contact as the wire names it: by handle (native) or by id (DNSimple)."""

    handle: str | None = None
    id: int | str | None = None

    def __str__(self) -> str:
        return str(self.handle if self.handle is not None else self.id)


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


async def _make_default(
    session: AsyncSession, actor: Actor, contact: Contact, *, unless_one_exists: bool = False
) -> list[ContactChange]:
    """Makes ``contact`` the account's default, serialised per account; the contact that was the
    default until now changes too, and is recorded as changed. With ``unless_one_exists``
    nothing happens when, once the account is locked, another contact is the default."""
    await accounts_repository.lock_account(session, contact.account_id)
    previous = await repository.default_contact(session, contact.account_id, lock="update")
    if previous is contact:
        return []
    if previous is not None and unless_one_exists:
        return []
    moved = []
    if previous is not None:
        before = snapshot(previous)
        previous.is_default = False
        previous.updated_at = utcnow()
        # Written before the new default is: one default per account, at every moment.
        await session.flush()
        moved.append(_change("update", previous, before))
    contact.is_default = True
    return moved


def _change(
    action: ContactAction,
    contact: Contact,
    before: dict[str, Any] | None,
    *,
    typo_correction: bool = False,
) -> ContactChange:
    after = None if action == "delete" else snapshot(contact)
    return ContactChange(action, contact.id, contact.handle, before, after, typo_correction)


async def default_contact(session: AsyncSession, account_id: int) -> Contact | None:
    """The contact that stands in for every role a domain leaves unset."""
    return await repository.default_contact(session, account_id)


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
        parent = await repository.by_handle(
            session, actor.account_id, fields["parent_handle"], lock="key_share"
        )

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
    moved: list[ContactChange] = []
    try:
        # A savepoint, so that losing the dedup race undoes the default switch too.
        async with session.begin_nested():
            session.add(contact)
            # A team's first contact becomes its default, so every domain role has a fallback.
            if fields.get("is_default"):
                moved = await _make_default(session, actor, contact)
            elif await repository.default_contact_id(session, actor.account_id) is None:
                moved = await _make_default(session, actor, contact, unless_one_exists=True)
    except IntegrityError as exc:
        if violated_constraint(exc) != "uq_contact_account_id_dedup_fingerprint":
            raise
        winner = await repository.by_fingerprint(session, actor.account_id, digest)
        if winner is None:  # pragma: no cover - the winner cannot vanish inside our transaction
            raise
        return CreateOutcome(winner, created=False)
    await contact_changes.record(session, actor, [*moved, _change("create", contact, None)])
    return CreateOutcome(contact, created=True)


async def get_contact(
    session: AsyncSession, account_id: int, ref: ContactRef | str, *, lock: Lock | None = None
) -> Contact:
    """The account's contact by handle or id; anything that names no contact is not found.
    A plain string is a handle."""
    ref = ContactRef(handle=ref) if isinstance(ref, str) else ref
    contact = None
    if ref.handle is not None:
        contact = await repository.by_handle(session, account_id, ref.handle, lock=lock)
    elif (number := parse_id(ref.id if ref.id is not None else "")) is not None:
        contact = await repository.by_id(session, account_id, number, lock=lock)
    if contact is None:
        raise not_found(str(ref))
    return contact


async def find_contact(
    session: AsyncSession, account_id: int, ref: ContactRef, *, lock: Lock | None = None
) -> Contact | None:
    """get_contact, with None for a reference that names no contact."""
    try:
        return await get_contact(session, account_id, ref, lock=lock)
    except NotFound:
        return None


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


async def count_contacts(session: AsyncSession, account_id: int) -> int:
    """How many contacts the account has (kept by the database: the same cost at any size)."""
    return await repository.count(session, account_id)


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
    ref: ContactRef | str,
    changes: Mapping[str, Any],
    *,
    allow_identity_change: bool = False,
    typo_correction: bool = False,
    require: Sequence[str] = (),
) -> Contact:
    """Changes only the fields given; the result is validated as a whole contact.

    ``require``: fields that must not be blank in the updated contact (a dialect's contract).
    ``typo_correction``: the name/organisation change is declared a typo fix (no change of
    registrant, docs/registrant-change.md); it lifts the identity lock for a fix that is one.
    """
    if not allow_identity_change:
        fixable = registrant_change.NAME_FIELDS if typo_correction else ()
        locked = [f for f in IDENTITY_LOCKED_FIELDS if f in changes and f not in fixable]
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
    if changes.get("is_default") is True or "parent_handle" in changes:
        # Lock order: the account before its contacts (docs/decisions.md, "Concurrency").
        await accounts_repository.lock_account(session, actor.account_id)
    contact = await get_contact(session, actor.account_id, ref, lock="update")
    if typo_correction and not allow_identity_change:
        _refuse_unless_typo_fix(contact, changes)
    recorded = await _update(
        session, actor, contact, changes, require=require, typo_correction=typo_correction
    )
    await contact_changes.record(session, actor, recorded)
    return contact


def _refuse_unless_typo_fix(contact: Contact, changes: Mapping[str, Any]) -> None:
    """Where names are otherwise immutable, a declared typo fix must be one."""
    before = snapshot(contact)
    material = registrant_change.material_fields(
        before, {**before, **changes}, typo_correction=True
    )
    not_fixes = [f for f in material if f in registrant_change.NAME_FIELDS]
    if not_fixes:
        message = (
            f"isn't a typo fix (at most {registrant_change.TYPO_MAX_EDITS} edits and a third of "
            "its length, with no address or phone change); create a new contact instead"
        )
        raise FieldErrors({f: [Problem("immutable", message)] for f in not_fixes})


async def _update(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    changes: Mapping[str, Any],
    *,
    require: Sequence[str] = (),
    typo_correction: bool = False,
) -> list[ContactChange]:
    """Applies the changes to a contact this transaction holds locked; what to record."""
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
    moved: list[ContactChange] = []
    if changes.get("is_default") is True and not contact.is_default:
        moved = await _make_default(session, actor, contact)
    if snapshot(contact) == before:
        return []
    contact.updated_at = utcnow()
    return [*moved, _change("update", contact, before, typo_correction=typo_correction)]


async def _set_parent(session: AsyncSession, contact: Contact, parent_handle: str | None) -> None:
    # An unknown (or empty) parent handle removes the parent (Domain Chief's rule).
    parent = (
        await repository.by_handle(session, contact.account_id, parent_handle, lock="key_share")
        if parent_handle
        else None
    )
    if parent is not None and await would_cycle(session, contact, parent):
        raise FieldErrors.single(
            "parent_handle", "cycle", "would make the contact its own ancestor"
        )
    contact.parent = parent


IN_USE_EXAMPLES = 10


def deletion_blockers(contact: Contact, *, total: int, used_by: Mapping[str, int]) -> list[str]:
    """Why delete_contact would refuse the contact, from counts a page already has (``total``
    contacts in the account, ``used_by`` kind -> how many use it): [] when it would not. The
    same three rules as delete_contact, for showing a delete control only where it works."""
    reasons = []
    if total <= 1:
        reasons.append("the team's last contact")
    if contact.is_default:
        reasons.append("the default contact")
    for kind, count in used_by.items():
        if count:
            reasons.append(f"used by {count} {kind.removesuffix('s') if count == 1 else kind}")
    return reasons


async def delete_contact(session: AsyncSession, actor: Actor, ref: ContactRef | str) -> None:
    """Deletes a contact nothing depends on; its history stays."""
    # Lock order: the account, then the contact (docs/decisions.md, "Concurrency"): deletes
    # and default moves of one account queue, so it never ends without a default or contact.
    await accounts_repository.lock_account(session, actor.account_id)
    contact = await get_contact(session, actor.account_id, ref, lock="update")
    if not await repository.has_others(session, actor.account_id, contact.id):
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
    recorded = []
    for child in await repository.children(session, actor.account_id, contact.id):
        locked = await get_contact(
            session, actor.account_id, ContactRef(id=child.id), lock="update"
        )
        recorded += await _update(session, actor, locked, {"parent_handle": None})
    before = snapshot(contact)
    await session.delete(contact)
    await contact_changes.record(session, actor, [*recorded, _change("delete", contact, before)])


async def _refuse_if_in_use(session: AsyncSession, contact: Contact) -> None:
    parts = []
    for dependents in contact_changes.dependents():
        found = await dependents.names_using(session, contact, limit=IN_USE_EXAMPLES + 1)
        if found:
            more = ", ..." if len(found) > IN_USE_EXAMPLES else ""
            parts.append(f"{dependents.kind} {', '.join(found[:IN_USE_EXAMPLES])}{more}")
    if parts:
        raise Conflict(
            f"The contact is in use by {' and '.join(parts)}; assign other contacts first",
            code="contact_in_use",
        )
