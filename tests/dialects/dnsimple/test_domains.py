"""DNSimple /v2 domains: the fixtures' shapes, the registrant filter with the default fallback."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from nichandle import clock
from tests.conftest import Team
from tests.dialects.dnsimple.helpers import (
    assert_same_shape,
    contact_url,
    create,
    errors_of,
    fixture_body,
    fixture_status_and_body,
    message_of,
)

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


async def add_domain(client: httpx.AsyncClient, team: Team, name: str, **body: Any) -> None:
    response = await client.post(
        "/api/v1/domains", json={"name": name, **body}, headers=team.headers
    )
    assert response.status_code == 201, response.text


def domains_url(team: Team) -> str:
    return f"/v2/{team.id}/domains"


async def domain_list(client: httpx.AsyncClient, team: Team, **params: Any) -> dict[str, Any]:
    response = await client.get(domains_url(team), params=params, headers=team.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(body: dict[str, Any]) -> list[str]:
    return [domain["name"] for domain in body["data"]]


async def test_get_domain_matches_the_fixture(client: httpx.AsyncClient, team: Team) -> None:
    default = await create(client, team)
    await add_domain(
        client, team, "example-alpha.com", expires_at="2031-06-05T02:15:00Z", privacy=True
    )
    response = await client.get(f"{domains_url(team)}/example-alpha.com", headers=team.headers)
    assert response.status_code == 200
    body = response.json()
    assert_same_shape(body, fixture_body("getDomain/success.http"))
    data = body["data"]
    assert data["registrant_id"] == default["id"]
    assert data["account_id"] == team.id
    assert data["state"] == "registered"
    assert (data["auto_renew"], data["private_whois"], data["trustee"]) == (False, True, False)
    assert data["expires_on"] == "2031-06-05"
    assert data["expires_at"] == "2031-06-05T02:15:00Z"
    assert DATE.match(data["expires_on"])
    by_id = await client.get(f"{domains_url(team)}/{data['id']}", headers=team.headers)
    assert by_id.json() == body


async def test_list_items_have_the_get_shape_with_trustee(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create(client, team)
    await add_domain(client, team, "example-alpha.com")
    body = await domain_list(client, team)
    listed = fixture_body("listDomains/success.http")
    assert list(body) == list(listed)
    assert body["pagination"] == {
        "current_page": 1,
        "per_page": 30,
        "total_entries": 1,
        "total_pages": 1,
    }
    # The list fixture leaves trustee out, the schema requires it: items are getDomain's shape.
    assert_same_shape(body["data"][0], fixture_body("getDomain/success.http")["data"])
    without_trustee = [k for k in body["data"][0] if k != "trustee"]
    assert without_trustee == list(listed["data"][0])


async def test_idn_domains_show_both_names(client: httpx.AsyncClient, team: Team) -> None:
    await create(client, team)
    await add_domain(client, team, "bücher.example")
    response = await client.get(f"{domains_url(team)}/bücher.example", headers=team.headers)
    data = response.json()["data"]
    assert (data["name"], data["unicode_name"]) == ("xn--bcher-kva.example", "bücher.example")


async def test_registrant_filter_counts_the_default_contact(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await create(client, team)
    other = await create(client, team, label="other")
    other_handle = (await client.get("/api/v1/contacts", headers=team.headers)).json()["data"][1]
    assert other_handle["label"] == "other"
    await add_domain(client, team, "falls-back.test")
    await add_domain(client, team, "explicit.test", contacts={"owner": other_handle["handle"]})
    await add_domain(client, team, "tech-only.test", contacts={"tech": other_handle["handle"]})

    mine = await domain_list(client, team, registrant_id=other["id"])
    assert names(mine) == ["explicit.test"]
    assert mine["data"][0]["registrant_id"] == other["id"]
    fallback = await domain_list(client, team, registrant_id=default["id"])
    assert names(fallback) == ["falls-back.test", "tech-only.test"]
    assert {d["registrant_id"] for d in fallback["data"]} == {default["id"]}
    for unknown in (0, -1, 2**31, 10**30, other["id"] + 1000):
        assert names(await domain_list(client, team, registrant_id=unknown)) == []


async def test_registrant_of_a_domain_cannot_be_deleted(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create(client, team)
    other = await create(client, team, label="other")
    handle = (await client.get("/api/v1/contacts", headers=team.headers)).json()["data"][1]
    await add_domain(client, team, "in-use.test", contacts={"owner": handle["handle"]})
    status, fixture = fixture_status_and_body("deleteContact/error-contact-in-use.http")
    response = await client.delete(contact_url(team, other["id"]), headers=team.headers)
    assert response.status_code == status == 400
    assert response.json() == fixture


async def test_name_like_and_sort(client: httpx.AsyncClient, team: Team) -> None:
    await create(client, team)
    await add_domain(client, team, "bravo.test", expires_at="2030-01-01T00:00:00Z")
    await add_domain(client, team, "alpha.test", expires_at="2032-01-01T00:00:00Z")
    await add_domain(client, team, "charlie.example", expires_at="2031-01-01T00:00:00Z")

    # DNSimple's default order is by name.
    assert names(await domain_list(client, team)) == ["alpha.test", "bravo.test", "charlie.example"]
    assert names(await domain_list(client, team, sort="name:desc")) == [
        "charlie.example",
        "bravo.test",
        "alpha.test",
    ]
    assert names(await domain_list(client, team, sort="expiration:asc")) == [
        "bravo.test",
        "charlie.example",
        "alpha.test",
    ]
    assert names(await domain_list(client, team, sort="id:desc")) == [
        "charlie.example",
        "alpha.test",
        "bravo.test",
    ]
    assert names(await domain_list(client, team, name_like="test", sort="name:desc")) == [
        "bravo.test",
        "alpha.test",
    ]
    assert names(await domain_list(client, team, name_like="ARLI")) == ["charlie.example"]
    paged = await domain_list(client, team, per_page=2, page=2)
    assert names(paged) == ["charlie.example"]
    assert paged["pagination"]["total_pages"] == 2


async def test_bad_domain_list_parameters_are_400s(client: httpx.AsyncClient, team: Team) -> None:
    for params in ({"registrant_id": "abc"}, {"sort": "name:sideways"}, {"per_page": 500}):
        response = await client.get(domains_url(team), params=params, headers=team.headers)
        assert list(errors_of(response)) == list(params)


async def test_unknown_domains_are_404_with_the_fixtures_message(
    client: httpx.AsyncClient, team: Team
) -> None:
    status, fixture = fixture_status_and_body("notfound-domain.http")
    response = await client.get(f"{domains_url(team)}/0", headers=team.headers)
    assert response.status_code == status
    assert response.json() == fixture
    for name in ("dnsimple-rraform.bio", "2147483648", "9" * 30, "no_dots", "-5"):
        missing = await client.get(f"{domains_url(team)}/{name}", headers=team.headers)
        assert message_of(missing, 404) == f"Domain `{name}` not found"


def wire_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_domain_past_its_expiry_reads_expired_until_it_is_renewed(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create(client, team)
    now = datetime.now(UTC)
    await add_domain(client, team, "lapsed.test", expires_at=wire_time(now - timedelta(days=1)))
    await add_domain(client, team, "current.test", expires_at=wire_time(now + timedelta(days=1)))

    lapsed = await client.get(f"{domains_url(team)}/lapsed.test", headers=team.headers)
    assert lapsed.json()["data"]["state"] == "expired"
    listed = {d["name"]: d["state"] for d in (await domain_list(client, team))["data"]}
    assert listed == {"lapsed.test": "expired", "current.test": "registered"}
    # The native API shows the same status.
    native = await client.get("/api/v1/domains/lapsed.test", headers=team.headers)
    assert native.json()["data"]["status"] == "expired"

    renewed = await client.patch(
        "/api/v1/domains/lapsed.test",
        json={"expires_at": wire_time(now + timedelta(days=365))},
        headers=team.headers,
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["data"]["status"] == "registered"
    again = await client.get(f"{domains_url(team)}/lapsed.test", headers=team.headers)
    assert again.json()["data"]["state"] == "registered"


async def test_a_domain_reads_expired_from_the_instant_of_its_expiry_on_the_clock(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create(client, team)
    start = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    with clock.use(clock.FrozenClock(start)) as frozen:
        assert isinstance(frozen, clock.FrozenClock)
        await add_domain(client, team, "ticking.test")  # a year from the clock's now
        url = f"{domains_url(team)}/ticking.test"
        frozen.advance(timedelta(days=365) - timedelta(seconds=1))
        before = await client.get(url, headers=team.headers)
        frozen.advance(timedelta(seconds=1))
        at = await client.get(url, headers=team.headers)
    assert before.json()["data"]["state"] == "registered"
    assert at.json()["data"]["state"] == "expired"
