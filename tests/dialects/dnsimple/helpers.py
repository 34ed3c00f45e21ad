"""Helpers the DNSimple dialect tests share: reference fixtures, payloads, shape checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from nichandle.accounts import service as accounts
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from tests.conftest import Team
from tests.reference import reference_path as shared_reference

RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def reference_path(relative: str) -> Path:
    """A file of DNSimple's reference (fixtures, OpenAPI)."""
    return shared_reference(f"dnsimple/{relative}")


def fixture_status_and_body(name: str) -> tuple[int, Any]:
    """A fixture .http file's status and JSON body (what follows the first blank line)."""
    text = reference_path(f"fixtures/{name}").read_text()
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status = int(head.split("\n", 1)[0].split()[1])
    return status, json.loads(body) if body.strip() else None


def fixture_body(name: str) -> Any:
    return fixture_status_and_body(name)[1]


def assert_same_shape(actual: Any, expected: Any, where: str = "$") -> None:
    """Same keys in the same order and the same JSON types, recursively; values may differ.

    A null in the fixture accepts null or a value (ours may be set where the fixture's isn't);
    lists are compared item by item against the fixture's first item.
    """
    if expected is None:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key, value in expected.items():
            assert_same_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        for index, item in enumerate(actual):
            assert_same_shape(item, expected[0], f"{where}[{index}]")
    else:
        # bool is an int in Python: compare the exact JSON type.
        assert type(actual) is type(expected), f"{where}: {actual!r} is not {type(expected)}"


def contact_body(**overrides: Any) -> dict[str, Any]:
    """The createContact fixture's contact as a request body; keyword overrides replace fields."""
    body: dict[str, Any] = {
        "label": "Default",
        "first_name": "First",
        "last_name": "User",
        "job_title": "CEO",
        "organization_name": "Awesome Company",
        "email": "first@example.com",
        "phone": "+18001234567",
        "fax": "+18011234567",
        "address1": "Italian Street, 10",
        "city": "Roma",
        "state_province": "RM",
        "postal_code": "00100",
        "country": "IT",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def contacts_url(team: Team | int) -> str:
    return f"/v2/{team.id if isinstance(team, Team) else team}/contacts"


def contact_url(team: Team | int, contact_id: int | str) -> str:
    return f"{contacts_url(team)}/{contact_id}"


async def create(client: httpx.AsyncClient, team: Team, **overrides: Any) -> dict[str, Any]:
    """Creates a contact through /v2 and returns its ``data``."""
    response = await client.post(
        contacts_url(team), json=contact_body(**overrides), headers=team.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def errors_of(response: httpx.Response) -> dict[str, list[str]]:
    """The ``errors`` of a DNSimple 400 after checking the envelope."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == ["message", "errors"], body
    assert isinstance(body["message"], str)
    assert body["message"]
    errors: dict[str, list[str]] = body["errors"]
    for field, messages in errors.items():
        assert messages, field
        assert all(isinstance(m, str) and m for m in messages), field
    return errors


def message_of(response: httpx.Response, status: int) -> str:
    """The ``message`` of a DNSimple error with no ``errors``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["message"], body
    message: str = body["message"]
    return message


def assert_rate_limit_headers(response: httpx.Response) -> None:
    for name in RATE_LIMIT_HEADERS:
        value = response.headers.get(name)
        assert value is not None, f"{name} missing on {response.status_code}"
        assert value.isdigit(), f"{name}: {value!r}"


async def personal_token(db: Database, email: str, *teams: Team) -> str:
    """Makes ``email`` a member of ``teams`` and gives the user a personal token (its secret)."""
    async with unit_of_work(db) as session:
        user = await accounts.ensure_user(session, email)
        for team in teams:
            account = await accounts.get_account(session, team.slug)
            await accounts.add_member(session, account, email)
        _token, secret = await accounts.create_token(session, user=user)
        return secret
