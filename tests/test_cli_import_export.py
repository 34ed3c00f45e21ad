"""`nichandle contacts import/export` through the real console script, on both databases."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import io
import json
import os
import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, text

from nichandle.accounts import service as accounts
from nichandle.contact_files import FILE_FIELDS
from nichandle.contacts.models import Contact
from nichandle.db.engine import Database, create_database
from nichandle.db.session import unit_of_work
from nichandle.events.models import OutboxEvent
from nichandle.history.models import ContactVersion
from nichandle.settings import Settings
from tests.conftest import contact_payload, us_contact_payload
from tests.test_cli import NICHANDLE, Cli, module_cli, module_database

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

ROOT = Path(__file__).resolve().parent.parent


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_contacts", ROOT / "bench/make_contacts.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shared_db = module_database("import")
cli = module_cli()


@pytest.fixture(scope="module")
async def db(shared_db: TestDatabase) -> AsyncIterator[Database]:
    """The same database, in-process, to look at what the commands wrote."""
    database = create_database(Settings(database_url=shared_db.url))
    yield database
    await database.dispose()


async def new_account(db: Database) -> tuple[int, str]:
    async with unit_of_work(db) as session:
        account = await accounts.create_account(session, f"Import {secrets.token_hex(3)}")
        return account.id, account.slug


async def count(db: Database, model: Any, account_id: int) -> int:
    async with unit_of_work(db, write=False) as session:
        query = select(func.count()).select_from(model).where(model.account_id == account_id)
        return (await session.scalar(query)) or 0


def write_csv(path: Path, header: list[str], records: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(records)
    return path


def read_rejects(path: Path) -> list[tuple[int, str, str]]:
    with path.open(encoding="utf-8", newline="") as rejects:
        reader = csv.reader(rejects)
        assert next(reader) == ["line", "field", "reason"]
        return [(int(line), field, reason) for line, field, reason in reader]


def csv_record(header: list[str], **fields: Any) -> list[str]:
    return [str(fields.get(name, "")) for name in header]


async def test_csv_import_rejects_bad_rows_by_line_and_field_and_summarises_as_json(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    account_id, slug = await new_account(db)
    header = [*contact_payload(), "metadata", "label", "nickname"]
    good = contact_payload()
    source = tmp_path / "contacts.csv"
    with source.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)  # line 1
        writer.writerow(csv_record(header, **good, metadata='{"crm": "1"}'))  # 2
        writer.writerow(csv_record(header, **{**good, "email": "nope", "phone": "12"}))  # 3
        writer.writerow(csv_record(header, **{**good, "email": "b@example.com"}, metadata="{x"))
        out.write("\n")  # 5: blank lines are skipped, but counted
        # 6-7: one record over two lines (a quoted newline, which validation refuses).
        writer.writerow(csv_record(header, **{**good, "address_city": "Amster\ndam"}))
        writer.writerow(csv_record(header, **{**good, "email": "c@example.com"}, nickname="C"))
        writer.writerow(csv_record(header, **{**good, "first_name": " JAN "}, label="Dup"))  # 9
        writer.writerow(csv_record(header, **{**good, "email": "d@example.com"}))  # 10

    result = await cli(
        "contacts", "import", str(source), "--account", slug, "--json", "--batch-size", "2"
    )

    summary = result.json()
    assert len(result.stdout.strip().splitlines()) == 1
    assert {k: summary[k] for k in ("created", "reused", "rejected", "rows", "complete")} == {
        "created": 2,
        "reused": 1,
        "rejected": 4,
        "rows": 7,
        "complete": True,
    }
    assert summary["rejects_file"] == str(tmp_path / "contacts.csv.rejects.csv")
    assert summary["rows_per_second"] > 0
    rejects = read_rejects(Path(summary["rejects_file"]))
    assert [(line, field) for line, field, _ in rejects] == [
        (3, "email"),
        (3, "phone"),
        (4, "metadata"),
        (6, "address_city"),
        (8, "nickname"),
    ]
    reasons = {(line, field): reason for line, field, reason in rejects}
    assert reasons[3, "phone"].startswith("is not a possible phone number")
    assert reasons[4, "metadata"].startswith("is not valid JSON")
    assert reasons[6, "address_city"] == "must not contain control characters"
    assert reasons[8, "nickname"] == "is not a contact field"
    assert await count(db, Contact, account_id) == 2
    assert await count(db, ContactVersion, account_id) == 2
    assert await count(db, OutboxEvent, account_id) == 2


async def test_jsonl_import_rejects_what_is_not_a_contact_object(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    account_id, slug = await new_account(db)
    lines = [
        json.dumps(contact_payload(metadata={"crm": "1"}, extension_data={"eu": {"x": "y"}})),
        "{not json",
        "[1, 2]",
        json.dumps(contact_payload(email="b@example.com", phone=31201234567)),
        json.dumps(contact_payload(email="c@example.com", is_default="yes", extra=1)),
        "",
        json.dumps(contact_payload(email="d@example.com", is_default=True, label=None)),
    ]
    source = tmp_path / "contacts.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "bad.csv"

    summary = (
        await cli(
            "contacts",
            "import",
            str(source),
            "--account",
            slug,
            "--rejects",
            str(rejects),
            "--json",
        )
    ).json()

    assert (summary["created"], summary["reused"], summary["rejected"]) == (2, 0, 4)
    assert [(line, field) for line, field, _ in read_rejects(rejects)] == [
        (2, ""),
        (3, ""),
        (4, "phone"),
        (5, "is_default"),
        (5, "extra"),
    ]
    assert read_rejects(rejects)[1][2] == "is not a JSON object"
    assert read_rejects(rejects)[2][2] == "must be a string"
    assert not (tmp_path / "contacts.jsonl.rejects.csv").exists()
    assert await count(db, Contact, account_id) == 2


def varied_contacts() -> list[dict[str, Any]]:
    """Contacts using every kind of field, some parented, one parent after its child."""
    return [
        contact_payload(handle="first-one", label="Main", metadata={"crm": "1", "é": "ü"}),
        us_contact_payload(
            handle="child-one",
            parent_handle="late-parent",
            company_name="Acme, Inc.",
            company_url="https://acme.example",
            job_title="Hostmaster",
            fax="+18001234568",
            extension_data={"us": {"nexus_category": "C11", "flag": True, "n": 2}},
        ),
        contact_payload(
            first_name="Zoë",
            last_name='O"Brien',
            email="zoe@example.com",
            address_line2="Floor 3\u00a0/ back",
            vat_registration="NL004495445B01",
        ),
        contact_payload(handle="late-parent", email="parent@example.com", is_default=True),
    ]


async def test_an_export_imports_into_an_empty_team_unchanged_and_into_its_own_as_reuse(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    (_, source_team), (_, copy_team) = await new_account(db), await new_account(db)
    seed = tmp_path / "seed.jsonl"
    seed.write_text("".join(json.dumps(c) + "\n" for c in varied_contacts()), encoding="utf-8")
    await cli("contacts", "import", str(seed), "--account", source_team, "--batch-size", "2")

    jsonl_file = tmp_path / "export.jsonl"
    exported, written = await asyncio.gather(
        cli("contacts", "export", "--account", source_team),
        cli("contacts", "export", "--account", source_team, "--output", str(jsonl_file)),
    )
    # stdout is the file and nothing else: no progress, no markup, no summary.
    records = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert exported.stdout.splitlines()[0] == ",".join(FILE_FIELDS)
    assert len(records) == 4
    by_handle = {r["handle"]: r for r in records}
    assert records[0]["handle"] == "first-one"  # the default comes first
    assert records[0]["is_default"] == "true"
    assert by_handle["child-one"]["parent_handle"] == "late-parent"
    assert by_handle["child-one"]["address_state"] == "NY"
    assert by_handle["late-parent"]["is_default"] == "false"
    assert json.loads(by_handle["first-one"]["metadata"]) == {"crm": "1", "é": "ü"}

    assert str(jsonl_file) in written.stdout
    as_jsonl = [json.loads(line) for line in jsonl_file.read_text(encoding="utf-8").splitlines()]
    assert [list(r) for r in as_jsonl] == [list(FILE_FIELDS)] * 4
    assert [r["handle"] for r in as_jsonl] == [r["handle"] for r in records]
    assert as_jsonl[0]["metadata"] == {"crm": "1", "é": "ü"}
    assert as_jsonl[0]["is_default"] is True
    child = next(r for r in as_jsonl if r["handle"] == "child-one")
    assert child["extension_data"] == {"us": {"nexus_category": "C11", "flag": True, "n": 2}}

    csv_file = tmp_path / "export.csv"
    csv_file.write_text(exported.stdout, encoding="utf-8")
    imports = [
        (csv_file, copy_team, ("--batch-size", "2")),
        (csv_file, source_team, ()),
        (jsonl_file, source_team, ()),
    ]
    copied, *reimported = await asyncio.gather(
        *(
            cli("contacts", "import", str(path), "--account", team, "--json", *options)
            for path, team, options in imports
        )
    )
    # Into an empty team: the same contacts, handles, parents and default.
    assert (copied.json()["created"], copied.json()["rejected"]) == (4, 0)
    again = await cli("contacts", "export", "--account", copy_team)
    assert again.stdout == exported.stdout
    # Into their own team: nothing new.
    for result in reimported:
        assert (result.json()["created"], result.json()["reused"]) == (0, 4)


BIG = 20_000


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough rows that an import takes many batches (and seconds) to get through."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    load_generator().main([str(BIG), str(path), "--seed", "3"])
    return path


async def test_an_interrupted_import_keeps_whole_batches_each_with_its_history(
    cli: Cli, db: Database, big_file: Path
) -> None:
    account_id, slug = await new_account(db)
    source = big_file
    batch = 500
    process = await asyncio.create_subprocess_exec(
        str(NICHANDLE),
        *("contacts", "import", str(source), "--account", slug, "--json"),
        *("--batch-size", str(batch)),
        env={**os.environ, "NICHANDLE_DATABASE_URL": cli.database_url},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(1500):  # until the first batch committed, at most 30 s
            if await count(db, Contact, account_id) > 0:
                break
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 130, err.decode()
    assert b"Traceback" not in err
    created = await count(db, Contact, account_id)
    assert 0 < created < BIG, "the import was not interrupted"
    assert created % batch == 0, "a batch was committed in part"
    assert await count(db, ContactVersion, account_id) == created
    assert await count(db, OutboxEvent, account_id) == created
    summary = json.loads(out)
    assert summary["complete"] is False
    assert summary["created"] == created
    assert "interrupted" in summary["error"]


async def test_a_batch_the_database_refuses_is_rolled_back_whole(
    cli: Cli, db: Database, tmp_path: Path, shared_db: TestDatabase
) -> None:
    account_id, slug = await new_account(db)
    marker = f"Explode{secrets.token_hex(3)}"
    async with unit_of_work(db) as session:  # a refusal validation cannot foresee
        if shared_db.backend == "sqlite":
            await session.execute(
                text(
                    f"CREATE TRIGGER refuse_{marker} BEFORE INSERT ON contact "
                    f"WHEN NEW.first_name = '{marker}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
                )
            )
        else:
            await session.execute(
                text(
                    f"CREATE FUNCTION refuse_{marker}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN IF NEW.first_name = '{marker}' THEN "
                    "RAISE EXCEPTION 'refused by a trigger'; END IF; RETURN NEW; END $$"
                )
            )
            await session.execute(
                text(
                    f"CREATE TRIGGER refuse_{marker} BEFORE INSERT ON contact "
                    f"FOR EACH ROW EXECUTE FUNCTION refuse_{marker}()"
                )
            )
    header = list(contact_payload())
    records = [
        csv_record(header, **contact_payload(email=f"p{i}@example.com", first_name=name))
        for i, name in enumerate(["A", "B", "C", "D", "E", marker, "G", "H", "I", "J"])
    ]
    source = write_csv(tmp_path / "refused.csv", header, records)
    try:
        args = ("contacts", "import", str(source), "--account", slug, "--batch-size", "4")
        failed = await cli(*args, "--json", check=False)
    finally:
        async with unit_of_work(db) as session:
            if shared_db.backend == "sqlite":
                await session.execute(text(f"DROP TRIGGER refuse_{marker}"))
            else:
                await session.execute(text(f"DROP TRIGGER refuse_{marker} ON contact"))
                await session.execute(text(f"DROP FUNCTION refuse_{marker}"))

    assert failed.returncode == 1, failed
    assert "Traceback" not in failed.stderr
    # Lines 2-5 committed; the batch of lines 6-9 held the refused row and left nothing behind.
    assert "lines 6-9 was rolled back" in failed.stderr
    assert "refused by a trigger" in failed.stderr
    assert failed.json()["created"] == 4
    assert failed.json()["complete"] is False
    assert await count(db, Contact, account_id) == 4
    assert await count(db, ContactVersion, account_id) == 4
    assert await count(db, OutboxEvent, account_id) == 4

    rerun = await cli("contacts", "import", str(source), "--account", slug, "--json")
    assert (rerun.json()["created"], rerun.json()["reused"]) == (6, 4)


ONLY_SQLITE = pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)


@ONLY_SQLITE
async def test_mistakes_on_the_command_line_are_one_line_messages(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    _, slug = await new_account(db)
    unknown = tmp_path / "contacts.txt"
    unknown.write_text("first_name\nJan\n", encoding="utf-8")
    headless = write_csv(tmp_path / "headless.csv", ["Jan", "Jansen"], [["Piet", "Puk"]])
    cases = [
        (("contacts", "import", str(unknown), "--account", slug), 2, "give --format csv or jsonl"),
        (("contacts", "import", str(headless), "--account", slug), 2, "must be a header"),
        (
            ("contacts", "import", str(unknown), "--account", "nope", "--format", "csv"),
            1,
            "Account `nope` not found",
        ),
        (("contacts", "export", "--account", "nope"), 1, "Account `nope` not found"),
    ]
    results = await asyncio.gather(*(cli(*args, check=False) for args, _, _ in cases))
    for (args, code, message), result in zip(cases, results, strict=True):
        assert result.returncode == code, (args, result)
        assert message in result.stderr, (args, result)
        assert "Traceback" not in result.stderr, (args, result)
