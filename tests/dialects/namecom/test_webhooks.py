"""name.com's webhook notifications, /core/v1/notifications, as its OpenAPI defines them:
SubscriptionRecord, 201 on subscribe, 409 when already subscribed, ModifySubscription, 204 on
delete, name.com's error envelope, and tenancy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Team
from tests.dialects.namecom.helpers import CORE, auth
from tests.webhooks.helpers import PRIVATE, RECEIVER, client_with

NOTIFICATIONS = f"{CORE}/notifications"
LOCK = "domain.lock.status_change"
RECORD_KEYS = ["id", "eventName", "url", "active", "createDate", "updateDate"]


def error(response: httpx.Response, status: int, message: str) -> str:
    """name.com's envelope: the status's message, and details saying what exactly."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["message"] == message, body
    details: str = body["details"]
    return details


async def subscribe(
    client: httpx.AsyncClient, team: Team, url: str = RECEIVER, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        NOTIFICATIONS, json={"eventName": LOCK, "url": url, "active": True, **body}, auth=auth(team)
    )
    assert response.status_code == 201, response.text
    assert list(response.json()) == ["subscription"]
    record: dict[str, Any] = response.json()["subscription"]
    return record


async def test_subscribe_list_modify_unsubscribe(client: httpx.AsyncClient, team: Team) -> None:
    record = await subscribe(client, team)
    assert list(record) == RECORD_KEYS
    assert (record["eventName"], record["url"], record["active"]) == (LOCK, RECEIVER, True)
    assert record["createDate"].endswith("Z")
    paused = await subscribe(client, team, RECEIVER + "/paused", active=False)
    assert paused["active"] is False

    listed = await client.get(NOTIFICATIONS, auth=auth(team))
    assert listed.json() == {"subscriptions": [record, paused]}

    modified = await client.put(
        f"{NOTIFICATIONS}/{record['id']}", json={"active": False}, auth=auth(team)
    )
    assert modified.status_code == 200, modified.text
    assert modified.json()["subscription"]["active"] is False
    moved = await client.put(
        f"{NOTIFICATIONS}/{record['id']}",
        json={"url": RECEIVER + "/moved", "active": True},
        auth=auth(team),
    )
    assert (moved.json()["subscription"]["url"], moved.json()["subscription"]["active"]) == (
        RECEIVER + "/moved",
        True,
    )

    deleted = await client.delete(f"{NOTIFICATIONS}/{record['id']}", auth=auth(team))
    assert (deleted.status_code, deleted.content) == (204, b"")
    listed = await client.get(NOTIFICATIONS, auth=auth(team))
    assert [r["id"] for r in listed.json()["subscriptions"]] == [paused["id"]]
    again = await client.delete(f"{NOTIFICATIONS}/{record['id']}", auth=auth(team))
    assert error(again, 404, "Not Found") == f"Webhook `{record['id']}` not found"


async def test_subscribing_twice_is_a_409(client: httpx.AsyncClient, team: Team) -> None:
    first = await subscribe(client, team)
    response = await client.post(
        NOTIFICATIONS, json={"eventName": LOCK, "url": RECEIVER, "active": False}, auth=auth(team)
    )
    assert error(response, 409, "Conflict") == (
        "You are attempting to subscribe to an event you have already subscribed to."
    )
    # Moving another subscription onto the same event and URL is the same conflict.
    other = await subscribe(client, team, RECEIVER + "/other")
    moved = await client.put(
        f"{NOTIFICATIONS}/{other['id']}", json={"url": RECEIVER}, auth=auth(team)
    )
    assert error(moved, 409, "Conflict")
    # Changing a subscription's own URL to itself is no conflict.
    same = await client.put(
        f"{NOTIFICATIONS}/{first['id']}", json={"url": RECEIVER}, auth=auth(team)
    )
    assert same.status_code == 200, same.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"eventName": "account.credit.balance_change", "url": RECEIVER, "active": True}, "credit"),
        (
            {"eventName": "domain.transfer.status_change", "url": RECEIVER, "active": True},
            "transfer",
        ),
        ({"eventName": "domain.exploded", "url": RECEIVER, "active": True}, "unknown event"),
        ({"eventName": LOCK, "url": "ftp://receiver.invalid/", "active": True}, "url: "),
        ({"eventName": LOCK, "url": RECEIVER}, "active: is required"),
        ({"eventName": LOCK, "url": RECEIVER, "active": "yes"}, "active: "),
        ({"eventName": LOCK, "url": RECEIVER, "active": True, "x": 1}, "x: is not a known field"),
    ],
)
async def test_bad_subscriptions_are_400(
    client: httpx.AsyncClient, team: Team, body: dict[str, Any], words: str
) -> None:
    response = await client.post(NOTIFICATIONS, json=body, auth=auth(team))
    assert words in error(response, 400, "Invalid argument")
    assert (await client.get(NOTIFICATIONS, auth=auth(team))).json() == {"subscriptions": []}


async def test_bad_modifications_are_400_and_change_nothing(
    client: httpx.AsyncClient, team: Team
) -> None:
    record = await subscribe(client, team)
    url = f"{NOTIFICATIONS}/{record['id']}"
    for body in ({}, {"url": "nope", "active": False}, {"eventName": LOCK}, {"active": None}):
        response = await client.put(url, json=body, auth=auth(team))
        error(response, 400, "Invalid argument")
    response = await client.put(url, json={}, auth=auth(team))
    assert error(response, 400, "Invalid argument") == "give url, active or both"
    response = await client.put(
        url, content=b"{", headers={"content-type": "application/json"}, auth=auth(team)
    )
    assert "not valid JSON" in error(response, 400, "Invalid argument")
    response = await client.put(url, content=b"{}", auth=auth(team))
    assert response.status_code == 415
    listed = await client.get(NOTIFICATIONS, auth=auth(team))
    assert listed.json() == {"subscriptions": [record]}


async def test_private_targets_are_refused_unless_allowed(app: FastAPI, team: Team) -> None:
    body = {"eventName": LOCK, "url": PRIVATE, "active": True}
    async with client_with(app, webhooks_allow_private=False) as strict:
        response = await strict.post(NOTIFICATIONS, json=body, auth=auth(team))
        assert "private" in error(response, 400, "Invalid argument")


@pytest.mark.parametrize("subscription_id", ["0", "abc", str(2**31), str(2**64), "-3"])
async def test_ids_that_name_nothing_are_404(
    client: httpx.AsyncClient, team: Team, subscription_id: str
) -> None:
    url = f"{NOTIFICATIONS}/{subscription_id}"
    error(await client.delete(url, auth=auth(team)), 404, "Not Found")
    error(await client.put(url, json={"active": True}, auth=auth(team)), 404, "Not Found")


async def test_another_accounts_subscriptions_are_not_found(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    theirs = await subscribe(client, other_team)
    url = f"{NOTIFICATIONS}/{theirs['id']}"
    error(await client.put(url, json={"active": False}, auth=auth(team)), 404, "Not Found")
    error(await client.delete(url, auth=auth(team)), 404, "Not Found")
    assert (await client.get(NOTIFICATIONS, auth=auth(team))).json() == {"subscriptions": []}
    # The same event and URL in another account is no conflict.
    mine = await subscribe(client, team)
    assert mine["id"] != theirs["id"]
    listed = await client.get(NOTIFICATIONS, auth=auth(other_team))
    assert listed.json() == {"subscriptions": [theirs]}
