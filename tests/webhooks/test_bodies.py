"""Each dialect's webhook body for events made by real writes: DNSimple's in the shape of its
webhook fixtures (key sets), name.com's as its DomainLockStatusChange schema defines it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from nichandle.db.engine import Database
from nichandle.dialects.dnsimple.webhooks import delivery_body as dnsimple_body
from nichandle.dialects.namecom.webhooks import delivery_body as namecom_body
from tests.conftest import Team, create_contact, designated_agent
from tests.dialects.namecom.helpers import auth
from tests.reference import reference_path
from tests.webhooks.helpers import (
    RECEIVER,
    events_of,
    key_sets,
    make_every_kind_of_change,
    webhook_and_account,
)


def dnsimple_fixture(name: str) -> dict[str, Any]:
    """The JSON body of a DNSimple webhook fixture (an HTTP request as received)."""
    text = reference_path(f"dnsimple/fixtures/webhooks/{name}/example.http").read_text()
    body: dict[str, Any] = json.loads(text.replace("\r\n", "\n").partition("\n\n")[2])
    return body


async def test_dnsimple_bodies_have_the_fixtures_keys_and_dnsimples_names(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    made = await client.post(
        f"/v2/{team.id}/webhooks", json={"url": RECEIVER}, headers=team.headers
    )
    webhook, account = await webhook_and_account(db, made.json()["data"]["id"])
    await make_every_kind_of_change(client, team, "req-dnsimple")
    bodies = [dnsimple_body(event, webhook, account) for event in await events_of(db, team.id)]
    sent = [body for body in bodies if body is not None]
    assert [body["name"] for body in sent] == [
        "contact.create",
        "contact.create",
        "contact.update",
        "domain.create",
        "domain.transfer_lock_enable",
        "domain.transfer_lock_disable",
        "domain.delete",
        "contact.delete",
    ]
    for body in sent:
        assert body["api_version"] == "v2"
        assert body["request_identifier"] == "req-dnsimple"
        assert body["account"] == {"id": team.id, "display": account.name, "identifier": team.slug}
        assert body["actor"] == {"id": str(team.id), "entity": "account", "pretty": account.name}
        if body["name"].startswith("contact."):
            expected = dnsimple_fixture(body["name"])
            assert key_sets(body) == key_sets(expected), body["name"]
        else:
            assert set(body) == set(dnsimple_fixture("contact.create"))
            domain = body["data"]["domain"]
            # DNSimple's Domain, as its registrant_change fixture carries one.
            assert set(domain) == set(
                dnsimple_fixture("domain.registrant_change")["data"]["domain"]
            )
            assert (domain["account_id"], domain["name"], domain["unicode_name"]) == (
                team.id,
                "xn--bcher-kva.example",
                "bücher.example",
            )
            assert domain["state"] == "registered"
            assert domain["expires_at"].endswith("Z")
            assert domain["expires_on"] == domain["expires_at"][:10]
    update = sent[2]["data"]["contact"]
    deleted = sent[-1]["data"]["contact"]
    assert (update["label"], update["account_id"]) == ("Renamed", team.id)
    assert update["id"] == deleted["id"] == sent[1]["data"]["contact"]["id"]
    assert update["address1"] == "Damrak 1"
    assert (update["country"], update["state_province"], update["fax"]) == ("NL", "", "")
    assert update["created_at"] is None
    assert update["updated_at"] is not None
    assert deleted["email"] == "b@example.com"
    assert (deleted["created_at"], deleted["updated_at"]) == (None, None)
    created = sent[0]["data"]["contact"]
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].endswith("Z")


async def test_a_dnsimple_body_without_a_request_id_carries_the_event_uuid(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    made = await client.post(
        f"/v2/{team.id}/webhooks", json={"url": RECEIVER}, headers=team.headers
    )
    webhook, account = await webhook_and_account(db, made.json()["data"]["id"])
    await make_every_kind_of_change(client, team, "req")
    event = (await events_of(db, team.id))[0]
    event.request_id = None
    body = dnsimple_body(event, webhook, account)
    assert body is not None
    assert body["request_identifier"] == event.uuid
    event.actor_token_id, event.actor_dialect = None, "system"
    body = dnsimple_body(event, webhook, account)
    assert body is not None
    assert body["actor"] == {"id": "system", "entity": "system", "pretty": "nichandle"}


async def test_namecom_sends_the_lock_status_change_only(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    made = await client.post(
        "/core/v1/notifications",
        json={"eventName": "domain.lock.status_change", "url": RECEIVER, "active": True},
        auth=auth(team),
    )
    assert made.status_code == 201, made.text
    webhook, account = await webhook_and_account(db, made.json()["subscription"]["id"])
    await make_every_kind_of_change(client, team, "req-namecom")
    bodies = [namecom_body(event, webhook, account) for event in await events_of(db, team.id)]
    assert [body for body in bodies if body is not None] == [
        {
            "eventName": "domain.lock.status_change",
            "domainName": "xn--bcher-kva.example",
            "action": "added",
            "lockType": "TransferLock",
            "registryStatuses": ["clientTransferProhibited"],
        },
        {
            "eventName": "domain.lock.status_change",
            "domainName": "xn--bcher-kva.example",
            "action": "removed",
            "lockType": "TransferLock",
            "registryStatuses": ["ok"],
        },
    ]


def dnsimple_status_fixture(status: str) -> dict[str, Any]:
    """domain.registrant_change's fixture for one status (started, cancelled)."""
    path = f"dnsimple/fixtures/webhooks/domain.registrant_change/status-{status}.http"
    text = reference_path(path).read_text()
    body: dict[str, Any] = json.loads(text.replace("\r\n", "\n").partition("\n\n")[2])
    return body


async def test_changes_of_registrant_in_dnsimples_and_namecoms_bodies(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    """A change started and cancelled, then one approved by an agent (applied, locked): DNSimple
    names them as its fixtures do, with their keys; name.com sees the lock."""
    made = await client.post(
        f"/v2/{team.id}/webhooks", json={"url": RECEIVER}, headers=team.headers
    )
    dnsimple_hook, account = await webhook_and_account(db, made.json()["data"]["id"])
    subscribed = await client.post(
        "/core/v1/notifications",
        json={"eventName": "domain.lock.status_change", "url": RECEIVER, "active": True},
        auth=auth(team),
    )
    namecom_hook, _ = await webhook_and_account(db, subscribed.json()["subscription"]["id"])
    default = await create_contact(client, team)
    other = await create_contact(client, team, email="other@example.com", first_name="Other")
    added = await client.post(
        "/api/v1/domains", json={"name": "changing.com"}, headers=team.headers
    )
    assert added.status_code == 201, added.text
    pending = await client.patch(
        "/api/v1/domains/changing.com",
        json={"contacts": {"owner": other["handle"]}},
        headers=team.headers,
    )
    assert pending.status_code == 202, pending.text
    [notice] = [n for n in pending.json()["data"]["notices"] if "registrant_change" in n["code"]]
    change_id = notice["data"]["registrant_change_id"]
    cancelled = await client.delete(f"/api/v1/registrant-changes/{change_id}", headers=team.headers)
    assert cancelled.status_code == 204
    await designated_agent(client, team.headers)
    applied = await client.patch(
        "/api/v1/domains/changing.com",
        json={"contacts": {"owner": other["handle"]}},
        headers=team.headers,
    )
    assert applied.status_code == 200, applied.text

    events = await events_of(db, team.id)
    sent = [b for b in (dnsimple_body(e, dnsimple_hook, account) for e in events) if b]
    changes = [b for b in sent if b["name"].startswith("domain.registrant_change")]
    assert [b["name"] for b in changes] == [
        "domain.registrant_change:started",
        "domain.registrant_change:cancelled",
        "domain.registrant_change:started",
        "domain.registrant_change",
    ]
    fixtures = {
        "domain.registrant_change:started": dnsimple_status_fixture("started"),
        "domain.registrant_change:cancelled": dnsimple_status_fixture("cancelled"),
        "domain.registrant_change": dnsimple_fixture("domain.registrant_change"),
    }
    for body in changes:
        assert key_sets(body) == key_sets(fixtures[body["name"]]), body["name"]
        assert body["data"]["registrant"]["email_address"] == "other@example.com"
    # The domain names its registrant: the prior one (the default) while the change waits, the
    # new one once it applies (at once with the agent).
    registrant_ids = [b["data"]["domain"]["registrant_id"] for b in changes]
    new_id = changes[-1]["data"]["registrant"]["id"]
    assert registrant_ids[0] == registrant_ids[1] != new_id
    assert registrant_ids[2:] == [new_id, new_id]
    assert default["handle"] != other["handle"]
    assert "domain.transfer_lock_enable" in [b["name"] for b in sent]

    locks = [b for b in (namecom_body(e, namecom_hook, account) for e in events) if b]
    assert locks == [
        {
            "eventName": "domain.lock.status_change",
            "domainName": "changing.com",
            "action": "added",
            "lockType": "TransferLock",
            "registryStatuses": ["clientTransferProhibited"],
        }
    ]
