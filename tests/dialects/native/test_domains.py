"""Native /api/v1 domains and certificates: roles, the default fallback, protection, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from nichandle.db.engine import Database
from nichandle.events.models import OutboxEvent
from nichandle.history.models import DomainRoleChange
from tests.conftest import Team, create_contact

CHANGED = "domain.contacts_changed"


async def add_domain(client: httpx.AsyncClient, team: Team, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/domains", json=body, headers=team.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def events(db: Database, account_id: int, name: str) -> list[dict[str, Any]]:
    async with db.reader_sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.account_id == account_id, OutboxEvent.type == name)
            .order_by(OutboxEvent.id)
        )
        return [row.payload for row in rows]


async def test_domain_with_only_a_name_gets_defaults_and_the_default_contact(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await create_contact(client, team)
    domain = await add_domain(client, team, name="example.com")
    assert domain["contacts"] == dict.fromkeys(
        ("owner", "admin", "tech", "billing"), default["handle"]
    )
    assert domain["autorenew"] is False
    assert domain["privacy"] is False
    assert domain["locked"] is False
    assert domain["tld"] == "com"
    expires = datetime.fromisoformat(domain["expires_at"])
    created = datetime.fromisoformat(domain["created_at"])
    assert timedelta(days=364) < expires - created <= timedelta(days=366)


async def test_idn_is_stored_as_punycode_and_found_by_either_form(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)
    domain = await add_domain(client, team, name="Bücher.Example")
    assert domain["name"] == "xn--bcher-kva.example"
    assert domain["unicode_name"] == "bücher.example"
    for name in ("bücher.example", "xn--bcher-kva.example"):
        response = await client.get(f"/api/v1/domains/{name}", headers=team.headers)
        assert response.status_code == 200
        assert response.json()["data"]["name"] == "xn--bcher-kva.example"


async def test_invalid_domain_name_is_a_422_naming_the_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post("/api/v1/domains", json={"name": "no_dots"}, headers=team.headers)
    assert response.status_code == 422
    assert "name" in response.json()["errors"]


async def test_roles_given_are_used_unknown_role_keys_ignored(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await create_contact(client, team)
    owner = await create_contact(client, team, email="owner@example.com")
    domain = await add_domain(
        client, team, name="roles.test", contacts={"owner": owner["handle"], "reseller": "x"}
    )
    assert domain["contacts"]["owner"] == owner["handle"]
    assert domain["contacts"]["admin"] == default["handle"]


async def test_another_teams_handle_is_a_422_naming_the_role(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    await create_contact(client, team)
    foreign = await create_contact(client, other_team)
    response = await client.post(
        "/api/v1/domains",
        json={"name": "foreign.test", "contacts": {"tech": foreign["handle"]}},
        headers=team.headers,
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["contacts.tech"]


async def test_patch_changes_only_the_roles_sent_and_empty_contacts_resets(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await create_contact(client, team)
    other = await create_contact(client, team, email="other@example.com")
    await add_domain(client, team, name="patch.nl", contacts={"owner": other["handle"]})
    response = await client.patch(
        "/api/v1/domains/patch.nl",
        json={"contacts": {"tech": other["handle"]}},
        headers=team.headers,
    )
    contacts = response.json()["data"]["contacts"]
    assert contacts["owner"] == other["handle"]
    assert contacts["tech"] == other["handle"]
    assert contacts["admin"] == default["handle"]

    reset = await client.patch(
        "/api/v1/domains/patch.nl", json={"contacts": {}}, headers=team.headers
    )
    assert set(reset.json()["data"]["contacts"].values()) == {default["handle"]}


async def test_contacts_with_whois_privacy_in_one_patch_is_a_422(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    await add_domain(client, team, name="privacy.test")
    response = await client.patch(
        "/api/v1/domains/privacy.test",
        json={"contacts": {"owner": contact["handle"]}, "is_whois_privacy_enabled": True},
        headers=team.headers,
    )
    assert response.status_code == 422
    assert "is_whois_privacy_enabled" in response.json()["errors"]
    alone = await client.patch(
        "/api/v1/domains/privacy.test",
        json={"is_whois_privacy_enabled": True},
        headers=team.headers,
    )
    assert alone.json()["data"]["privacy"] is True


async def test_contact_in_use_by_a_domain_cannot_be_deleted_and_the_refusal_names_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)
    used = await create_contact(client, team, email="used@example.com")
    await add_domain(client, team, name="in-use.test", contacts={"admin": used["handle"]})
    response = await client.delete(f"/api/v1/contacts/{used['handle']}", headers=team.headers)
    assert response.status_code == 409
    assert "in-use.test" in response.json()["message"]

    await client.delete("/api/v1/domains/in-use.test", headers=team.headers)
    again = await client.delete(f"/api/v1/contacts/{used['handle']}", headers=team.headers)
    assert again.status_code == 204


async def test_contact_of_a_certificate_cannot_be_deleted(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)
    holder = await create_contact(client, team, email="cert@example.com")
    created = await client.post(
        "/api/v1/certificates",
        json={"common_name": "www.cert.test", "contact": holder["handle"]},
        headers=team.headers,
    )
    assert created.status_code == 201
    response = await client.delete(f"/api/v1/contacts/{holder['handle']}", headers=team.headers)
    assert response.status_code == 409
    assert "www.cert.test" in response.json()["message"]


async def test_updating_a_contact_changes_every_domain_and_emits_one_event_each(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    await create_contact(client, team)
    registrant = await create_contact(client, team, email="reg@example.com")
    names = ["one.test", "two.test", "three.test"]
    for name in names:
        await add_domain(client, team, name=name, contacts={"owner": registrant["handle"]})
    before = len(await events(db, team.id, "domain.contacts_changed"))
    await client.patch(
        f"/api/v1/contacts/{registrant['handle']}",
        json={"address_city": "Utrecht"},
        headers=team.headers,
    )
    for name in names:
        shown = await client.get(f"/api/v1/domains/{name}?expand[]=contacts", headers=team.headers)
        assert shown.json()["data"]["contacts"]["owner"]["address_city"] == "Utrecht"
    after = await events(db, team.id, "domain.contacts_changed")
    new = after[before:]
    assert sorted(e["domain"] for e in new) == sorted(names)
    assert all(e["roles"] == ["registrant"] for e in new)


async def test_role_changes_are_kept_as_history(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    await create_contact(client, team)
    other = await create_contact(client, team, email="h@example.com")
    await add_domain(client, team, name="history.test")
    await client.patch(
        "/api/v1/domains/history.test",
        json={"contacts": {"billing": other["handle"]}},
        headers=team.headers,
    )
    async with db.reader_sessions() as session:
        rows = (
            await session.scalars(
                select(DomainRoleChange).where(
                    DomainRoleChange.account_id == team.id,
                    DomainRoleChange.domain_name == "history.test",
                )
            )
        ).all()
    assert [(r.role, r.before_handle, r.after_handle, r.dialect) for r in rows] == [
        ("billing", None, other["handle"], "native")
    ]


async def test_patch_of_settings_is_domain_updated_and_of_roles_contacts_changed(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    await create_contact(client, team)
    other = await create_contact(client, team, email="p@example.com")
    await add_domain(client, team, name="patched.test")
    url = "/api/v1/domains/patched.test"
    bodies = [
        {"autorenew": True},
        {"contacts": {"tech": other["handle"]}},
        {"autorenew": False, "contacts": {"admin": other["handle"]}},
        {"autorenew": False},  # nothing changes: no event
    ]
    seen = []
    for body in bodies:
        before = [len(await events(db, team.id, t)) for t in ("domain.updated", CHANGED)]
        response = await client.patch(url, json=body, headers=team.headers)
        assert response.status_code == 200, response.text
        after = [len(await events(db, team.id, t)) for t in ("domain.updated", CHANGED)]
        seen.append((after[0] - before[0], after[1] - before[1]))
    assert seen == [(1, 0), (0, 1), (1, 1), (0, 0)]


async def test_contact_expand_shows_what_uses_it(client: httpx.AsyncClient, team: Team) -> None:
    default = await create_contact(client, team)
    await add_domain(client, team, name="usage.test")
    await client.post(
        "/api/v1/certificates", json={"common_name": "usage.test"}, headers=team.headers
    )
    response = await client.get(
        f"/api/v1/contacts/{default['handle']}",
        params=[("expand[]", "domains"), ("expand[]", "certificates")],
        headers=team.headers,
    )
    data = response.json()["data"]
    assert data["domains"] == [
        {"name": "usage.test", "roles": ["owner", "admin", "tech", "billing"]}
    ]
    assert [c["common_name"] for c in data["certificates"]] == ["usage.test"]
    plain = await client.get(f"/api/v1/contacts/{default['handle']}", headers=team.headers)
    assert "domains" not in plain.json()["data"]


async def test_list_domains_filters_by_contact_and_query_and_paginates(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)
    special = await create_contact(client, team, email="special@example.com")
    for i in range(5):
        await add_domain(client, team, name=f"list{i}.test")
    await add_domain(client, team, name="special.test", contacts={"tech": special["handle"]})

    by_contact = await client.get(
        "/api/v1/domains", params={"contact": special["handle"]}, headers=team.headers
    )
    assert [d["name"] for d in by_contact.json()["data"]] == ["special.test"]

    by_query = await client.get("/api/v1/domains", params={"query": "LIST"}, headers=team.headers)
    assert by_query.json()["meta"]["total"] == 5

    paged = await client.get(
        "/api/v1/domains", params={"per_page": 2, "page": 2}, headers=team.headers
    )
    body = paged.json()
    assert body["meta"] == {"current_page": 2, "last_page": 3, "per_page": 2, "total": 6}
    assert [d["name"] for d in body["data"]] == ["list2.test", "list3.test"]


async def test_certificates_crud(client: httpx.AsyncClient, team: Team) -> None:
    default = await create_contact(client, team)
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    created = await client.post(
        "/api/v1/certificates",
        json={"common_name": "*.crud.test", "expires_at": expires.isoformat()},
        headers=team.headers,
    )
    assert created.status_code == 201
    certificate = created.json()["data"]
    assert certificate["contact"] == default["handle"]
    assert certificate["common_name"] == "*.crud.test"
    url = f"/api/v1/certificates/{certificate['id']}"
    assert (await client.get(url, headers=team.headers)).json()["data"] == certificate
    listed = await client.get("/api/v1/certificates", headers=team.headers)
    assert [c["id"] for c in listed.json()["data"]] == [certificate["id"]]
    assert (await client.delete(url, headers=team.headers)).status_code == 204
    assert (await client.get(url, headers=team.headers)).status_code == 404


async def test_another_teams_domains_and_certificates_are_404(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    await create_contact(client, team)
    await create_contact(client, other_team)
    await add_domain(client, team, name="mine.test")
    created = await client.post(
        "/api/v1/certificates", json={"common_name": "mine.test"}, headers=team.headers
    )
    cert_url = f"/api/v1/certificates/{created.json()['data']['id']}"
    foreign = other_team.headers
    assert (await client.get("/api/v1/domains/mine.test", headers=foreign)).status_code == 404
    assert (
        await client.patch("/api/v1/domains/mine.test", json={"autorenew": True}, headers=foreign)
    ).status_code == 404
    assert (await client.delete("/api/v1/domains/mine.test", headers=foreign)).status_code == 404
    assert (await client.get(cert_url, headers=foreign)).status_code == 404
    assert (await client.delete(cert_url, headers=foreign)).status_code == 404
    listed = await client.get("/api/v1/domains", headers=foreign)
    assert listed.json()["meta"]["total"] == 0
