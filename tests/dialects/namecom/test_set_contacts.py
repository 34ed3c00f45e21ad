"""SetContacts: all four roles as whole contacts, validated together, reused when identical."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from nichandle.db.engine import Database
from nichandle.history.models import DomainRoleChange
from tests.conftest import Team, designated_agent
from tests.dialects.namecom.helpers import (
    REQUIRED_DOMAIN_FIELDS,
    ROLES,
    add_default_contact,
    all_roles,
    auth,
    contact_count,
    contacts_body,
    create_domain,
    error,
    get_domain,
    namecom_contact,
    role_handles,
    set_contacts_url,
)

DUTCH = {
    "firstName": "Jan",
    "lastName": "Jansen",
    "address1": "Damrak 1",
    "city": "Amsterdam",
    "state": "Noord-Holland",
    "zip": "1012 LG",
    "country": "NL",
    "email": "jan@example.nl",
    "phone": "+31201234567",
}


async def set_contacts(
    client: httpx.AsyncClient, team: Team, name: str, body: Any
) -> httpx.Response:
    return await client.post(set_contacts_url(name), json=body, auth=auth(team))


async def role_changes(db: Database, account_id: int) -> int:
    async with db.reader_sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(DomainRoleChange)
            .where(DomainRoleChange.account_id == account_id)
        )
        return count or 0


async def domain_with_default(client: httpx.AsyncClient, team: Team, name: str) -> Any:
    """A domain whose four roles fall back to the team's (natively created) default contact."""
    default = await add_default_contact(client, team)
    await create_domain(client, team, name)
    return default


async def test_sets_a_different_contact_in_each_role(client: httpx.AsyncClient, team: Team) -> None:
    await domain_with_default(client, team, "roles.nl")
    people = {role: namecom_contact(firstName=role.title()) for role in ROLES}
    response = await set_contacts(client, team, "roles.nl", {"contacts": people})
    assert response.status_code == 200, response.text
    domain = response.json()
    assert list(domain) == list(REQUIRED_DOMAIN_FIELDS)
    for role in ROLES:
        shown = domain["contacts"][role]
        assert shown == {**people[role], "isVerified": False}
    assert domain == await get_domain(client, team, "roles.nl")
    handles = await role_handles(client, team, "roles.nl")
    assert len(set(handles.values())) == 4


async def test_seed_body_answers_like_the_seed(client: httpx.AsyncClient, team: Team) -> None:
    await domain_with_default(client, team, "example.com")
    response = await set_contacts(client, team, "example.com", all_roles())
    assert response.status_code == 200, response.text
    registrant = response.json()["contacts"]["registrant"]
    assert list(registrant) == [
        "firstName",
        "lastName",
        "companyName",
        "address1",
        "address2",
        "city",
        "state",
        "zip",
        "country",
        "email",
        "phone",
        "fax",
        "isVerified",
    ]


async def test_the_same_details_in_every_role_are_one_contact(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "one.nl")
    before = await contact_count(client, team)
    response = await set_contacts(client, team, "one.nl", all_roles())
    assert response.status_code == 200, response.text
    assert await contact_count(client, team) == before + 1
    assert len(set((await role_handles(client, team, "one.nl")).values())) == 1


async def test_contacts_are_referenced_not_copied(client: httpx.AsyncClient, team: Team) -> None:
    await domain_with_default(client, team, "ref.nl")
    await set_contacts(client, team, "ref.nl", all_roles())
    handle = (await role_handles(client, team, "ref.nl"))["owner"]
    response = await client.patch(
        f"/api/v1/contacts/{handle}", json={"address_city": "Brooklyn"}, headers=team.headers
    )
    assert response.status_code == 200, response.text
    domain = await get_domain(client, team, "ref.nl")
    assert {c["city"] for c in domain["contacts"].values()} == {"Brooklyn"}


# The read-modify-write round trip name.com prescribes


async def test_sending_back_what_get_returned_changes_nothing(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    # Three roles on the (native, house-numbered) default, one on a name.com contact.
    await add_default_contact(client, team)
    await create_domain(client, team, "same.com", contacts={"tech": DUTCH})
    domain = await get_domain(client, team, "same.com")
    handles = await role_handles(client, team, "same.com")
    contacts, changes = await contact_count(client, team), await role_changes(db, team.id)

    response = await set_contacts(client, team, "same.com", contacts_body(domain))
    assert response.status_code == 200, response.text
    assert response.json() == domain
    assert await role_handles(client, team, "same.com") == handles
    assert await contact_count(client, team) == contacts
    assert await role_changes(db, team.id) == changes


async def test_roles_left_to_the_default_keep_following_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "follow.com")
    domain = await get_domain(client, team, "follow.com")
    response = await set_contacts(client, team, "follow.com", contacts_body(domain))
    assert response.status_code == 200, response.text
    assert response.json() == domain

    # A change of registrant the policy applies at once (the agent approves both parties); held
    # pending, the registrant would stay with the prior default (tests/registrant_changes).
    await designated_agent(client, team.headers)
    new_default = await client.post(
        "/api/v1/contacts",
        json={**_native(DUTCH), "is_default": True},
        headers=team.headers,
    )
    assert new_default.status_code == 201, new_default.text
    handles = await role_handles(client, team, "follow.com")
    assert set(handles.values()) == {new_default.json()["data"]["handle"]}


def _native(contact: dict[str, Any]) -> dict[str, Any]:
    return {
        "first_name": contact["firstName"],
        "last_name": contact["lastName"],
        "address_street": contact["address1"],
        "address_city": contact["city"],
        "address_state": contact["state"],
        "address_postal_code": contact["zip"],
        "address_country_code": contact["country"],
        "email": contact["email"],
        "phone": contact["phone"],
    }


async def test_get_modify_one_field_set_reuses_contacts_without_piling_copies(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await domain_with_default(client, team, "trip.com")
    original = await get_domain(client, team, "trip.com")
    start = await contact_count(client, team)

    body = contacts_body(original)
    body["contacts"]["registrant"]["phone"] = "+12125551234"
    response = await set_contacts(client, team, "trip.com", body)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["contacts"]["registrant"]["phone"] == "+12125551234"
    for role in ("admin", "tech", "billing"):
        assert changed["contacts"][role] == original["contacts"][role]
    handles = await role_handles(client, team, "trip.com")
    assert handles["admin"] == handles["tech"] == handles["billing"] == default["handle"]
    assert handles["owner"] != default["handle"]
    assert await contact_count(client, team) == start + 1

    # Again, from a fresh read: the modified registrant is reused, nothing new.
    again = contacts_body(await get_domain(client, team, "trip.com"))
    again["contacts"]["registrant"]["phone"] = "+12125551234"
    assert (await set_contacts(client, team, "trip.com", again)).status_code == 200
    assert await role_handles(client, team, "trip.com") == handles
    assert await contact_count(client, team) == start + 1

    # And back: the default contact holds those details, so it is the registrant again.
    back = contacts_body(await get_domain(client, team, "trip.com"))
    back["contacts"]["registrant"]["phone"] = original["contacts"]["registrant"]["phone"]
    response = await set_contacts(client, team, "trip.com", back)
    assert response.json() == original
    assert set((await role_handles(client, team, "trip.com")).values()) == {default["handle"]}
    assert await contact_count(client, team) == start + 1


async def test_round_trip_works_for_every_domain_of_a_listing(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "a.com")
    await create_domain(client, team, "b.com", contacts={"tech": DUTCH})
    start = await contact_count(client, team)
    listed = (await client.get("/core/v1/domains", auth=auth(team))).json()["domains"]
    for domain in listed:
        response = await set_contacts(client, team, domain["domainName"], contacts_body(domain))
        assert response.json() == domain
    assert await contact_count(client, team) == start


async def test_empty_or_null_optionals_are_unset_and_the_same_contact(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "blank.nl")
    blank = namecom_contact(companyName="", address2="", fax="")
    null = namecom_contact(companyName=None, address2=None, fax=None)
    absent = {k: v for k, v in null.items() if v is not None}
    body = {"contacts": {"registrant": blank, "admin": null, "tech": absent, "billing": blank}}
    response = await set_contacts(client, team, "blank.nl", body)
    assert response.status_code == 200, response.text
    for contact in response.json()["contacts"].values():
        assert (contact["companyName"], contact["address2"], contact["fax"]) == (None,) * 3
    assert len(set((await role_handles(client, team, "blank.nl")).values())) == 1


async def test_read_only_fields_sent_back_are_ignored(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "ro.com")
    contact = namecom_contact(isVerified=True, verificationId=1234)
    response = await set_contacts(client, team, "ro.com", all_roles(admin=contact))
    assert response.status_code == 200, response.text
    assert response.json()["contacts"]["admin"]["isVerified"] is False


async def test_details_are_normalised_and_match_an_existing_contact(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "norm.com")
    await set_contacts(client, team, "norm.com", all_roles())
    before = await contact_count(client, team)
    messy = namecom_contact(
        firstName="  John ",
        state="New York",
        phone="+1 (555) 123-4567",
        email="john.doe@EXAMPLE.com",
    )
    response = await set_contacts(client, team, "norm.com", all_roles(tech=messy))
    assert response.status_code == 200, response.text
    assert response.json()["contacts"]["tech"] == {**namecom_contact(), "isVerified": False}
    assert await contact_count(client, team) == before


async def test_an_identical_contact_elsewhere_in_the_account_is_reused(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "first.com")
    await create_domain(client, team, "second.com")
    await set_contacts(client, team, "first.com", all_roles(admin=DUTCH))
    before = await contact_count(client, team)
    await set_contacts(client, team, "second.com", all_roles(billing=DUTCH))
    assert await contact_count(client, team) == before
    first = await role_handles(client, team, "first.com")
    assert (await role_handles(client, team, "second.com"))["billing"] == first["admin"]


# Validation and atomicity


async def assert_unchanged(
    client: httpx.AsyncClient, team: Team, name: str, before: dict[str, Any], contacts: int
) -> None:
    assert await get_domain(client, team, name) == before
    assert await contact_count(client, team) == contacts


async def test_partial_body_is_400_naming_the_roles_and_changes_nothing(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "part.com")
    before, contacts = await get_domain(client, team, "part.com"), await contact_count(client, team)
    body = {"contacts": {"registrant": namecom_contact(phone="+1555"), "tech": namecom_contact()}}
    response = await set_contacts(client, team, "part.com", body)
    assert error(response, 400) == {
        "message": "Invalid argument",
        "details": "contacts.registrant.phone: is not a possible phone number in US; "
        "contacts.admin: is required; contacts.billing: is required",
    }
    await assert_unchanged(client, team, "part.com", before, contacts)


@pytest.mark.parametrize("body", [{}, {"contacts": {}}, {"contacts": None}])
async def test_no_contacts_is_400_naming_every_role(
    client: httpx.AsyncClient, team: Team, body: dict[str, Any]
) -> None:
    await domain_with_default(client, team, "none.com")
    details = error(await set_contacts(client, team, "none.com", body), 400)["details"]
    assert details == "; ".join(f"contacts.{role}: is required" for role in ROLES)


async def test_an_invalid_fourth_role_changes_nothing_and_creates_nothing(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    await domain_with_default(client, team, "atomic.com")
    before, contacts = (
        await get_domain(client, team, "atomic.com"),
        await contact_count(client, team),
    )
    changes = await role_changes(db, team.id)
    body = {
        "contacts": {
            "registrant": namecom_contact(firstName="R"),
            "admin": namecom_contact(firstName="A"),
            "tech": DUTCH,
            "billing": namecom_contact(firstName="B", email="not-an-email"),
        }
    }
    details = error(await set_contacts(client, team, "atomic.com", body), 400)["details"]
    assert details.startswith("contacts.billing.email: is an invalid email address")
    await assert_unchanged(client, team, "atomic.com", before, contacts)
    assert await role_changes(db, team.id) == changes


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("firstName", "", "contacts.tech.firstName: can't be blank"),
        ("lastName", None, "contacts.tech.lastName: can't be blank"),
        ("address1", " ", "contacts.tech.address1: can't be blank"),
        ("city", "", "contacts.tech.city: can't be blank"),
        ("state", "", "contacts.tech.state: can't be blank"),
        ("zip", "", "contacts.tech.zip: can't be blank"),
        ("country", "", "contacts.tech.country: can't be blank"),
        ("email", "", "contacts.tech.email: can't be blank"),
        ("phone", "", "contacts.tech.phone: can't be blank"),
        ("country", "USA", "contacts.tech.country: is not an ISO 3166-1 alpha-2 country code"),
        ("country", "ZZ", "contacts.tech.country: is not an ISO 3166-1 alpha-2 country code"),
        ("phone", "+1555", "contacts.tech.phone: is not a possible phone number in US"),
        ("fax", "+1555", "contacts.tech.fax: is not a possible phone number in US"),
        ("fax", "fax me", "contacts.tech.fax: is not a phone number"),
        ("state", "Atlantis", "contacts.tech.state: is not a state or province of US"),
        ("zip", "ABCDE", "contacts.tech.zip: is not a valid postal code for US"),
        ("firstName", 7, "contacts.tech.firstName: Input should be a valid string"),
        ("phone", 15551234567, "contacts.tech.phone: Input should be a valid string"),
        ("nickname", "Johnny", "contacts.tech.nickname: is not a known field"),
    ],
)
async def test_each_field_is_validated_like_any_contact(
    client: httpx.AsyncClient, team: Team, field: str, value: Any, expected: str
) -> None:
    await domain_with_default(client, team, "check.com")
    before, contacts = (
        await get_domain(client, team, "check.com"),
        await contact_count(client, team),
    )
    body = all_roles(tech=namecom_contact(**{field: value}))
    details = error(await set_contacts(client, team, "check.com", body), 400)["details"]
    assert details.startswith(expected), details
    await assert_unchanged(client, team, "check.com", before, contacts)


async def test_a_missing_field_is_named_like_a_blank_one(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "missing.com")
    partial = {k: v for k, v in namecom_contact().items() if k not in ("state", "phone")}
    details = error(await set_contacts(client, team, "missing.com", all_roles(admin=partial)), 400)[
        "details"
    ]
    assert "contacts.admin.state: can't be blank" in details
    assert "contacts.admin.phone: can't be blank" in details


async def test_state_is_required_even_where_the_country_has_none(
    client: httpx.AsyncClient, team: Team
) -> None:
    await domain_with_default(client, team, "state.com")
    stateless = {k: v for k, v in DUTCH.items() if k != "state"}
    details = error(await set_contacts(client, team, "state.com", all_roles(tech=stateless)), 400)[
        "details"
    ]
    assert details == "contacts.tech.state: can't be blank"


async def test_the_defaults_details_reuse_it_when_no_role_uses_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    default = await domain_with_default(client, team, "away.com")
    shown = (await get_domain(client, team, "away.com"))["contacts"]["admin"]
    await set_contacts(client, team, "away.com", all_roles())
    before = await contact_count(client, team)
    response = await set_contacts(client, team, "away.com", all_roles(billing=shown))
    assert response.status_code == 200, response.text
    assert await contact_count(client, team) == before
    assert (await role_handles(client, team, "away.com"))["billing"] == default["handle"]


async def test_a_new_registrant_of_a_gtld_waits_for_both_confirmations(
    client: httpx.AsyncClient, team: Team
) -> None:
    """cor-2024 (docs/registrant-change.md): setContacts answers the domain as it is, the prior
    registrant still in place (the other roles change at once); native shows the pending change."""
    default = await domain_with_default(client, team, "pending.com")
    people = {role: namecom_contact(firstName=role.title()) for role in ROLES}
    response = await set_contacts(client, team, "pending.com", {"contacts": people})
    assert response.status_code == 200, response.text
    shown = response.json()["contacts"]
    assert shown["registrant"]["email"] == default["email"]
    assert shown["admin"] == {**people["admin"], "isVerified": False}
    native = await client.get("/api/v1/domains/pending.com", headers=team.headers)
    [notice] = [
        n
        for n in native.json()["data"]["notices"]
        if n["code"] == "domain.registrant_change.pending"
    ]
    assert "first_name" in notice["data"]["fields"]
