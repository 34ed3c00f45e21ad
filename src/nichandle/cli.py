"""The nichandle command line: serve, migrate, and manage accounts and tokens.

The worker's modules (its webhook bodies bring fastapi) and alembic are imported by the commands
that use them: every invocation pays for what this module imports, and they were 0.5 of 1.1 s
of CPU before any command ran (scripts call `nichandle` in loops)."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import multiprocessing
import os
import queue
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle import contact_files, serving, write_path
from nichandle.accounts import service as accounts
from nichandle.accounts import sessions as web_sign_in
from nichandle.accounts.service import Actor
from nichandle.contact_files import FileFormat
from nichandle.contacts import bulk
from nichandle.db import check as integrity
from nichandle.db.engine import InvalidDatabaseUrl, create_database
from nichandle.db.session import unit_of_work
from nichandle.domains import service as domains_service
from nichandle.domains.models import ROLES
from nichandle.domains.names import to_unicode
from nichandle.domains.reassign import Reassignment, reassign_contact
from nichandle.errors import NichandleError
from nichandle.settings import Settings
from nichandle.worker import outbox

T = TypeVar("T")

app = typer.Typer(
    help="nichandle: registrar contacts, roles and their rules.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts (teams).", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
users_app = typer.Typer(help="Users and their team memberships.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(tokens_app, name="tokens")
app.add_typer(users_app, name="users")
domains_app = typer.Typer(help="Domains: staff holds.", no_args_is_help=True)
app.add_typer(domains_app, name="domains")

console = Console()
err_console = Console(stderr=True)


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Runs ``work`` in one unit of work; domain errors end the command with a message."""

    async def run() -> T:
        db = create_database(Settings())
        try:
            async with unit_of_work(db) as session:
                return await work(session)
        finally:
            await db.dispose()

    return _run(run)


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs a command's coroutine; domain errors and a database that was never migrated end the
    command with a one-line message instead of a traceback."""
    try:
        return asyncio.run(main())
    except NichandleError as exc:
        detail = ""
        if hasattr(exc, "messages"):
            detail = " " + json.dumps(exc.messages())
        # Messages quote user input: escape it, or "[/x]" in a name is read as markup and crashes.
        # soft_wrap keeps the JSON detail on one line when stderr is not a terminal.
        err_console.print(f"[red]error:[/red] {escape(exc.message + detail)}", soft_wrap=True)
        raise typer.Exit(1) from exc
    except DBAPIError as exc:
        if _schema_is_current():
            raise
        err_console.print(
            "[red]error:[/red] the database schema is not up to date: run `nichandle db upgrade`"
        )
        raise typer.Exit(1) from exc


def _schema_is_current() -> bool:
    """False when the database is not at the migrations' head (never migrated, or behind)."""

    async def run() -> bool:
        db = create_database(Settings())
        try:
            from nichandle.db import migrate

            return await migrate.current_revision(db) == migrate.head_revision()
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except Exception:  # cannot tell: let the original error speak for itself
        return True


def _upgrade() -> None:
    async def run() -> None:
        db = create_database(Settings())
        try:
            from nichandle.db import migrate

            await migrate.upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(run())


def _print_json(data: Any) -> None:
    print(json.dumps(data))  # noqa: T201 - machine-readable output for other tooling


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    _upgrade()
    console.print("database is at the latest schema")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (use 'base' for an empty database)."""

    async def run() -> None:
        db = create_database(Settings())
        try:
            from nichandle.db import migrate

            await migrate.downgrade(db, revision)
        finally:
            await db.dispose()

    asyncio.run(run())


@db_app.command("check")
def db_check(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what drifted.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Recompute the counters the database keeps (contacts per account) and report any drift.

    Exits 1 when something drifted, unless --fix repaired it.
    """

    async def work(session: AsyncSession) -> list[integrity.CountDrift]:
        if fix:
            return await integrity.repair_contact_counts(session)
        return await integrity.contact_count_drift(session)

    drift = _in_transaction(work)
    if as_json:
        _print_json(
            {"contact_counts": [vars(row) for row in drift], "repaired": fix and bool(drift)}
        )
    elif not drift:
        console.print("contact counts: exact")
    else:
        for row in drift:
            console.print(
                f"contact counts: account {row.account_id} shard {row.shard}: "
                f"stored {row.stored}, actual {row.actual}" + (" (repaired)" if fix else "")
            )
    if drift and not fix:
        err_console.print("[red]drift found:[/red] run `nichandle db check --fix` to repair it")
        raise typer.Exit(1)


# The first user of a fresh database (make run); `nichandle users create` adds real ones.
FIRST_USER_EMAIL = "admin@nichandle.test"


async def _bootstrap(session: AsyncSession) -> tuple[str, str, str] | None:
    """On an empty database: a first account, a token so a new user can call the API, and a
    first web user with a generated password."""
    if await accounts.any_account(session):
        return None
    account = await accounts.create_account(session, "My team")
    _token, secret = await accounts.create_token(session, account=account, name="first token")
    password = _new_password()
    await web_sign_in.create_user(session, FIRST_USER_EMAIL, account, password, one_time=True)
    return f"'{account.slug}' (id {account.id})", secret, password


def _new_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    outbox_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Deliver events from each server process (else run `nichandle worker`).",
        ),
    ] = True,
) -> None:
    """Apply pending migrations, then serve the API (and deliver events, unless --no-worker)."""
    settings = Settings()
    _upgrade()
    first = _in_transaction(_bootstrap)
    if first:
        team, secret, password = first
        base = settings.public_url or f"http://{host or settings.host}:{port or settings.port}"
        # One line each, never wrapped: the token is shown once and must copy cleanly.
        for line in (
            f"Fresh database: created the team {team} and its first API token (shown once):",
            secret,
            f"Try: curl -H 'Authorization: Bearer {secret}' {base}/api/v1/contacts",
            f"Web UI: sign in at {base}/ui/sign-in as {FIRST_USER_EMAIL} with this one-time "
            "password (you choose your own at the first sign-in):",
            password,
        ):
            print(line, flush=True)  # noqa: T201 - plain text for people and scripts
    serving.serve(
        "nichandle.app:app_with_worker_from_environment"
        if outbox_worker
        else "nichandle.app:app_from_environment",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        access_log=settings.access_log,
    )


@accounts_app.command("create")
def accounts_create(
    name: str,
    email: Annotated[str | None, typer.Option(help="Owner's email (creates the user).")] = None,
    slug: Annotated[str | None, typer.Option(help="Slug; derived from NAME if omitted.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an account and an account token (shown once)."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        account = await accounts.create_account(session, name, slug=slug, owner_email=email)
        _token, secret = await accounts.create_token(session, account=account)
        return {
            "account": {"id": account.id, "name": account.name, "slug": account.slug},
            "token": secret,
        }

    result = _in_transaction(work)
    if as_json:
        _print_json(result)
    else:
        console.print(f"created account {escape(str(result['account']))}")
        console.print(f"API token (shown once): [bold]{result['token']}[/bold]", soft_wrap=True)


@accounts_app.command("list")
def accounts_list() -> None:
    """List accounts."""

    async def work(session: AsyncSession) -> list[tuple[int, str, str]]:
        return [(a.id, a.slug, a.name) for a in await accounts.list_accounts(session)]

    table = Table("id", "slug", "name")
    for row in _in_transaction(work):
        table.add_row(*(escape(str(v)) for v in row))
    console.print(table)


@users_app.command("add")
def users_add(
    email: str, account: Annotated[str, typer.Option(help="Account slug or id.")]
) -> None:
    """Add a user (created if new) to an account."""

    async def work(session: AsyncSession) -> None:
        await accounts.add_member(session, await accounts.get_account(session, account), email)

    _in_transaction(work)
    console.print(f"{escape(email)} is a member of {escape(account)}")


def _password(from_stdin: bool) -> str:
    """The password given on standard input (one line), else a generated one."""
    return sys.stdin.readline().rstrip("\r\n") if from_stdin else _new_password()


@users_app.command("create")
def users_create(
    email: str,
    account: Annotated[str, typer.Option(help="Account slug or id.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a web UI user in an account; without --password-stdin a password is generated
    and shown once."""
    password = _password(password_stdin)

    async def work(session: AsyncSession) -> None:
        team = await accounts.get_account(session, account)
        await web_sign_in.create_user(session, email, team, password)

    _in_transaction(work)
    console.print(f"{escape(email)} can sign in to {escape(account)}")
    if not password_stdin:
        console.print(f"password (shown once): [bold]{password}[/bold]", soft_wrap=True)


@users_app.command("set-password")
def users_set_password(
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a user's web UI password (generated and shown once without --password-stdin); signs
    the user's browsers out."""
    password = _password(password_stdin)

    async def work(session: AsyncSession) -> None:
        await web_sign_in.set_password(session, email, password)

    _in_transaction(work)
    console.print(f"password of {escape(email)} set; its browser sessions are signed out")
    if not password_stdin:
        console.print(f"password (shown once): [bold]{password}[/bold]", soft_wrap=True)


@tokens_app.command("create")
def tokens_create(
    account: Annotated[str | None, typer.Option(help="Account slug or id.")] = None,
    user: Annotated[str | None, typer.Option(help="User email, for a personal token.")] = None,
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an account token (--account) or a personal token (--user); shown once."""
    if (account is None) == (user is None):
        err_console.print("error: give exactly one of --account or --user")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> dict[str, Any]:
        if account is not None:
            owner = await accounts.get_account(session, account)
            token, secret = await accounts.create_token(session, account=owner, name=name)
        else:
            person = await accounts.get_user(session, user or "")
            token, secret = await accounts.create_token(session, user=person, name=name)
        return {"id": token.id, "name": token.name, "token": secret}

    result = _in_transaction(work)
    if as_json:
        _print_json(result)
    else:
        console.print(
            f"token {result['id']} ({escape(result['name'])}), shown once: {result['token']}",
            soft_wrap=True,
        )


@tokens_app.command("list")
def tokens_list(
    account: Annotated[str | None, typer.Option(help="Account slug or id.")] = None,
    user: Annotated[str | None, typer.Option(help="User email.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens of an account or a user (never their secrets)."""
    if (account is None) == (user is None):
        err_console.print("error: give exactly one of --account or --user")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        if account is not None:
            found = await accounts.list_tokens(
                session, account=await accounts.get_account(session, account)
            )
        else:
            found = await accounts.list_tokens(
                session, user=await accounts.get_user(session, user or "")
            )
        return [
            {
                "id": t.id,
                "name": t.name,
                "prefix": t.token_prefix,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in found
        ]

    rows = _in_transaction(work)
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    for row in rows:
        table.add_row(*(escape(str(v)) if v is not None else "-" for v in row.values()))
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by id; it stops working at once."""

    async def work(session: AsyncSession) -> None:
        await accounts.revoke_token(session, token_id)

    _in_transaction(work)
    console.print(f"token {token_id} revoked")


# --- contacts: bulk import and export ------------------------------------------------------

contacts_app = typer.Typer(
    help="Contacts in bulk: import and export files, reassign roles.", no_args_is_help=True
)
app.add_typer(contacts_app, name="contacts")

IMPORT_ACTOR_DIALECT = "import"
MAX_BATCH_SIZE = 10_000


@dataclass
class _ImportRun:
    """What an import got done, kept outside the event loop so an interrupted run can tell."""

    started: float = field(default_factory=time.monotonic)
    importer: bulk.ContactImport | None = None
    failure: str | None = None

    def summary(self, rejects: Path, *, complete: bool) -> dict[str, Any]:
        importer = self.importer
        created, reused, rejected = (
            (importer.created, importer.reused, importer.rejected) if importer else (0, 0, 0)
        )
        seconds = time.monotonic() - self.started
        rows = created + reused + rejected
        return {
            "created": created,
            "reused": reused,
            "rejected": rejected,
            "rows": rows,
            "rejects_file": str(rejects),
            "seconds": round(seconds, 3),
            "rows_per_second": round(rows / seconds) if seconds > 0 else 0,
            "complete": complete,
            "error": self.failure,
        }


def _batches(rows: Iterator[bulk.ImportRow], size: int) -> Iterator[list[bulk.ImportRow]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def _import_progress() -> Progress:
    return Progress(
        TextColumn("importing"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=err_console,
    )


def _read_and_check(
    path: Path, file_format: FileFormat, batch_size: int, out: multiprocessing.Queue[Any]
) -> None:
    """The reader process: reads, parses and checks the file a batch at a time, into ``out``
    as ("batch", checked rows, bytes read), then ("done" | "file_error" | "crash", detail, _)."""
    # Ctrl-C reaches the whole process group: the command itself decides what it means.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    read = 0

    def advance(count: int) -> None:
        nonlocal read
        read += count

    try:
        with path.open("rb") as source:
            rows = contact_files.read_rows(source, file_format, advance)
            for batch in _batches(rows, batch_size):
                out.put(("batch", bulk.check_rows(batch), read))
    except contact_files.FileError as exc:
        out.put(("file_error", str(exc), read))
    except Exception as exc:  # the command reports it; a dead reader would leave it waiting
        out.put(("crash", f"{type(exc).__name__}: {exc}", read))
    else:
        out.put(("done", None, read))


class _ReaderFailed(Exception):
    pass


class _FileChecker:
    """Reads and validates the file in a process of its own, a batch or two ahead of the
    database writes: the parsers and validators are pure Python, so a thread could not run
    beside the writes (on two cores this takes about a third off an import's time)."""

    AHEAD = 2

    def __init__(self, path: Path, file_format: FileFormat, batch_size: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self.queue: multiprocessing.Queue[Any] = context.Queue(maxsize=self.AHEAD)
        # Started before the event loop and the database pools exist: fork copies one thread.
        self.process = context.Process(
            target=_read_and_check,
            args=(path, file_format, batch_size, self.queue),
            daemon=True,
        )
        self.process.start()

    def __enter__(self) -> _FileChecker:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()

    async def batches(self) -> AsyncIterator[tuple[list[bulk.CheckedRow], int]]:
        """Each batch's checked rows, with how many bytes of the file were read by then."""
        loop = asyncio.get_running_loop()
        while True:
            kind, detail, read = await loop.run_in_executor(None, self._next)
            if kind == "batch":
                yield detail, read
            elif kind == "file_error":
                raise contact_files.FileError(detail)
            elif kind == "crash":
                raise _ReaderFailed(f"reading the file failed: {detail}")
            else:
                return

    def _next(self) -> tuple[str, Any, int]:
        while True:
            try:
                item: tuple[str, Any, int] = self.queue.get(timeout=1)
                return item
            except queue.Empty:
                if not self.process.is_alive() and self.queue.empty():
                    return ("crash", f"the reader process ended ({self.process.exitcode})", 0)


async def _import_file(
    run: _ImportRun,
    *,
    checker: _FileChecker,
    size: int,
    account: str,
    rejects: IO[str],
) -> None:
    db = create_database(Settings())
    try:
        async with unit_of_work(db, write=False) as session:
            owner = await accounts.get_account(session, account)
        importer = bulk.ContactImport(Actor(owner.id, None, IMPORT_ACTOR_DIALECT))
        run.importer = importer
        rejected = contact_files.RejectsWriter(rejects)
        with _import_progress() as progress:
            task = progress.add_task("import", total=size, rows=0, rate=0.0)
            async for checked, read in checker.batches():
                try:
                    async with unit_of_work(db) as session:
                        outcome = await importer.import_batch(session, checked)
                except DBAPIError as exc:
                    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                    run.failure = (
                        f"the batch of lines {checked[0].line}-{checked[-1].line} was rolled "
                        f"back: {reason}"
                    )
                    return
                rejected.write(outcome.problems)
                done = importer.created + importer.reused + importer.rejected
                elapsed = time.monotonic() - run.started
                rate = done / elapsed if elapsed else 0.0
                progress.update(task, completed=read, rows=done, rate=rate)
    finally:
        await db.dispose()


@contacts_app.command("import")
def contacts_import(
    file: Annotated[
        Path,
        typer.Argument(help="CSV or JSON Lines file.", exists=True, dir_okay=False, readable=True),
    ],
    account: Annotated[str, typer.Option(help="Account slug or id.")],
    file_format: Annotated[
        FileFormat | None,
        typer.Option("--format", help="csv or jsonl (default: from the file name)."),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where rejected rows are reported (default: FILE.rejects.csv)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=MAX_BATCH_SIZE, help="Rows per transaction.")
    ] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Create contacts from a file; identical ones are reused, bad rows reported, not fatal.

    Each batch is one transaction: an interrupted import keeps whole batches only, and running
    it again reuses what was already imported.
    """
    chosen = contact_files.format_of(file, file_format)
    if chosen is None:
        err_console.print("error: cannot tell the file's format: give --format csv or jsonl")
        raise typer.Exit(2)
    rejects_path = rejects or file.with_name(f"{file.name}.rejects.csv")
    try:
        rejects_stream = rejects_path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        err_console.print(
            f"error: cannot write the rejects file ({escape(str(exc))}): give --rejects PATH",
            soft_wrap=True,
        )
        raise typer.Exit(2) from exc
    run = _ImportRun()
    code = 0
    try:
        with _FileChecker(file, chosen, batch_size) as checker, rejects_stream:
            _run(
                lambda: _import_file(
                    run,
                    checker=checker,
                    size=file.stat().st_size,
                    account=account,
                    rejects=rejects_stream,
                )
            )
    except KeyboardInterrupt:
        run.failure = "interrupted; the batch in progress was rolled back"
        code = 130
    except contact_files.FileError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    except _ReaderFailed as exc:
        run.failure = str(exc)
        code = 1
    if run.failure and not code:
        code = 1
    summary = run.summary(rejects_path, complete=code == 0)
    if as_json:
        _print_json(summary)
    else:
        console.print(
            f"created {summary['created']:,}, reused {summary['reused']:,}, "
            f"rejected {summary['rejected']:,} "
            f"({summary['rows_per_second']:,} rows/s; rejects: {escape(str(rejects_path))})",
            soft_wrap=True,
        )
    if run.failure:
        err_console.print(
            f"[red]error:[/red] {escape(run.failure)}; earlier batches are committed, and "
            "importing the file again reuses their contacts",
            soft_wrap=True,
        )
    if code:
        raise typer.Exit(code)


@contextmanager
def _export_stream(output: Path | None) -> Iterator[IO[str]]:
    """stdout, or a file that appears (whole) only when the export completed."""
    if output is None:
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield stream
            stream.flush()
        finally:
            stream.detach()  # stdout stays open for whoever comes after
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            yield stream
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


@contacts_app.command("export")
def contacts_export(
    account: Annotated[str, typer.Option(help="Account slug or id.")],
    file_format: Annotated[
        FileFormat | None,
        typer.Option("--format", help="csv or jsonl (default: from --output's name, else csv)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="File to write (default: stdout).", dir_okay=False)
    ] = None,
) -> None:
    """Write every contact of an account, in the native field names, for `contacts import`."""
    chosen = contact_files.format_of(output, file_format) or FileFormat.csv

    async def export(stream: IO[str]) -> int:
        db = create_database(Settings())
        try:
            async with unit_of_work(db, write=False) as session:
                owner = await accounts.get_account(session, account)
                writer = contact_files.RecordWriter(stream, chosen)
                count = 0
                async for contact in bulk.export_contacts(session, owner.id):
                    writer.write(contact_files.record_of(contact))
                    count += 1
                return count
        finally:
            await db.dispose()

    try:
        with _export_stream(output) as stream:
            count = _run(lambda: export(stream))
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours; keep Python quiet about it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    if output is not None:
        console.print(f"exported {count:,} contacts to {escape(str(output))}", soft_wrap=True)
    else:
        err_console.print(f"exported {count:,} contacts", soft_wrap=True)


CLI_ACTOR_DIALECT = "cli"


def _reassignment_json(result: Reassignment) -> dict[str, Any]:
    return {
        "from": result.from_handle,
        "to": result.to_handle,
        "dry_run": result.dry_run,
        "roles": list(result.roles),
        "domains": [
            {"name": name, "unicode_name": to_unicode(name), "roles": roles}
            for name, roles in result.domains
        ],
        "count": len(result.domains),
        "unchanged": result.unchanged,
        "default_fallback": result.default_fallback,
        "pending_registrant_changes": result.pending_registrant,
    }


def _print_reassignment(result: Reassignment) -> None:
    verb = "would move" if result.dry_run else "moved"
    source, target = escape(result.from_handle), escape(result.to_handle)
    console.print(
        f"{verb} {', '.join(result.roles)} from {source} to {target} "
        f"on {len(result.domains):,} domain(s)"
        + (" (dry run: nothing changed)" if result.dry_run else ""),
        soft_wrap=True,
    )
    if result.domains:
        table = Table("domain", "roles")
        for name, roles in result.domains:
            shown = to_unicode(name)
            table.add_row(escape(shown if shown == name else f"{shown} ({name})"), ", ".join(roles))
        console.print(table)
    if result.pending_registrant:
        listed = ", ".join(escape(name) for name in result.pending_registrant)
        wait = "would wait" if result.dry_run else "waits"
        console.print(
            f"registrant change {wait} for both registrants' confirmation (change of "
            f"registrant): {listed}",
            soft_wrap=True,
        )
    if result.unchanged:
        listed = ", ".join(escape(name) for name in result.unchanged)
        console.print(f"not using {source} in these roles: {listed}", soft_wrap=True)
    if result.default_fallback:
        console.print(
            f"{result.default_fallback:,} domain(s) leave one of these roles unset, so it "
            f"falls back to {source} as the default contact: left as they are (only roles "
            f"that name {source} move; make {target} the default to move those)",
            soft_wrap=True,
        )


@contacts_app.command("reassign")
def contacts_reassign(
    from_handle: Annotated[str, typer.Argument(metavar="FROM", help="The contact to replace.")],
    to_handle: Annotated[str, typer.Argument(metavar="TO", help="The contact to put instead.")],
    account: Annotated[str, typer.Option(help="Account slug or id.")],
    role: Annotated[
        list[str] | None,
        typer.Option(help=f"A role to move, repeatable: {', '.join(ROLES)} (default: all)."),
    ] = None,
    domain: Annotated[
        list[str] | None,
        typer.Option(help="Only this domain (Unicode or A-label), repeatable (default: all)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Replace contact FROM by TO in the roles that name FROM, on every domain or those given.

    One transaction; each domain's change is recorded (history, events) as any role change is.
    Roles left unset that fall back to FROM as the default contact are counted, not changed.
    """

    async def work(session: AsyncSession) -> Reassignment:
        owner = await accounts.get_account(session, account)
        return await reassign_contact(
            session,
            Actor(owner.id, None, CLI_ACTOR_DIALECT),
            from_handle,
            to_handle,
            roles=role,
            domains=domain,
            dry_run=dry_run,
        )

    result = _in_transaction(work)
    if as_json:
        _print_json(_reassignment_json(result))
    else:
        _print_reassignment(result)


@domains_app.command("dispute-hold")
def domains_dispute_hold(
    name: Annotated[str, typer.Argument(help="The domain (Unicode or A-label).")],
    account: Annotated[str, typer.Option(help="Account slug or id.")],
    on: Annotated[bool, typer.Option("--on/--off", help="Set or lift the hold.")],
) -> None:
    """Set or lift a domain's dispute hold: while set, its registrant can't change
    (docs/registrant-change.md)."""

    async def work(session: AsyncSession) -> str:
        owner = await accounts.get_account(session, account)
        actor = Actor(owner.id, None, CLI_ACTOR_DIALECT)
        view = await domains_service.update_domain(session, actor, name, {"dispute_hold": on})
        return view.domain.name

    held = _in_transaction(work)
    console.print(f"{escape(to_unicode(held))}: dispute hold {'on' if on else 'off'}")


# --- the outbox: the worker, and the deliveries it keeps --------------------------------------

outbox_app = typer.Typer(help="Event deliveries: list, retry failed ones.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")


@app.command("worker")
def worker_command() -> None:
    """Deliver events (webhooks, the Redis Stream) until SIGTERM or Ctrl-C.

    Any number may run at once; each finishes the round under way before it stops.
    """
    if not _schema_is_current():
        err_console.print(
            "[red]error:[/red] the database schema is not up to date: run `nichandle db upgrade`"
        )
        raise typer.Exit(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per delivery
    settings = Settings()

    from nichandle.worker import loop as worker

    async def run() -> None:
        db = create_database(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for each in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(each, stop.set)
        try:
            async with worker.running(db, settings):
                err_console.print("worker running; SIGTERM or Ctrl-C stops it")
                await stop.wait()
        finally:
            await db.dispose()

    _run(run)
    err_console.print("worker stopped")


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed", help="Failed deliveries only.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List deliveries, newest first: state, attempts, next attempt, last answer."""

    async def work(session: AsyncSession) -> Sequence[dict[str, Any]]:
        return await outbox.list_deliveries(session, failed_only=failed, limit=limit)

    rows = _in_transaction(work)
    if as_json:
        _print_json(list(rows))
        return
    table = Table("id", "event", "type", "to", "state", "attempts", "next attempt", "last error")
    for row in rows:
        to = f"webhook {row['webhook_id']}" if row["channel"] == "webhook" else row["channel"]
        table.add_row(
            *(escape(str(row[c])) for c in ("id", "event", "type")),
            to,
            row["state"],
            str(row["attempts"]),
            row["next_attempt_at"] if row["state"] == "pending" else "-",
            escape(row["last_error"] or "-"),
        )
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    delivery_id: Annotated[int | None, typer.Argument(help="The delivery to retry.")] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Retry every failed delivery.")
    ] = False,
) -> None:
    """Put a failed delivery (or every one) back in line, due now, with a new retry window."""
    if (delivery_id is None) == (not all_failed):
        err_console.print("error: give a delivery ID or --all-failed (not both)")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> int:
        return await outbox.retry(session, delivery_id)

    count = _in_transaction(work)
    console.print(f"{count} deliveries back to pending")


def main() -> None:
    write_path.connect()
    try:
        app()
    except InvalidDatabaseUrl as exc:
        # Whichever command met it first (serve, db upgrade, ...): a setting to fix, so one line
        # naming it, not a traceback.
        message = f"[red]error:[/red] NICHANDLE_DATABASE_URL: {escape(str(exc))}"
        err_console.print(message, soft_wrap=True)
        raise SystemExit(2) from None
