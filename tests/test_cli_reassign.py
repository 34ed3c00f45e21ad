"""`nichandle contacts reassign` through the real console script, on both databases: the same
change as the native API's, the preview as a table or JSON, errors as one line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import func, select

from nichandle.app import create_app
from nichandle.db.engine import Database, create_database
from nichandle.events.models import OutboxEvent
from nichandle.history.models import DomainRoleChange
from nichandle.settings import Settings
from tests.conftest import contact_payload, designated_agent
from tests.test_cli import Cli, bearer, module_cli, module_database, unique_name

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


shared_db = module_database("reassign")
cli = module_cli()


@pytest.fixture(scope="module")
async def api(shared_db: TestDatabase, cli: Cli) -> AsyncIterator[httpx.AsyncClient]:
    """The application in-process, over the database the CLI writes to."""
    app = create_app(Settings(database_url=shared_db.url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await app.state.db.dispose()


@pytest.fixture(scope="module")
async def db(shared_db: TestDatabase) -> AsyncIterator[Database]:
    """The same database, to look at what the commands recorded."""
    database = create_database(Settings(database_url=shared_db.url))
    yield database
    await database.dispose()


class Team:
    def __init__(self, api: httpx.AsyncClient, account: dict[str, Any], token: str) -> None:
        self.api = api
        self.id: int = account["id"]
        self.slug: str = account["slug"]
        self.headers = bearer(token)

    async def contact(self, tag: str) -> str:
        body = contact_payload(email=f"{tag}@example.com", first_name=tag.title())
        response = await self.api.post("/api/v1/contacts", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        handle: str = response.json()["data"]["handle"]
        return handle

    async def domain(self, name: str, **contacts: str) -> None:
        body = {"name": name, "contacts": contacts}
        response = await self.api.post("/api/v1/domains", json=body, headers=self.headers)
        assert response.status_code == 201, response.text

    async def roles(self, name: str) -> dict[str, str]:
        response = await self.api.get(f"/api/v1/domains/{name}", headers=self.headers)
        assert response.status_code == 200, response.text
        roles: dict[str, str] = response.json()["data"]["contacts"]
        return roles


async def new_team(cli: Cli, api: httpx.AsyncClient, *, agent: bool = True) -> Team:
    """A team; with ``agent``, a Designated Agent approves changes of registrant for both
    parties, so a reassigned registrant moves at once (docs/registrant-change.md)."""
    created = (await cli("accounts", "create", unique_name("Reassign"), "--json")).json()
    team = Team(api, created["account"], created["token"])
    if agent:
        await designated_agent(api, team.headers)
    return team


async def recorded(db: Database, team: Team) -> tuple[int, int]:
    """(role history rows written by the CLI, domain.contacts_changed events) of the team."""
    async with db.reader_sessions() as session:
        history = await session.scalar(
            select(func.count())
            .select_from(DomainRoleChange)
            .where(DomainRoleChange.account_id == team.id, DomainRoleChange.dialect == "cli")
        )
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.account_id == team.id,
                OutboxEvent.type == "domain.contacts_changed",
            )
        )
    return history or 0, events or 0


async def test_dry_run_json_previews_then_the_run_changes_exactly_that(
    cli: Cli, api: httpx.AsyncClient, db: Database
) -> None:
    team = await new_team(cli, api)
    default, a, b = [await team.contact(tag) for tag in ("default", "alpha", "bravo")]
    await team.domain("one.test", owner=a, tech=a)
    await team.domain("bücher.example", admin=a)
    await team.domain("other.test", owner=b)
    events_before = (await recorded(db, team))[1]

    args = ["contacts", "reassign", a, b, "--account", team.slug, "--json"]
    preview = (await cli(*args, "--dry-run")).json()
    assert preview == {
        "from": a,
        "to": b,
        "dry_run": True,
        "roles": ["registrant", "admin", "tech", "billing"],
        "domains": [
            {"name": "one.test", "unicode_name": "one.test", "roles": ["registrant", "tech"]},
            {
                "name": "xn--bcher-kva.example",
                "unicode_name": "bücher.example",
                "roles": ["admin"],
            },
        ],
        "count": 2,
        "unchanged": [],
        "default_fallback": 0,
        "pending_registrant_changes": [],
    }
    assert await team.roles("one.test") == {
        "owner": a,
        "admin": default,
        "tech": a,
        "billing": default,
    }
    assert await recorded(db, team) == (0, events_before)

    done = (await cli(*args)).json()
    assert done == {**preview, "dry_run": False}
    assert await team.roles("one.test") == {
        "owner": b,
        "admin": default,
        "tech": b,
        "billing": default,
    }
    assert (await team.roles("bücher.example"))["admin"] == b
    assert await recorded(db, team) == (3, events_before + 2)


async def test_chosen_roles_and_domains_and_the_table(cli: Cli, api: httpx.AsyncClient) -> None:
    team = await new_team(cli, api)
    default, a, b = [await team.contact(tag) for tag in ("default", "alpha", "bravo")]
    await team.domain("one.test", owner=a, tech=a)
    await team.domain("bücher.example", owner=a)
    await team.domain("unset.test")
    result = await cli(
        "contacts",
        "reassign",
        default,
        b,
        "--account",
        team.slug,
        "--role",
        "registrant",
        "--domain",
        "one.test",
        "--domain",
        "unset.test",
        "--dry-run",
    )
    # The default: nothing names it explicitly there, so nothing moves; unset.test's owner
    # falls back to it, which the output says.
    assert "would move registrant" in result.stdout
    assert "on 0 domain(s)" in result.stdout
    assert "not using" in result.stdout
    assert "one.test, unset.test" in result.stdout
    assert "1 domain(s) leave one of these roles unset" in result.stdout

    table = await cli("contacts", "reassign", a, b, "--account", team.slug, "--role", "registrant")
    assert "moved registrant from" in table.stdout
    assert "bücher.example (xn--bcher-kva.example)" in table.stdout
    assert "one.test" in table.stdout
    assert (await team.roles("one.test"))["tech"] == a  # not chosen
    assert (await team.roles("one.test"))["owner"] == b
    assert (await team.roles("xn--bcher-kva.example"))["owner"] == b


async def test_errors_are_one_line_naming_the_field_and_change_nothing(
    cli: Cli, api: httpx.AsyncClient, db: Database
) -> None:
    team = await new_team(cli, api)
    other = await new_team(cli, api)
    _default, a, b = [await team.contact(tag) for tag in ("default", "alpha", "bravo")]
    foreign = await other.contact("foreign")
    await team.domain("one.test", owner=a)
    cases = [
        ([a, "nosuchhandle"], '"to": ["contact `nosuchhandle` not found"]'),
        ([a, foreign], f'"to": ["contact `{foreign}` not found"]'),
        ([a, a], '"to"'),
        (["nosuchhandle", b], "Contact `nosuchhandle` not found"),
        ([foreign, b], f"Contact `{foreign}` not found"),
        ([a, b, "--role", "owner"], '"roles.0": ["must be one of registrant, admin'),
        ([a, b, "--domain", "missing.test"], '"domains.0": ["domain `missing.test` not found"]'),
    ]
    for args, expected in cases:
        result = await cli("contacts", "reassign", *args, "--account", team.slug, check=False)
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert expected in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    unknown = await cli("contacts", "reassign", a, b, "--account", "no-such-team", check=False)
    assert unknown.returncode == 1
    assert (await team.roles("one.test"))["owner"] == a
    assert await recorded(db, team) == (0, 1)


async def test_dispute_hold_on_refuses_a_registrant_change_and_off_lifts_it(
    cli: Cli, api: httpx.AsyncClient
) -> None:
    """`nichandle domains dispute-hold` (in this module: its database is migrated already)."""
    team = await new_team(cli, api)
    owner = await team.contact("holder")
    await team.domain("disputed.com", owner=owner)
    held = await cli("domains", "dispute-hold", "disputed.com", "--account", team.slug, "--on")
    assert held.stdout.strip() == "disputed.com: dispute hold on"
    url = f"/api/v1/contacts/{owner}"
    edit = {"email": "taken@example.com"}
    refused = await api.patch(url, json=edit, headers=team.headers)
    assert refused.status_code == 409, refused.text
    assert "disputed.com" in refused.json()["message"]
    await cli("domains", "dispute-hold", "disputed.com", "--account", team.slug, "--off")
    domain = (await api.get("/api/v1/domains/disputed.com", headers=team.headers)).json()
    assert domain["data"]["dispute_hold"] is False
    assert (await api.patch(url, json=edit, headers=team.headers)).status_code == 200


async def test_a_registrant_change_left_pending_is_said(cli: Cli, api: httpx.AsyncClient) -> None:
    """Without an agent (cor-2024), a gTLD's registrant waits for both registrants."""
    team = await new_team(cli, api, agent=False)
    a, b = await team.contact("alpha"), await team.contact("bravo")
    await team.domain("waits.test", owner=a, tech=a)
    result = await cli("contacts", "reassign", a, b, "--account", team.slug)
    assert "moved registrant, admin, tech, billing" in result.stdout
    assert "waits for both registrants' confirmation (change of registrant): waits.test" in (
        result.stdout.replace("\n", " ")
    )
    roles = await team.roles("waits.test")
    assert (roles["owner"], roles["tech"]) == (a, b)
