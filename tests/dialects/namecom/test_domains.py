"""name.com /core/v1/domains: list, get, create and update, in name.com's shapes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Team
from tests.dialects.namecom.helpers import (
    DOMAINS,
    REQUIRED_DOMAIN_FIELDS,
    ROLES,
    add_default_contact,
    auth,
    contact_count,
    create_domain,
    domain_url,
    error,
    get_domain,
    namecom_contact,
    role_handles,
)


def moment(value: str) -> datetime:
    assert value.endswith("Z")
    return datetime.fromisoformat(value)


# GetDomain


async def test_get_has_every_required_field_and_the_default_in_every_role(
    client: httpx.AsyncClient, team: Team
) -> None:
    await add_default_contact(client, team, company_name="Example Inc.", fax="+18011234567")
    await client.post(
        "/api/v1/domains",
        json={"name": "example.com", "renewal_price": 12.99, "nameservers": ["ns1.example.net"]},
        headers=team.headers,
    )
    domain = await get_domain(client, team, "example.com")
    assert list(domain) == list(REQUIRED_DOMAIN_FIELDS)
    assert domain["domainName"] == "example.com"
    assert domain["renewalPrice"] == 12.99
    assert domain["nameservers"] == ["ns1.example.net"]
    assert list(domain["contacts"]) == ["admin", "billing", "registrant", "tech"]
    assert moment(domain["expireDate"]) > moment(domain["createDate"])
    assert domain["contacts"]["registrant"] == {
        "firstName": "First",
        "lastName": "User",
        "companyName": "Example Inc.",
        "address1": "123 Main Street",  # street and house number, in the US order
        "address2": None,
        "city": "New York",
        "state": "NY",
        "zip": "10001",
        "country": "US",
        "email": "first@example.com",
        "phone": "+18001234567",
        "fax": "+18011234567",
        "isVerified": False,
    }


async def test_unset_optionals_are_null_and_unknown_renewal_price_is_zero(
    client: httpx.AsyncClient, team: Team
) -> None:
    await add_default_contact(client, team)
    domain = (await create_domain(client, team, "plain.com"))["domain"]
    contact = domain["contacts"]["tech"]
    assert contact["companyName"] is None
    assert contact["address2"] is None
    assert contact["fax"] is None
    assert domain["renewalPrice"] == 0


async def test_house_number_follows_the_street_where_the_country_writes_it_so(
    client: httpx.AsyncClient, team: Team
) -> None:
    await add_default_contact(
        client,
        team,
        address_street="Damrak",
        address_house_number="1",
        address_postal_code="1012 LG",
        address_city="Amsterdam",
        address_state="Noord-Holland",
        address_country_code="NL",
        phone="+31201234567",
    )
    domain = (await create_domain(client, team, "dutch.nl"))["domain"]
    assert domain["contacts"]["registrant"]["address1"] == "Damrak 1"


async def test_is_verified_follows_the_email_verification(
    client: httpx.AsyncClient, team: Team, db: Any
) -> None:
    from sqlalchemy import update

    from nichandle.contacts.models import Contact
    from nichandle.db.base import utcnow
    from nichandle.db.session import unit_of_work

    default = await add_default_contact(client, team)
    async with unit_of_work(db) as session:
        await session.execute(
            update(Contact)
            .where(Contact.account_id == team.id, Contact.handle == default["handle"])
            .values(email_verified_at=utcnow())
        )
    domain = (await create_domain(client, team, "verified.com"))["domain"]
    assert {c["isVerified"] for c in domain["contacts"].values()} == {True}


async def test_idn_is_found_by_either_form_and_shown_as_punycode(
    client: httpx.AsyncClient, team: Team
) -> None:
    await add_default_contact(client, team)
    created = (await create_domain(client, team, "Bücher.Example"))["domain"]
    assert created["domainName"] == "xn--bcher-kva.example"
    for name in ("bücher.example", "XN--BCHER-KVA.example"):
        assert (await get_domain(client, team, name))["domainName"] == "xn--bcher-kva.example"


async def test_unknown_domain_is_404_not_found(client: httpx.AsyncClient, team: Team) -> None:
    body = error(await client.get(domain_url("nope.com"), auth=auth(team)), 404)
    assert body == {"message": "Not Found", "details": "The requested domain does not exist."}


@pytest.mark.parametrize(
    "name",
    ["+15551234567", "no_dots", "x" * 300, "a..b", "%F0%9F%92%A9.com", "x:setContacts"],
)
async def test_garbage_domain_name_in_the_path_is_404(
    client: httpx.AsyncClient, team: Team, name: str
) -> None:
    for method in ("GET", "PATCH"):
        response = await client.request(
            method, domain_url(name), json={"locked": True}, auth=auth(team)
        )
        error(response, 404)
    response = await client.post(f"{DOMAINS}/{name}:setContacts", json={}, auth=auth(team))
    error(response, 404)


async def test_another_accounts_domain_is_404_everywhere(
    client: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    await add_default_contact(client, other_team)
    await create_domain(client, other_team, "theirs.com")
    await add_default_contact(client, team)
    url = domain_url("theirs.com")
    error(await client.get(url, auth=auth(team)), 404)
    error(await client.patch(url, json={"locked": True}, auth=auth(team)), 404)
    body = {"contacts": dict.fromkeys(ROLES, namecom_contact())}
    error(await client.post(f"{url}:setContacts", json=body, auth=auth(team)), 404)
    listed = (await client.get(DOMAINS, auth=auth(team))).json()
    assert listed["domains"] == []
    assert (await get_domain(client, other_team, "theirs.com"))["locked"] is False


# ListDomains


async def test_list_pages_with_from_to_and_next_page(client: httpx.AsyncClient, team: Team) -> None:
    await add_default_contact(client, team)
    for n in range(5):
        await create_domain(client, team, f"d{n}.com")
    first = (await client.get(DOMAINS, auth=auth(team))).json()
    assert [d["domainName"] for d in first["domains"]] == [f"d{n}.com" for n in range(5)]
    assert first["from"] == 1
    assert first["to"] == 5
    assert first["totalCount"] == 5
    assert "nextPage" not in first
    assert "lastPage" not in first

    response = await client.get(DOMAINS, params={"perPage": 2, "page": 2}, auth=auth(team))
    middle = response.json()
    assert [d["domainName"] for d in middle["domains"]] == ["d2.com", "d3.com"]
    assert (middle["from"], middle["to"], middle["totalCount"]) == (3, 4, 5)
    assert (middle["nextPage"], middle["lastPage"]) == (3, 3)

    response = await client.get(DOMAINS, params={"perPage": 2, "page": 3}, auth=auth(team))
    last = response.json()
    assert [d["domainName"] for d in last["domains"]] == ["d4.com"]
    assert (last["from"], last["to"]) == (5, 5)
    assert "nextPage" not in last

    response = await client.get(DOMAINS, params={"perPage": 2, "page": 9}, auth=auth(team))
    past = response.json()
    assert past["domains"] == []
    assert (past["from"], past["to"], past["totalCount"]) == (0, 0, 5)


async def test_list_items_are_full_domain_payloads(client: httpx.AsyncClient, team: Team) -> None:
    await add_default_contact(client, team)
    await create_domain(client, team, "full.com")
    listed = (await client.get(DOMAINS, auth=auth(team))).json()["domains"]
    assert listed == [await get_domain(client, team, "full.com")]


async def test_empty_list(client: httpx.AsyncClient, team: Team) -> None:
    body = (await client.get(DOMAINS, auth=auth(team))).json()
    assert body == {"domains": [], "from": 0, "to": 0, "totalCount": 0}


@pytest.mark.parametrize(
    "params",
    [
        {"perPage": 0},
        {"perPage": 1001},
        {"perPage": -1},
        {"page": 0},
        {"page": 2**40},
        {"perPage": "many"},
        {"page": "x"},
    ],
)
async def test_bad_paging_is_400_naming_the_parameter(
    client: httpx.AsyncClient, team: Team, params: dict[str, Any]
) -> None:
    body = error(await client.get(DOMAINS, params=params, auth=auth(team)), 400)
    assert body["message"] == "Invalid argument"
    assert body["details"].startswith(next(iter(params)))


async def test_per_page_up_to_1000(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.get(DOMAINS, params={"perPage": 1000}, auth=auth(team))
    assert response.status_code == 200


# CreateDomain


async def test_create_without_contacts_uses_the_default_and_answers_200(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await add_default_contact(client, team)
    created = await create_domain(client, team, "new.com")
    assert set(created) == {"domain", "order", "totalPaid"}
    assert isinstance(created["order"], int)
    assert created["totalPaid"] == 0
    assert list(created["domain"]) == list(REQUIRED_DOMAIN_FIELDS)
    assert created["domain"] == await get_domain(client, team, "new.com")
    handles = await role_handles(client, team, "new.com")
    assert set(handles.values()) == {default["handle"]}


async def test_create_with_one_role_uses_the_default_for_the_others(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await add_default_contact(client, team)
    tech = namecom_contact(firstName="Jonny", lastName="IT Guy", address2=None, fax=None)
    created = await create_domain(client, team, "tech.com", contacts={"tech": tech})
    contacts = created["domain"]["contacts"]
    assert contacts["tech"]["firstName"] == "Jonny"
    assert contacts["tech"]["address1"] == "123 Main Street"
    assert contacts["registrant"]["firstName"] == "First"
    handles = await role_handles(client, team, "tech.com")
    assert handles["owner"] == handles["admin"] == handles["billing"] == default["handle"]
    assert handles["tech"] != default["handle"]


async def test_create_reuses_an_identical_contact(client: httpx.AsyncClient, team: Team) -> None:
    await add_default_contact(client, team)
    await create_domain(client, team, "one.com", contacts={"admin": namecom_contact()})
    before = await contact_count(client, team)
    await create_domain(client, team, "two.com", contacts={"admin": namecom_contact()})
    assert await contact_count(client, team) == before
    one = await role_handles(client, team, "one.com")
    assert (await role_handles(client, team, "two.com"))["admin"] == one["admin"]


async def test_create_with_the_defaults_details_reuses_the_default(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await add_default_contact(client, team)
    shown = (await create_domain(client, team, "first.com"))["domain"]["contacts"]["admin"]
    before = await contact_count(client, team)
    await create_domain(client, team, "second.com", contacts={"registrant": shown})
    assert await contact_count(client, team) == before
    assert (await role_handles(client, team, "second.com"))["owner"] == default["handle"]


async def test_create_settings_and_years(client: httpx.AsyncClient, team: Team) -> None:
    await add_default_contact(client, team)
    response = await client.post(
        DOMAINS,
        json={
            "domain": {
                "domainName": "settings.com",
                "autorenewEnabled": True,
                "privacyEnabled": True,
                "locked": True,
                "nameservers": ["NS1.Example.net", "ns2.example.net"],
            },
            "years": 3,
            "purchasePrice": 12.99,
            "purchaseType": "registration",
            "tldRequirements": {"language": "ES"},
        },
        headers={"X-Idempotency-Key": "083910ef-04e4-4bd1-a0bf-3737fe005ca8"},
        auth=auth(team),
    )
    assert response.status_code == 200, response.text
    domain = response.json()["domain"]
    assert (domain["autorenewEnabled"], domain["privacyEnabled"], domain["locked"]) == (
        True,
        True,
        True,
    )
    assert domain["nameservers"] == ["ns1.example.net", "ns2.example.net"]
    term = moment(domain["expireDate"]) - moment(domain["createDate"])
    assert timedelta(days=3 * 365 - 1) < term < timedelta(days=3 * 366 + 1)


@pytest.mark.parametrize("years", [0, 11, -1])
async def test_years_out_of_range_is_400(client: httpx.AsyncClient, team: Team, years: int) -> None:
    await add_default_contact(client, team)
    response = await client.post(
        DOMAINS, json={"domain": {"domainName": "years.com"}, "years": years}, auth=auth(team)
    )
    assert error(response, 400)["details"] == "years: must be between 1 and 10"


async def test_create_reports_every_problem_at_once_and_writes_nothing(
    client: httpx.AsyncClient, team: Team
) -> None:
    await add_default_contact(client, team)
    before = await contact_count(client, team)
    response = await client.post(
        DOMAINS,
        json={
            "domain": {
                "domainName": "no_dots",
                "contacts": {
                    "admin": namecom_contact(),
                    "tech": namecom_contact(phone="+1555", state=""),
                },
            },
            "years": 20,
        },
        auth=auth(team),
    )
    details = error(response, 400)["details"]
    assert details.startswith("domainName: ")
    assert "years: must be between 1 and 10" in details
    assert "contacts.tech.phone: is not a possible phone number in US" in details
    assert "contacts.tech.state: " in details
    assert "contacts.admin" not in details
    assert await contact_count(client, team) == before


async def test_create_an_existing_domain_is_409(client: httpx.AsyncClient, team: Team) -> None:
    await add_default_contact(client, team)
    await create_domain(client, team, "twice.com")
    response = await client.post(
        DOMAINS, json={"domain": {"domainName": "twice.com"}}, auth=auth(team)
    )
    assert "twice.com" in error(response, 409)["details"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "domain: is required"),
        ({"domain": {}}, "domain.domainName: is required"),
        ({"domain": {"domainName": 7}}, "domain.domainName: "),
        ({"domain": {"domainName": "x.com", "locked": "yes"}}, "domain.locked: "),
        ({"domain": {"domainName": "x.com"}, "years": "2"}, "years: "),
        ({"domain": {"domainName": "x.com"}, "colour": "red"}, "colour: is not a known field"),
        ({"domain": {"domainName": "x.com", "contacts": {"tech": "me"}}}, "domain.contacts.tech"),
        ([], "Input should be an object"),
    ],
)
async def test_create_with_wrong_shapes_is_400_naming_the_field(
    client: httpx.AsyncClient, team: Team, body: Any, field: str
) -> None:
    details = error(await client.post(DOMAINS, json=body, auth=auth(team)), 400)["details"]
    assert field in details


# UpdateDomain


async def test_patch_changes_the_flags_sent_and_nothing_else(
    client: httpx.AsyncClient, team: Team
) -> None:
    await add_default_contact(client, team)
    await create_domain(client, team, "flags.com", autorenewEnabled=True)
    response = await client.patch(domain_url("flags.com"), json={"locked": True}, auth=auth(team))
    assert response.status_code == 200, response.text
    domain = response.json()
    assert (domain["locked"], domain["autorenewEnabled"], domain["privacyEnabled"]) == (
        True,
        True,
        False,
    )
    response = await client.patch(
        domain_url("flags.com"),
        json={"autorenewEnabled": False, "privacyEnabled": True},
        auth=auth(team),
    )
    domain = response.json()
    assert (domain["locked"], domain["autorenewEnabled"], domain["privacyEnabled"]) == (
        True,
        False,
        True,
    )
    assert await get_domain(client, team, "flags.com") == domain


@pytest.mark.parametrize(
    "body",
    [{}, {"locked": None}, {"locked": "true"}, {"renewalPrice": 1}, {"autorenewEnabled": 1}],
)
async def test_patch_without_a_flag_or_with_wrong_types_is_400(
    client: httpx.AsyncClient, team: Team, body: dict[str, Any]
) -> None:
    await add_default_contact(client, team)
    await create_domain(client, team, "strict.com")
    response = await client.patch(domain_url("strict.com"), json=body, auth=auth(team))
    assert error(response, 400)["message"] == "Invalid argument"
    assert (await get_domain(client, team, "strict.com"))["locked"] is False
