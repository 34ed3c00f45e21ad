"""Bulk import: many contacts created by the rules that create one, a batch per transaction.

Each row is checked by the create path's own validators (``service.validate_fields``) and
compared by the same fingerprint (``dedup.py``). The database work of a batch is a handful of
statements whatever its size: one lookup of its fingerprints, one of its handles, one bulk
write each (``db.rows``: COPY on PostgreSQL, a multi-row INSERT on SQLite) for the contacts,
their history versions and their ``contact.created`` events.

What an import decides beyond a single create (docs/decisions.md, "Import and export"):

- A row identical to a contact of the account, or to an earlier row of the file, is *reused*:
  nothing is written and the row points at that contact.
- ``handle`` is kept when the file gives one (so an export imports back unchanged), and the row
  is rejected when another contact of the account already has it; without one a handle is
  generated.
- ``parent_handle`` names a contact of the account or a row of the file, before or after the
  child; an unknown one is ignored, as on create. A parent further down the file is linked when
  its batch commits, recorded as an update of the child. A link that would close a cycle is
  ignored.
- ``is_default`` is not taken from the file: like any first contact, the first contact created
  in a team without a default becomes the default; an import never moves an existing default.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts import repository as accounts_repository
from nichandle.accounts.service import Actor
from nichandle.contacts import changes as contact_changes
from nichandle.contacts import repository
from nichandle.contacts.service import (
    HANDLE_ALPHABET,
    HANDLE_LENGTH,
    ContactRef,
    derived_columns,
    snapshot,
    update_contact,
    validate_fields,
    would_cycle,
)
from nichandle.contacts.validation import TEXT_FIELDS
from nichandle.db.base import utcnow
from nichandle.db.session import violated_constraint
from nichandle.errors import FieldErrors
from nichandle.history.service import ContactChange

# A handle given in a file: what the EPP contact id allows (generated ones are a subset).
HANDLE_PATTERN = re.compile(r"[A-Za-z0-9-]{3,16}")
HANDLE_PROBLEM = "must be 3 to 16 letters, digits or dashes"
HANDLE_TAKEN = "is already the handle of another contact of this team"

# Unique indexes another writer can beat a batch to between its lookups and its insert; the
# batch then looks again (and reuses or regenerates) instead of failing.
_RACES = frozenset(
    {
        "uq_contact_account_id_dedup_fingerprint",
        "uq_contact_account_id_handle",
        "uq_contact_default",
    }
)
_RACE_ATTEMPTS = 3
# The planner's statistics are refreshed after this many contacts, then whenever they grew
# tenfold (PostgreSQL scales what it knows by the table's size in between).
STATISTICS_AFTER = 1000
STATISTICS_GROWTH = 10

Status = Literal["created", "reused", "rejected"]


@dataclass(frozen=True)
class ImportRow:
    """One record of an import file as its reader parsed it.

    ``fields`` holds the native field names with their typed values (None when the record could
    not be read at all); ``problems`` are (field, reason) pairs the reader already found.
    """

    line: int
    fields: Mapping[str, Any] | None
    problems: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CheckedRow:
    """A row after every validator ran: normalised values, or the problems that reject it."""

    line: int
    problems: tuple[tuple[str, str], ...]
    values: dict[str, str | None] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    extension_data: dict[str, Any] = field(default_factory=dict)
    # service.derived_columns of the values (email_normalized, fingerprint), computed where the
    # rows are checked, in the reader process, not again beside the writes.
    derived: dict[str, str] = field(default_factory=dict)
    handle: str | None = None
    parent_handle: str | None = None

    @property
    def fingerprint(self) -> str:
        return self.derived.get("fingerprint", "")


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str  # "" when the problem is the whole record (e.g. not JSON)
    reason: str


@dataclass(frozen=True)
class RowResult:
    line: int
    status: Status
    handle: str | None  # the contact created or reused


@dataclass
class BatchOutcome:
    results: list[RowResult] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status == status)


# Random bytes below this are used (31 x 8 = 248); the rest would favour some characters.
_UNBIASED = 256 - 256 % len(HANDLE_ALPHABET)


def new_handles(count: int) -> list[str]:
    """``count`` handles as service.new_handle makes them, from one read of the system's
    randomness instead of twelve per handle."""
    handles: list[str] = []
    while len(handles) < count:
        needed = (count - len(handles)) * HANDLE_LENGTH
        chars = [
            HANDLE_ALPHABET[byte % len(HANDLE_ALPHABET)]
            for byte in secrets.token_bytes(needed + needed // 8 + 16)
            if byte < _UNBIASED
        ]
        usable = len(chars) - len(chars) % HANDLE_LENGTH
        handles.extend(
            "".join(chars[i : i + HANDLE_LENGTH]) for i in range(0, usable, HANDLE_LENGTH)
        )
    return handles[:count]


def _optional_text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def check_row(row: ImportRow) -> CheckedRow:
    """Runs the create validators on one row and reports every problem at once."""
    problems = list(row.problems)
    if row.fields is None:
        return CheckedRow(row.line, tuple(problems) or (("", "could not be read"),))
    fields = row.fields
    flagged = {name for name, _ in problems}
    values: dict[str, str | None] = {}
    metadata: dict[str, str] | None = None
    extensions: dict[str, Any] | None = None
    try:
        values, metadata, extensions = validate_fields(
            {name: fields.get(name) for name in TEXT_FIELDS},
            metadata=({}, fields["metadata"]) if fields.get("metadata") is not None else None,
            extension_data=fields.get("extension_data"),
        )
    except FieldErrors as exc:
        problems.extend(
            (name, problem.message)
            for name, found in exc.problems.items()
            # A field the reader could not take (wrong type) is not also "blank".
            if name not in flagged
            for problem in found
        )
    handle = _optional_text(fields.get("handle"))
    if handle is not None and not HANDLE_PATTERN.fullmatch(handle) and "handle" not in flagged:
        problems.append(("handle", HANDLE_PROBLEM))
    if problems:
        return CheckedRow(row.line, tuple(problems))
    return CheckedRow(
        row.line,
        (),
        values=values,
        metadata=metadata or {},
        extension_data=extensions or {},
        derived=derived_columns(values),
        handle=handle,
        parent_handle=_optional_text(fields.get("parent_handle")),
    )


def check_rows(rows: Iterable[ImportRow]) -> list[CheckedRow]:
    return [check_row(row) for row in rows]


@dataclass
class _New:
    """A row that becomes a contact in this batch."""

    row: CheckedRow
    handle: str
    is_default: bool = False
    parent: str | None = None  # the parent's handle, once resolved
    id: int = 0


@dataclass
class _Plan:
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    new: list[_New] = field(default_factory=list)
    handles: set[str] = field(default_factory=set)  # of the new contacts
    aliases: dict[str, str] = field(default_factory=dict)  # file handle -> the reused contact's
    ids: dict[str, int] = field(default_factory=dict)  # handle -> id of contacts already stored
    waiting: dict[str, list[str]] = field(default_factory=dict)  # parent -> children's handles


class ContactImport:
    """One import into one account. Call ``import_batch`` once per batch, each in its own unit
    of work; between batches it remembers only what the file itself defines (handles of reused
    rows, and children waiting for a parent further down)."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.created = 0
        self.reused = 0
        self.rejected = 0
        self._aliases: dict[str, str] = {}
        self._waiting: dict[str, list[str]] = {}
        self._has_default = False
        self._analyzed_at = 0  # contacts created when the statistics were last refreshed

    async def import_batch(self, session: AsyncSession, rows: Sequence[CheckedRow]) -> BatchOutcome:
        """Creates the batch's new contacts with their history and events; reuses identical
        ones; rejects the rest. All of it or nothing: it runs in the caller's transaction."""
        if self.created >= max(STATISTICS_AFTER, STATISTICS_GROWTH * self._analyzed_at):
            # Lookups stay index lookups as the account grows (see refresh_statistics).
            await repository.refresh_statistics(session)
            self._analyzed_at = self.created
        for attempt in range(1, _RACE_ATTEMPTS + 1):
            try:
                async with session.begin_nested():
                    plan = await self._plan(session, rows)
                    await self._write(session, plan)
            except IntegrityError as exc:
                if attempt == _RACE_ATTEMPTS or violated_constraint(exc) not in _RACES:
                    raise
                continue
            self._remember(plan)
            return plan.outcome
        raise AssertionError("unreachable")  # pragma: no cover

    # --- deciding -------------------------------------------------------------------------

    async def _plan(self, session: AsyncSession, rows: Sequence[CheckedRow]) -> _Plan:
        plan = _Plan()
        account_id = self.actor.account_id
        valid = []
        for row in rows:
            if row.problems:
                plan.outcome.results.append(RowResult(row.line, "rejected", None))
                plan.outcome.problems.extend(RowProblem(row.line, f, r) for f, r in row.problems)
            else:
                valid.append(row)
        if not valid:
            return plan

        stored = await repository.ids_by_fingerprints(
            session, account_id, {row.fingerprint for row in valid}
        )
        unnamed = sum(1 for row in valid if row.handle is None)
        pool = new_handles(unnamed)
        named = {row.handle for row in valid if row.handle is not None}
        parents = {
            self._aliases.get(row.parent_handle, row.parent_handle)
            for row in valid
            if row.parent_handle is not None
        }
        plan.ids = await repository.ids_by_handles(session, account_id, named | parents | set(pool))
        plan.ids.update((handle, id_) for id_, handle in stored.values())
        pool = [handle for handle in pool if handle not in plan.ids]

        first: dict[str, str] = {}  # fingerprint -> handle of the batch row creating it
        for row in valid:
            target = stored[row.fingerprint][1] if row.fingerprint in stored else None
            target = target or first.get(row.fingerprint)
            if target is not None:
                plan.outcome.results.append(RowResult(row.line, "reused", target))
                if row.handle is not None and not self._handle_used(plan, row.handle):
                    plan.aliases[row.handle] = target
                continue
            if row.handle is not None:
                if self._handle_used(plan, row.handle):
                    plan.outcome.results.append(RowResult(row.line, "rejected", None))
                    plan.outcome.problems.append(RowProblem(row.line, "handle", HANDLE_TAKEN))
                    continue
                handle = row.handle
            else:
                handle = await self._fresh_handle(session, plan, pool)
            plan.new.append(_New(row, handle))
            plan.handles.add(handle)
            first[row.fingerprint] = handle
            plan.outcome.results.append(RowResult(row.line, "created", handle))

        self._link_parents(plan)
        if plan.new and not self._has_default:
            await self._choose_default(session, plan)
        return plan

    def _handle_used(self, plan: _Plan, handle: str) -> bool:
        """Whether the handle already names a contact of the account or of the file."""
        return (
            handle in plan.ids
            or handle in plan.handles
            or handle in plan.aliases
            or handle in self._aliases
        )

    async def _fresh_handle(self, session: AsyncSession, plan: _Plan, pool: list[str]) -> str:
        while True:
            while pool:
                handle = pool.pop()
                if not self._handle_used(plan, handle):
                    return handle
            # Generated handles collided with the file's own (practically never): draw again.
            pool.extend(new_handles(8))
            taken = await repository.ids_by_handles(session, self.actor.account_id, pool)
            pool[:] = [handle for handle in pool if handle not in taken]

    def _resolve(self, plan: _Plan, name: str) -> str | None:
        """The handle of the contact a parent_handle of the file names, if it exists yet."""
        handle = plan.aliases.get(name) or self._aliases.get(name) or name
        return handle if handle in plan.handles or handle in plan.ids else None

    def _link_parents(self, plan: _Plan) -> None:
        parent_of: dict[str, str] = {}
        for new in plan.new:
            name = new.row.parent_handle
            if name is None:
                continue
            parent = self._resolve(plan, name)
            if parent is None:
                # Not (yet) a contact: maybe a row further down the file defines it.
                plan.waiting.setdefault(name, []).append(new.handle)
                continue
            if _closes_cycle(parent_of, new.handle, parent):
                continue  # ignored, like a parent_handle that names no contact
            parent_of[new.handle] = parent
            new.parent = parent

    async def _choose_default(self, session: AsyncSession, plan: _Plan) -> None:
        """A team's first contact becomes its default (service.create_contact's rule)."""
        account_id = self.actor.account_id
        if await repository.default_contact_id(session, account_id) is None:
            await accounts_repository.lock_account(session, account_id)
            if await repository.default_contact_id(session, account_id) is None:
                plan.new[0].is_default = True
                return
        self._has_default = True

    # --- writing --------------------------------------------------------------------------

    async def _write(self, session: AsyncSession, plan: _Plan) -> None:
        if not plan.new:
            await self._link_waiting(session, plan)
            return
        now = utcnow()
        ids = await repository.insert_many(
            session, [self._columns(new, plan, now) for new in plan.new]
        )
        plan.ids.update(ids)
        for new in plan.new:
            new.id = ids[new.handle]
        # Parents created in this same batch got their ids only now.
        await repository.set_parents(
            session,
            self.actor.account_id,
            [
                (new.id, ids[new.parent])
                for new in plan.new
                if new.parent is not None and new.parent in ids
            ],
        )
        await contact_changes.record(
            session,
            self.actor,
            [
                ContactChange("create", new.id, new.handle, None, self._snapshot(new))
                for new in plan.new
            ],
        )
        await self._link_waiting(session, plan)

    def _columns(self, new: _New, plan: _Plan, now: Any) -> dict[str, Any]:
        """The contact's row, by column name (repository.insert_many)."""
        values = new.row.values
        parent_id = plan.ids.get(new.parent) if new.parent is not None else None
        return {
            **values,
            "account_id": self.actor.account_id,
            "handle": new.handle,
            "created_at": now,
            "updated_at": now,
            "extension_data": new.row.extension_data,
            "metadata": new.row.metadata,
            "is_default": new.is_default,
            "parent_id": parent_id,
            **new.row.derived,
            "dedup_fingerprint": new.row.fingerprint,
        }

    @staticmethod
    def _snapshot(new: _New) -> dict[str, Any]:
        """What service.snapshot gives for the contact just inserted (tests hold them equal)."""
        return {
            **new.row.values,
            "handle": new.handle,
            "is_default": new.is_default,
            "parent_handle": new.parent,
            "extension_data": new.row.extension_data,
            "metadata": new.row.metadata,
        }

    async def _link_waiting(self, session: AsyncSession, plan: _Plan) -> None:
        """Children created in earlier batches get the parent this batch defines: an update of
        each child, with its history version and event, as update_contact would record it."""
        arrived = {
            name: plan.aliases.get(name, name)
            for name in self._waiting
            if name in plan.aliases or name in plan.handles
        }
        if not arrived:
            return
        account_id = self.actor.account_id
        children = {
            child.handle: child
            for child in await repository.by_handles(
                session, account_id, [h for name in arrived for h in self._waiting[name]]
            )
        }
        parents = {
            parent.handle: parent
            for parent in await repository.by_handles(session, account_id, arrived.values())
        }
        for name, parent_handle in arrived.items():
            parent = parents.get(parent_handle)
            for child_handle in self._waiting[name]:
                child = children.get(child_handle)
                if parent is None or child is None or child.parent_id is not None:
                    continue  # deleted meanwhile, or given a parent by someone else
                if await would_cycle(session, child, parent):
                    continue
                await update_contact(
                    session,
                    self.actor,
                    ContactRef(id=child.id),
                    {"parent_handle": parent.handle},
                    allow_identity_change=True,
                )

    def _remember(self, plan: _Plan) -> None:
        """After a batch succeeded: what later batches must know about this one."""
        for name in list(self._waiting):
            if name in plan.aliases or name in plan.handles:
                del self._waiting[name]
        for name, children in plan.waiting.items():
            self._waiting.setdefault(name, []).extend(children)
        self._aliases.update(plan.aliases)
        if plan.new:
            self._has_default = True
        self.created += plan.outcome.count("created")
        self.reused += plan.outcome.count("reused")
        self.rejected += plan.outcome.count("rejected")


async def export_contacts(session: AsyncSession, account_id: int) -> AsyncIterator[dict[str, Any]]:
    """Every contact of the account as history keeps it (``snapshot``), streamed in chunks: the
    default first, so importing the export into an empty team makes the same one the default."""
    async for contact in repository.stream_all(session, account_id):
        yield snapshot(contact)


def _closes_cycle(parent_of: Mapping[str, str], child: str, parent: str) -> bool:
    """Whether making ``parent`` the parent of ``child`` makes ``child`` its own ancestor,
    following the links of this batch (older contacts cannot descend from a new one)."""
    seen = set()
    current: str | None = parent
    while current is not None and current not in seen:
        if current == child:
            return True
        seen.add(current)
        current = parent_of.get(current)
    return False
