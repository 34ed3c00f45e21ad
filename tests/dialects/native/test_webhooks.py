"""The native webhooks API, /api/v1/webhooks: the rules (URL checks, event names, the secret
shown once, re-activation, the test delivery), bad input, and tenancy."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from nichandle.db.base import utcnow
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.models import Delivery, OutboxEvent
from nichandle.webhooks.models import Webhook
from tests.conftest import Team
from tests.dialects.native.helpers import error_message, field_errors
from tests.webhooks.helpers import LINK_LOCAL, PRIVATE, RECEIVER, client_with

WEBHOOKS = "/api/v1/webhooks"


async def create(client: httpx.AsyncClient, team: Team, **body: Any) -> dict[str, Any]:
    response = await client.post(WEBHOOKS, json={"url": RECEIVER, **body}, headers=team.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def stored(db: Database, webhook_id: int) -> Webhook:
    async with unit_of_work(db, write=False) as session:
        found = await session.get(Webhook, webhook_id)
        assert found is not None
        return found


async def test_create_shows_the_secret_once_and_stores_catalogue_names(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    created = await create(client, team, events=["contact.changed", "domain.created"])
    assert created["url"] == RECEIVER
    assert created["events"] == ["contact.changed", "domain.created"]
    assert created["is_active"] is True
    assert (created["failing_since"], created["deactivated_at"]) == (None, None)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert (await stored(db, created["id"])).events == ["contact.updated", "domain.created"]

    got = await client.get(f"{WEBHOOKS}/{created['id']}", headers=team.headers)
    assert got.status_code == 200
    assert got.json()["data"] == {k: v for k, v in created.items() if k != "secret"}
    listed = (await client.get(WEBHOOKS, headers=team.headers)).json()["data"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    another = await create(client, team)
    assert another["secret"] != secret
    listed = (await client.get(WEBHOOKS, headers=team.headers)).json()["data"]
    assert [w["id"] for w in listed] == [created["id"], another["id"]]


async def test_patch_changes_what_is_sent_and_reactivation_clears_failures(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    created = await create(client, team)
    url = f"{WEBHOOKS}/{created['id']}"
    patched = await client.patch(
        url, json={"events": ["contact.deleted"], "url": RECEIVER + "/2"}, headers=team.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["events"] == ["contact.deleted"]
    assert patched.json()["data"]["url"] == RECEIVER + "/2"
    assert "secret" not in patched.json()["data"]

    # As the worker leaves a webhook that failed for the whole grace period.
    async with unit_of_work(db) as session:
        await session.execute(
            update(Webhook)
            .where(Webhook.id == created["id"])
            .values(is_active=False, failing_since=utcnow(), deactivated_at=utcnow())
        )
    off = (await client.get(url, headers=team.headers)).json()["data"]
    assert off["is_active"] is False
    assert off["deactivated_at"] is not None

    on = await client.patch(url, json={"is_active": True}, headers=team.headers)
    assert on.status_code == 200, on.text
    data = on.json()["data"]
    assert (data["is_active"], data["failing_since"], data["deactivated_at"]) == (True, None, None)
    # An empty PATCH changes nothing.
    same = await client.patch(url, json={}, headers=team.headers)
    assert same.json()["data"]["events"] == ["contact.deleted"]


async def test_delete_then_not_found(client: httpx.AsyncClient, team: Team) -> None:
    created = await create(client, team)
    url = f"{WEBHOOKS}/{created['id']}"
    assert (await client.delete(url, headers=team.headers)).status_code == 204
    for method in ("GET", "DELETE"):
        response = await client.request(method, url, headers=team.headers)
        assert error_message(response, 404) == f"Webhook `{created['id']}` not found"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://receiver.invalid/x"}, "url", "http or https"),
        ({"url": "receiver.invalid/x"}, "url", "http or https"),
        ({"url": "https://user:pw@receiver.invalid/"}, "url", "credentials"),
        ({"url": "https://receiver.invalid:99999/"}, "url", "port"),
        ({"url": "https://receiver.invalid/" + "x" * 2048}, "url", "2048"),
        ({"url": RECEIVER, "events": ["contact.exploded"]}, "events", "contact.exploded"),
        ({"url": RECEIVER, "events": "contact.created"}, "events", "list"),
        ({"url": RECEIVER, "is_active": "yes"}, "is_active", "boolean"),
        ({"url": RECEIVER, "secret": "whsec_mine"}, "secret", "not a known field"),
        ({}, "url", "required"),
        ({"url": 5}, "url", "string"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, team: Team, body: dict[str, Any], field: str, words: str
) -> None:
    response = await client.post(WEBHOOKS, json=body, headers=team.headers)
    errors = field_errors(response)
    assert list(errors) == [field], errors
    assert words in " ".join(errors[field]).lower() or words in " ".join(errors[field])


async def test_a_bad_patch_changes_nothing(client: httpx.AsyncClient, team: Team) -> None:
    created = await create(client, team, events=["contact.created"])
    url = f"{WEBHOOKS}/{created['id']}"
    for body in ({"url": "gopher://x", "events": []}, {"events": ["nope"], "is_active": False}):
        field_errors(await client.patch(url, json=body, headers=team.headers))
    got = (await client.get(url, headers=team.headers)).json()["data"]
    assert (got["url"], got["events"], got["is_active"]) == (RECEIVER, ["contact.created"], True)


async def test_private_targets_are_refused_unless_allowed(app: FastAPI, team: Team) -> None:
    async with client_with(app, webhooks_allow_private=False) as strict:
        for url in (PRIVATE, LINK_LOCAL, "http://[::1]/hook", "http://10.1.2.3/hook"):
            response = await strict.post(WEBHOOKS, json={"url": url}, headers=team.headers)
            errors = field_errors(response)
            assert list(errors) == ["url"]
            assert "private" in errors["url"][0]
        created = (
            await strict.post(WEBHOOKS, json={"url": RECEIVER}, headers=team.headers)
        ).json()["data"]
        patched = await strict.patch(
            f"{WEBHOOKS}/{created['id']}", json={"url": PRIVATE}, headers=team.headers
        )
        assert "private" in field_errors(patched)["url"][0]
    async with client_with(app, webhooks_allow_private=True) as lenient:
        response = await lenient.post(WEBHOOKS, json={"url": PRIVATE}, headers=team.headers)
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("webhook_id", ["0", "999999999", str(2**63), str(2**64), "-1"])
async def test_ids_that_name_nothing_are_404(
    client: httpx.AsyncClient, team: Team, webhook_id: str
) -> None:
    url = f"{WEBHOOKS}/{webhook_id}"
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/deliveries"), ("POST", "/test")):
        response = await client.request(method, url + suffix, headers=team.headers)
        assert response.status_code == 404, (method, suffix, response.text)
    response = await client.patch(url, json={"is_active": False}, headers=team.headers)
    assert response.status_code == 404, response.text


async def test_an_id_that_is_no_number_is_a_422(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get(f"{WEBHOOKS}/abc", headers=team.headers)
    assert list(field_errors(response)) == ["webhook_id"]


async def test_another_teams_webhook_is_not_found(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    theirs = await create(client, other_team)
    url = f"{WEBHOOKS}/{theirs['id']}"
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/deliveries"), ("POST", "/test")):
        response = await client.request(method, url + suffix, headers=team.headers)
        assert response.status_code == 404, (method, suffix, response.text)
    response = await client.patch(url, json={"is_active": False}, headers=team.headers)
    assert response.status_code == 404
    assert (await client.get(WEBHOOKS, headers=team.headers)).json()["data"] == []
    assert (await client.get(url, headers=other_team.headers)).json()["data"]["is_active"]


async def test_other_dialects_webhooks_are_not_native_ones(
    client: httpx.AsyncClient, team: Team
) -> None:
    made = await client.post(
        f"/v2/{team.id}/webhooks", json={"url": RECEIVER}, headers=team.headers
    )
    assert made.status_code == 201, made.text
    response = await client.get(f"{WEBHOOKS}/{made.json()['data']['id']}", headers=team.headers)
    assert response.status_code == 404
    assert (await client.get(WEBHOOKS, headers=team.headers)).json()["data"] == []


async def test_test_queues_one_delivery_for_this_webhook_alone(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    # Its filter leaves webhook.test out: a test is sent anyway.
    webhook = await create(client, team, events=["contact.created"])
    bystander = await create(client, team)
    response = await client.post(f"{WEBHOOKS}/{webhook['id']}/test", headers=team.headers)
    assert response.status_code == 202, response.text
    queued = response.json()["data"]
    assert queued["event"]["type"] == "webhook.test"
    assert (queued["state"], queued["attempts"], queued["last_status"]) == ("pending", 0, None)
    assert queued["next_attempt_at"] is not None

    async with unit_of_work(db, write=False) as session:
        event = await session.scalar(
            select(OutboxEvent).where(
                OutboxEvent.type == "webhook.test", OutboxEvent.resource_id == str(webhook["id"])
            )
        )
        assert event is not None
        assert event.uuid == queued["event"]["id"]
        assert event.payload == {"webhook_id": webhook["id"], "url": RECEIVER}
        deliveries = list(
            await session.scalars(select(Delivery).where(Delivery.event_id == event.id))
        )
    assert [d.webhook_id for d in deliveries] == [webhook["id"]]
    body = json.loads(deliveries[0].body)
    assert body["id"] == event.uuid
    assert body["type"] == "webhook.test"
    assert body["resource"] == {"type": "webhook", "id": str(webhook["id"]), "parent": None}
    assert body["data"] == {"webhook_id": webhook["id"], "url": RECEIVER}

    listed = await client.get(f"{WEBHOOKS}/{webhook['id']}/deliveries", headers=team.headers)
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["data"]] == [queued["id"]]
    assert listed.json()["data"][0] == queued
    assert listed.json()["meta"]["total"] == 1
    nothing = await client.get(f"{WEBHOOKS}/{bystander['id']}/deliveries", headers=team.headers)
    assert nothing.json()["data"] == []


async def test_deliveries_are_paged_newest_first(client: httpx.AsyncClient, team: Team) -> None:
    webhook = await create(client, team)
    url = f"{WEBHOOKS}/{webhook['id']}"
    ids = [
        (await client.post(f"{url}/test", headers=team.headers)).json()["data"]["id"]
        for _ in range(3)
    ]
    first = await client.get(f"{url}/deliveries?per_page=2", headers=team.headers)
    assert [d["id"] for d in first.json()["data"]] == ids[::-1][:2]
    assert first.json()["meta"] == {"current_page": 1, "last_page": 2, "per_page": 2, "total": 3}
    second = await client.get(first.json()["links"]["next"], headers=team.headers)
    assert [d["id"] for d in second.json()["data"]] == [ids[0]]
    for query in ("per_page=0", "per_page=101", "page=0"):
        response = await client.get(f"{url}/deliveries?{query}", headers=team.headers)
        assert list(field_errors(response)) == [query.split("=")[0]]
