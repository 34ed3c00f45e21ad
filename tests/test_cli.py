"""The real `nichandle` console script, run as a subprocess against a fresh database."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from nichandle.app import create_app
from nichandle.db import migrate
from nichandle.db.engine import create_database
from nichandle.settings import Settings
from tests.fresh_database import BACKENDS, fresh_database

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

NICHANDLE = Path(sys.executable).parent / "nichandle"
COMMAND_TIMEOUT = 60


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cli:
    database_url: str

    async def __call__(self, *args: str, check: bool = True) -> Result:
        env = {**os.environ, "NICHANDLE_DATABASE_URL": self.database_url}
        process = await asyncio.create_subprocess_exec(
            str(NICHANDLE),
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                out, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        result = Result(process.returncode or 0, out.decode(), err.decode())
        if check:
            assert result.returncode == 0, f"nichandle {' '.join(args)} failed: {result}"
        return result


def module_database(name: str) -> Any:
    """A ``shared_db`` fixture: one fresh database per backend for a module (starting a CLI
    process is the slow part, so the schema is migrated once); tests use accounts of their own.
    ``shared_db = module_database("cli")``."""

    @pytest.fixture(scope="module", params=BACKENDS)
    async def shared_db(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[TestDatabase]:
        async with fresh_database(request.param, tmp_path_factory.mktemp(name)) as database:
            yield database

    return shared_db


def module_cli() -> Any:
    """A ``cli`` fixture: the console script over the module's ``shared_db``, migrated."""

    @pytest.fixture(scope="module")
    async def cli(shared_db: TestDatabase) -> Cli:
        assert NICHANDLE.exists(), f"console script not installed at {NICHANDLE}"
        command = Cli(shared_db.url)
        await command("db", "upgrade")
        return command

    return cli


shared_db = module_database("cli")
cli = module_cli()


@pytest.fixture(scope="module")
async def api(shared_db: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The application in-process, over the same database the CLI writes to."""
    app = create_app(Settings(database_url=shared_db.url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await app.state.db.dispose()


@pytest.fixture(params=BACKENDS)
async def own_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    async with fresh_database(request.param, tmp_path) as database:
        yield database


def unique_name(prefix: str = "Acme") -> str:
    return f"{prefix} {secrets.token_hex(3)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status_with(api: httpx.AsyncClient, token: str) -> int:
    return (await api.get("/api/v1/contacts", headers=bearer(token))).status_code


async def test_accounts_create_json_prints_exactly_one_object(cli: Cli) -> None:
    name = unique_name("Acme Corp")
    email = f"ops-{secrets.token_hex(3)}@acme.test"
    result = await cli("accounts", "create", name, "--email", email, "--json")

    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    data = result.json()
    assert set(data) == {"account", "token"}
    assert set(data["account"]) == {"id", "name", "slug"}
    assert isinstance(data["account"]["id"], int)
    assert data["account"]["name"] == name
    assert data["account"]["slug"] == name.lower().replace(" ", "-")
    assert isinstance(data["token"], str)
    assert data["token"].startswith("nh_")
    assert len(data["token"]) > 30


async def test_same_name_gets_the_next_free_slug_and_taken_slug_is_an_error(cli: Cli) -> None:
    name = unique_name()
    first = (await cli("accounts", "create", name, "--json")).json()
    second = (await cli("accounts", "create", name, "--json")).json()
    assert second["account"]["slug"] == f"{first['account']['slug']}-2"
    assert second["account"]["id"] != first["account"]["id"]

    taken = first["account"]["slug"]
    result = await cli("accounts", "create", "Other", "--slug", taken, "--json", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "slug is taken" in result.stderr
    assert "Traceback" not in result.stderr


async def test_printed_token_authenticates_and_revoked_token_gets_401(
    cli: Cli, api: httpx.AsyncClient
) -> None:
    created = (await cli("accounts", "create", unique_name(), "--json")).json()
    slug, first_token = created["account"]["slug"], created["token"]
    assert await status_with(api, first_token) == 200

    second = (await cli("tokens", "create", "--account", slug, "--name", "ci", "--json")).json()
    assert set(second) == {"id", "name", "token"}
    assert isinstance(second["id"], int)
    assert second["name"] == "ci"
    assert second["token"] != first_token
    assert await status_with(api, second["token"]) == 200

    listed = await cli("tokens", "list", "--account", slug, "--json")
    rows = listed.json()
    assert [row["name"] for row in rows] == ["default", "ci"]
    assert [row["id"] for row in rows][1] == second["id"]
    assert all(row["revoked_at"] is None for row in rows)
    assert all(row["last_used_at"] is not None for row in rows)  # both were just used
    for secret in (first_token, second["token"]):
        assert secret not in listed.stdout
        assert secret[10:] not in listed.stdout
    for row in rows:
        assert not {"token", "secret", "token_hash", "hash"} & set(row)
        assert len(row["prefix"]) < len(first_token) // 2

    revoked = await cli("tokens", "revoke", str(second["id"]))
    assert str(second["id"]) in revoked.stdout
    assert await status_with(api, second["token"]) == 401
    assert await status_with(api, first_token) == 200

    after = await cli("tokens", "list", "--account", slug, "--json")
    by_id = {row["id"]: row for row in after.json()}
    assert by_id[second["id"]]["revoked_at"] is not None
    assert by_id[created_token_id(rows, second["id"])]["revoked_at"] is None


def created_token_id(rows: list[dict[str, Any]], other: int) -> int:
    return next(row["id"] for row in rows if row["id"] != other)


async def test_personal_tokens_of_owner_and_added_user_authenticate(
    cli: Cli, api: httpx.AsyncClient
) -> None:
    owner = f"ops-{secrets.token_hex(3)}@acme.test"
    created = (await cli("accounts", "create", unique_name(), "--email", owner, "--json")).json()
    slug = created["account"]["slug"]
    member = f"Dev-{secrets.token_hex(3)}@Acme.test"

    added = await cli("users", "add", member, "--account", slug)
    assert member in added.stdout
    owner_token, member_token = [
        result.json()
        for result in await asyncio.gather(
            cli("tokens", "create", "--user", owner, "--json"),
            cli("tokens", "create", "--user", member.lower(), "--json"),
        )
    ]

    for personal in (owner_token, member_token):
        assert await status_with(api, personal["token"]) == 200
        response = await api.get(
            "/api/v1/contacts", headers={**bearer(personal["token"]), "X-Team": slug}
        )
        assert response.status_code == 200
    listed = (await cli("tokens", "list", "--user", member.lower(), "--json")).json()
    assert [row["id"] for row in listed] == [member_token["id"]]

    await cli("tokens", "revoke", str(member_token["id"]))
    assert await status_with(api, member_token["token"]) == 401
    assert await status_with(api, owner_token["token"]) == 200


# Backend-independent behaviour of the command line itself: SQLite only, to keep the suite fast.
ONLY_SQLITE = pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)


BAD_INPUT = [
    (("tokens", "create", "--account", "nope", "--json"), 1, "Account `nope` not found"),
    (("tokens", "list", "--account", "nope", "--json"), 1, "Account `nope` not found"),
    (("tokens", "create", "--user", "nobody@acme.test", "--json"), 1, "not found"),
    (("users", "add", "dev@acme.test", "--account", "nope"), 1, "Account `nope` not found"),
    (("tokens", "revoke", "424242"), 1, "Token `424242` not found"),
    (("accounts", "create", "   ", "--json"), 1, '{"name": ["can\'t be blank"]}'),
    (("tokens", "create", "--account", "[/x]"), 1, "Account `[/x]` not found"),
    (
        ("accounts", "create", "Acme", "--slug", "Not A Slug", "--json"),
        1,
        '{"slug": ["must be up to 50 lowercase letters, digits and dashes, not only digits"]}',
    ),
    (("tokens", "create", "--json"), 2, "exactly one of --account or --user"),
    (("tokens", "list", "--account", "a", "--user", "b"), 2, "exactly one of"),
]


@ONLY_SQLITE
async def test_bad_input_is_a_one_line_message_not_a_traceback(cli: Cli) -> None:
    results = await asyncio.gather(*(cli(*args, check=False) for args, _, _ in BAD_INPUT))
    for (args, returncode, message), result in zip(BAD_INPUT, results, strict=True):
        assert result.returncode == returncode, (args, result)
        # Whole on one line: even when stderr is no terminal, the JSON detail is not wrapped.
        assert message in result.stderr, (args, result)
        assert "Traceback" not in result.stderr, (args, result)
        assert result.stdout == "", (args, result)


@ONLY_SQLITE
async def test_names_with_brackets_are_printed_as_given(cli: Cli) -> None:
    """Rich markup must not eat or choke on user input (the token is shown only once)."""
    name = f"Ops [/team] [bold]{secrets.token_hex(3)}"
    slug = f"ops-{secrets.token_hex(3)}"
    created = await cli("accounts", "create", name, "--slug", slug)
    assert name in created.stdout
    assert "API token (shown once): nh_" in created.stdout
    listed = await cli("accounts", "list")
    assert name in listed.stdout
    token = await cli("tokens", "create", "--account", slug, "--name", "[/ci]")
    assert "([/ci]), shown once: nh_" in token.stdout
    tokens = await cli("tokens", "list", "--account", slug)
    assert "[/ci]" in tokens.stdout


async def test_db_downgrade_then_upgrade(own_db: TestDatabase) -> None:
    cli = Cli(own_db.url)
    await cli("db", "upgrade")
    await cli("db", "downgrade", "base")
    failed = await cli("accounts", "list", check=False)
    assert failed.returncode == 1
    assert "schema is not up to date: run `nichandle db upgrade`" in failed.stderr
    assert "Traceback" not in failed.stderr
    upgraded = await cli("db", "upgrade")
    assert "latest schema" in upgraded.stdout

    db = create_database(Settings(database_url=own_db.url))
    try:
        assert await migrate.current_revision(db) == migrate.head_revision()
    finally:
        await db.dispose()
