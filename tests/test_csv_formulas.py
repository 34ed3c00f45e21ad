"""CSV export writes cells a spreadsheet would run as a formula with a leading ``'``, and import
takes it off again, so export -> import stays exact (contact_files.formula_safe)."""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nichandle.accounts import service as accounts
from nichandle.contact_files import (
    FILE_FIELDS,
    FileFormat,
    RecordWriter,
    RejectsWriter,
    read_rows,
)
from nichandle.contacts import bulk
from nichandle.contacts.bulk import RowProblem
from nichandle.db.engine import Database, create_database
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from tests.conftest import contact_payload
from tests.test_cli import Cli, module_cli, module_database

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

DANGEROUS = {
    "label": '=HYPERLINK("https://evil.example","click")',
    "company_name": "+Plus Corp",
    "job_title": "-1+2",
    "address_line2": "@SUM(A1:A2)",
    "company_trading_name": "\tTabbed",
    "company_url": "\r=1+1",
    # Values that already start with the escape: one more ', and one taken off on reading.
    "vat_registration": "'=already quoted",
    "address_house_number": "''+two",
}
# A ' followed by no formula start is nobody's escape: written and read as it is.
HARMLESS = {"address_city": "'s-Hertogenbosch", "first_name": "A=B", "last_name": "O'Brien"}


def record(**fields: Any) -> dict[str, Any]:
    return {name: fields.get(name) for name in FILE_FIELDS}


def write_csv(*records: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = RecordWriter(out, FileFormat.csv)
    for one in records:
        writer.write(one)
    return out.getvalue()


def read_csv(text: str) -> list[dict[str, Any]]:
    rows = list(read_rows(io.BytesIO(text.encode()), FileFormat.csv))
    assert all(not row.problems for row in rows), rows
    return [dict(row.fields or {}) for row in rows]


def test_cells_a_spreadsheet_would_run_are_written_after_a_quote() -> None:
    text = write_csv(record(handle="h1", phone="+31201234567", **DANGEROUS, **HARMLESS))
    cells = next(csv.DictReader(io.StringIO(text)))
    for name, value in DANGEROUS.items():
        assert cells[name] == "'" + value, name
    assert cells["phone"] == "'+31201234567"
    for name, value in HARMLESS.items():
        assert cells[name] == value, name
    assert cells["handle"] == "h1"


def test_the_quoted_cells_read_back_exactly() -> None:
    written = {"handle": "h1", "phone": "+31201234567", **DANGEROUS, **HARMLESS}
    assert read_csv(write_csv(record(**written))) == [written]


# Text near the edge: runs of quotes and formula starts in any order, then anything printable.
_EDGE = st.text(alphabet="'=+-@\t\r", max_size=4)
_REST = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)


@given(head=_EDGE, tail=_REST)
def test_every_text_survives_export_and_import(head: str, tail: str) -> None:
    value = f"{head}x{tail}"  # something printable, so the cell is never blank (unset)
    assert read_csv(write_csv(record(label=value, phone=value))) == [
        {"label": value, "phone": value}
    ]


def test_rejects_file_neutralises_field_names_from_the_files_header() -> None:
    out = io.StringIO()
    RejectsWriter(out).write([RowProblem(2, '=HYPERLINK("x")', "is not a contact field")])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1] == ["2", '\'=HYPERLINK("x")', "is not a contact field"]


# Through the console script, on both databases.


shared_db = module_database("formulas")
cli = module_cli()


@pytest.fixture(scope="module")
async def db(shared_db: TestDatabase) -> AsyncIterator[Database]:
    database = create_database(Settings(database_url=shared_db.url))
    yield database
    await database.dispose()


async def new_team(db: Database) -> tuple[int, str]:
    async with unit_of_work(db) as session:
        account = await accounts.create_account(session, f"Formulas {secrets.token_hex(3)}")
        return account.id, account.slug


async def exported(db: Database, account_id: int) -> list[dict[str, Any]]:
    """The records an export writes, before any file format."""
    async with unit_of_work(db, write=False) as session:
        return [record async for record in bulk.export_contacts(session, account_id)]


async def test_an_export_with_formula_cells_imports_unchanged(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    (source_id, source_team), (copy_id, copy_team) = await new_team(db), await new_team(db)
    # What the contact rules accept of the above (they refuse control characters).
    stored = {k: v for k, v in {**DANGEROUS, **HARMLESS}.items() if "\t" not in v and "\r" not in v}
    stored.pop("vat_registration")  # must be a valid VAT number
    seed = tmp_path / "seed.jsonl"
    contacts = [
        contact_payload(handle="risky-one", **stored, metadata={"note": "=1+1"}),
        contact_payload(handle="plain-one", email="plain@example.com", label="'=x"),
    ]
    seed.write_text("".join(json.dumps(c) + "\n" for c in contacts), encoding="utf-8")
    imported = await cli("contacts", "import", str(seed), "--account", source_team, "--json")
    assert imported.json()["created"] == 2, imported

    csv_export = await cli("contacts", "export", "--account", source_team)
    cells = {row["handle"]: row for row in csv.DictReader(io.StringIO(csv_export.stdout))}
    assert cells["risky-one"]["label"] == "'" + DANGEROUS["label"]
    assert cells["risky-one"]["phone"] == "'+31201234567"
    assert cells["risky-one"]["address_city"] == "'s-Hertogenbosch"
    assert cells["plain-one"]["label"] == "''=x"
    assert not any(
        cell.startswith(("=", "+", "-", "@", "\t", "\r"))
        for row in cells.values()
        for cell in row.values()
    )

    csv_file = tmp_path / "export.csv"
    csv_file.write_text(csv_export.stdout, encoding="utf-8")
    copied = await cli("contacts", "import", str(csv_file), "--account", copy_team, "--json")
    assert (copied.json()["created"], copied.json()["rejected"]) == (2, 0)
    # Exact: the copy holds what the source holds, quotes and formula starts included.
    source = await exported(db, source_id)
    assert await exported(db, copy_id) == source
    by_handle = {record["handle"]: record for record in source}
    assert by_handle["risky-one"]["label"] == DANGEROUS["label"]
    assert by_handle["risky-one"]["phone"] == "+31201234567"
    assert by_handle["plain-one"]["label"] == "'=x"
    assert by_handle["risky-one"]["metadata"] == {"note": "=1+1"}
