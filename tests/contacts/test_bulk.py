"""Bulk import, straight against contacts/bulk.py on both databases: the create rules applied a
batch at a time, rejects with their line, field and reason, and reuse instead of duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from nichandle.accounts.service import Actor
from nichandle.contacts import bulk, changes, repository
from nichandle.contacts.bulk import HANDLE_PROBLEM, HANDLE_TAKEN, ContactImport, ImportRow
from nichandle.contacts.models import Contact
from nichandle.contacts.service import ContactRef, create_contact, snapshot, update_contact
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.models import OutboxEvent
from nichandle.history.models import ContactVersion
from tests.conftest import contact_payload, make_team, us_contact_payload


def person(n: int, **overrides: Any) -> dict[str, Any]:
    return contact_payload(
        **{"first_name": f"Person{n}", "email": f"p{n}@example.com", **overrides}
    )


def rows(*records: dict[str, Any] | None, first_line: int = 1) -> list[ImportRow]:
    return [ImportRow(first_line + i, record) for i, record in enumerate(records)]


async def run_import(
    db: Database, account_id: int, *batches: Sequence[ImportRow]
) -> tuple[ContactImport, list[bulk.BatchOutcome]]:
    importer = ContactImport(Actor(account_id, None, "import"))
    outcomes = []
    for batch in batches:
        async with unit_of_work(db) as session:
            outcomes.append(await importer.import_batch(session, bulk.check_rows(batch)))
    return importer, outcomes


async def contacts_of(db: Database, account_id: int) -> dict[str, Contact]:
    async with unit_of_work(db, write=False) as session:
        found = await session.scalars(
            select(Contact)
            .where(Contact.account_id == account_id)
            .order_by(Contact.id)
            .options(joinedload(Contact.parent))
        )
        return {contact.handle: contact for contact in found}


async def versions_of(db: Database, account_id: int) -> list[ContactVersion]:
    async with unit_of_work(db, write=False) as session:
        query = select(ContactVersion).where(ContactVersion.account_id == account_id)
        return list(await session.scalars(query.order_by(ContactVersion.id)))


async def events_of(db: Database, account_id: int) -> list[OutboxEvent]:
    async with unit_of_work(db, write=False) as session:
        query = select(OutboxEvent).where(OutboxEvent.account_id == account_id)
        return list(await session.scalars(query.order_by(OutboxEvent.id)))


def results(outcomes: Sequence[bulk.BatchOutcome]) -> list[tuple[int, str, str | None]]:
    return [(r.line, r.status, r.handle) for o in outcomes for r in o.results]


async def test_bad_rows_are_rejected_with_their_line_field_and_reason(db: Database) -> None:
    team = await make_team(db)
    batch = [
        ImportRow(2, person(1)),
        ImportRow(3, person(2, email="nope", phone="12")),
        ImportRow(4, None, (("", "is not valid JSON (Expecting value)"),)),
        ImportRow(5, person(3), (("nickname", "is not a contact field"),)),
        ImportRow(6, person(4, metadata={"crm": 1})),
        # The reader refused first_name's type: that is its only problem, not also "blank".
        ImportRow(7, person(5, first_name=None), (("first_name", "must be a string"),)),
        ImportRow(8, person(6, handle="x")),
        ImportRow(9, person(7, address_country_code="ZZ", address_city="")),
        ImportRow(10, person(8)),
    ]
    importer, outcomes = await run_import(db, team.id, batch)

    problems = {(p.line, p.field): p.reason for p in outcomes[0].problems}
    assert set(problems) == {
        (3, "email"),
        (3, "phone"),
        (4, ""),
        (5, "nickname"),
        (6, "metadata.crm"),
        (7, "first_name"),
        (8, "handle"),
        (9, "address_country_code"),
        (9, "address_city"),
    }
    assert problems[3, "email"].startswith("is an invalid email address")
    assert problems[3, "phone"] == "is not a possible phone number in NL"
    assert problems[4, ""] == "is not valid JSON (Expecting value)"
    assert problems[6, "metadata.crm"] == "value must be a string"
    assert problems[7, "first_name"] == "must be a string"
    assert problems[8, "handle"] == HANDLE_PROBLEM
    assert problems[9, "address_city"] == "can't be blank"
    # Bad rows never stop good ones.
    statuses = {line: status for line, status, _ in results(outcomes)}
    assert statuses == {2: "created", 10: "created"} | dict.fromkeys(range(3, 10), "rejected")
    assert (importer.created, importer.reused, importer.rejected) == (2, 0, 7)
    assert len(await contacts_of(db, team.id)) == 2


async def test_identical_rows_reuse_the_account_contact_or_the_first_of_the_file(
    db: Database,
) -> None:
    team = await make_team(db)
    async with unit_of_work(db) as session:
        actor = Actor(team.id, None, "native")
        existing = (await create_contact(session, actor, person(0))).contact.handle

    importer, outcomes = await run_import(
        db,
        team.id,
        rows(
            # Label, metadata, spacing and case are not identity: still the same contact.
            person(0, label="Billing", first_name="  PERSON0 ", metadata={"k": "v"}),
            person(1),
            person(1, last_name="JANSEN", label="Tech"),
        ),
        rows(person(1, address_city=" amsterdam "), person(2), first_line=4),
    )

    got = results(outcomes)
    first = got[1][2]
    assert got[0] == (1, "reused", existing)
    assert got[1][1] == "created"
    assert got[2] == (3, "reused", first)
    assert got[3] == (4, "reused", first)  # across batches too
    assert got[4][1] == "created"
    assert (importer.created, importer.reused, importer.rejected) == (2, 3, 0)
    assert len(await contacts_of(db, team.id)) == 3
    # Reusing writes nothing: one version and one event per created contact only.
    versions = await versions_of(db, team.id)
    assert [(v.dialect, v.handle) for v in versions] == [
        ("native", existing),
        ("import", first),
        ("import", got[4][2]),
    ]
    assert [e.type for e in await events_of(db, team.id)].count("contact.created") == 3


async def test_imported_contacts_are_stored_and_recorded_exactly_like_a_single_create(
    db: Database,
) -> None:
    fields = us_contact_payload(
        address_state="New York",
        phone="(212) 555-0100",
        company_name="Acme  Inc.",
        metadata={"crm_id": "C-1"},
        extension_data={".EU": {"citizenship": "NL"}},
        email="First@Example.COM",
    )
    team, reference_team = await make_team(db), await make_team(db)
    async with unit_of_work(db) as session:
        single = await create_contact(session, Actor(reference_team.id, None, "native"), fields)
        reference = single.contact

    await run_import(db, team.id, rows(fields))

    (imported,) = (await contacts_of(db, team.id)).values()
    columns = [c.key for c in Contact.__mapper__.column_attrs if not c.deferred]
    differ = {"id", "account_id", "handle", "created_at", "updated_at"}
    for column in columns:
        if column not in differ:
            assert getattr(imported, column) == getattr(reference, column), column
    (version,) = await versions_of(db, team.id)
    assert (version.action, version.dialect, version.actor_token_id) == ("create", "import", None)
    assert (version.contact_id, version.handle, version.before) == (
        imported.id,
        imported.handle,
        None,
    )
    assert version.after == snapshot(imported)
    events = await events_of(db, team.id)
    assert [(e.type, e.payload) for e in events] == [
        ("contact.created", {"contact": {"id": imported.id, **snapshot(imported)}})
    ]


async def test_the_first_contact_of_a_team_is_its_default_and_the_file_cannot_move_it(
    db: Database,
) -> None:
    team = await make_team(db)
    _, first = await run_import(
        db, team.id, rows(person(1, is_default=False), person(2, is_default=True))
    )
    _, later = await run_import(db, team.id, rows(person(3, is_default=True)))

    handles = [handle for _, _, handle in results(first + later)]
    contacts = await contacts_of(db, team.id)
    assert [contacts[h].is_default for h in handles] == [True, False, False]
    versions = {v.handle: v.after for v in await versions_of(db, team.id)}
    assert versions[handles[0]] is not None
    assert versions[handles[0]]["is_default"] is True


async def test_handles_of_the_file_are_kept_and_a_taken_one_rejects_its_row(
    db: Database,
) -> None:
    team = await make_team(db)
    _, outcomes = await run_import(
        db,
        team.id,
        rows(person(1, handle="kept-1"), person(2, handle="kept-1"), person(3, handle=" ")),
        rows(person(4, handle="kept-1"), person(5, handle="Other-2"), first_line=4),
    )

    got = results(outcomes)
    assert got[0] == (1, "created", "kept-1")
    assert got[1] == (2, "rejected", None)
    assert got[2][1] == "created"
    assert len(got[2][2] or "") == 12  # generated
    assert got[3] == (4, "rejected", None)
    assert got[4] == (5, "created", "Other-2")
    problems = [(p.line, p.field, p.reason) for o in outcomes for p in o.problems]
    assert problems == [(2, "handle", HANDLE_TAKEN), (4, "handle", HANDLE_TAKEN)]


async def test_parents_are_found_before_after_and_batches_after_their_children(
    db: Database,
) -> None:
    team = await make_team(db)
    _, outcomes = await run_import(
        db,
        team.id,
        rows(
            person(1, handle="child", parent_handle="parent"),  # parent two batches further
            person(2, handle="grandchild", parent_handle="child"),  # earlier in the batch
        ),
        rows(
            person(3, handle="self", parent_handle="self"),  # its own parent: ignored
            person(4, handle="nobody", parent_handle="no-such-handle"),  # ignored, as on create
            first_line=3,
        ),
        rows(
            person(5, handle="parent"),
            person(6, handle="sibling", parent_handle="twin"),  # a row later in the batch
            # A reused row's handle names the contact it reused.
            person(5, handle="twin", label="Same person as line 5"),
            first_line=5,
        ),
        rows(
            person(8, handle="loop-a", parent_handle="loop-b"),
            first_line=8,
        ),
        # loop-b's parent is loop-a, so linking loop-a under loop-b would close a cycle.
        rows(person(9, handle="loop-b", parent_handle="loop-a"), first_line=9),
    )

    assert all(status != "rejected" for _, status, _ in results(outcomes))
    contacts = await contacts_of(db, team.id)
    parent_of = {h: c.parent.handle if c.parent else None for h, c in contacts.items()}
    assert parent_of == {
        "child": "parent",
        "grandchild": "child",
        "self": None,
        "nobody": None,
        "parent": None,
        "sibling": "parent",
        "loop-a": None,
        "loop-b": "loop-a",
    }
    # The late link is an update of the child, recorded like update_contact records one.
    child_versions = [v for v in await versions_of(db, team.id) if v.handle == "child"]
    assert [(v.action, v.dialect) for v in child_versions] == [
        ("create", "import"),
        ("update", "import"),
    ]
    create, update = child_versions
    assert create.after is not None
    assert create.after["parent_handle"] is None
    assert update.before == create.after
    assert update.after == snapshot(contacts["child"])
    updated = [e for e in await events_of(db, team.id) if e.type == "contact.updated"]
    assert [e.payload["contact"]["handle"] for e in updated] == ["child"]
    assert contacts["child"].updated_at > contacts["child"].created_at


async def test_every_batch_commits_on_its_own_and_a_failing_one_leaves_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = await make_team(db)
    importer = ContactImport(Actor(team.id, None, "import"))
    async with unit_of_work(db) as session:
        await importer.import_batch(session, bulk.check_rows(rows(person(1), person(2))))

    async def fail(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    # The history write of the one write point fails after the batch inserted its contacts.
    monkeypatch.setattr(changes, "record_contact_changes", fail)
    second = bulk.check_rows(rows(person(3), person(4), first_line=3))
    with pytest.raises(RuntimeError):
        async with unit_of_work(db) as session:
            await importer.import_batch(session, second)
    assert len(await contacts_of(db, team.id)) == 2
    assert len(await versions_of(db, team.id)) == 2
    assert len(await events_of(db, team.id)) == 2

    # Running the whole file again reuses what committed and creates the rest.
    monkeypatch.undo()
    again, _ = await run_import(
        db, team.id, rows(person(1), person(2)), rows(person(3), person(4), first_line=3)
    )
    assert (again.created, again.reused) == (2, 2)
    assert len(await versions_of(db, team.id)) == 4


async def test_a_handle_taken_between_lookup_and_insert_is_drawn_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer can take a handle (or create an identical contact) after the batch looked;
    the unique index catches it and the batch looks again instead of failing."""
    team = await make_team(db)
    _, first = await run_import(db, team.id, rows(person(1)))
    taken = first[0].results[0].handle
    draws = [[taken], None]
    real_new_handles, real_ids_by_handles = bulk.new_handles, repository.ids_by_handles

    def new_handles(count: int) -> list[str]:
        drawn = draws.pop(0) if draws else None
        return drawn if drawn is not None else real_new_handles(count)

    async def ids_by_handles(session: Any, account_id: int, handles: Any) -> dict[str, int]:
        found = await real_ids_by_handles(session, account_id, handles)
        return {h: i for h, i in found.items() if h != taken} if draws else found

    monkeypatch.setattr(bulk, "new_handles", new_handles)
    monkeypatch.setattr(repository, "ids_by_handles", ids_by_handles)
    importer, outcomes = await run_import(db, team.id, rows(person(2)))

    assert importer.created == 1
    handle = outcomes[0].results[0].handle
    assert handle is not None
    assert handle != taken
    assert set(await contacts_of(db, team.id)) == {taken, handle}


async def test_generated_handles_are_unique_and_of_the_service_alphabet() -> None:
    handles = bulk.new_handles(5000)
    assert len(set(handles)) == 5000
    assert all(len(h) == 12 and set(h) <= set("abcdefghjkmnpqrstuvwxyz23456789") for h in handles)


async def test_export_gives_every_contact_the_default_first(db: Database) -> None:
    team = await make_team(db)
    await run_import(db, team.id, rows(person(1), person(2), person(3)))
    contacts = list((await contacts_of(db, team.id)).values())
    async with unit_of_work(db) as session:
        # Make the newest one the default: the export still starts with it.
        await update_contact(
            session,
            Actor(team.id, None, "test"),
            ContactRef(id=contacts[-1].id),
            {"is_default": True},
        )

    async with unit_of_work(db, write=False) as session:
        exported = [record async for record in bulk.export_contacts(session, team.id)]
    order = [contacts[-1], *contacts[:-1]]
    assert [record["handle"] for record in exported] == [c.handle for c in order]
    assert exported[0]["is_default"] is True
    assert exported[1] == {**snapshot(contacts[0]), "is_default": False}
