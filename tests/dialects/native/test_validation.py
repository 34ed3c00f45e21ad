"""Native contact validation: 422 {"message", "errors": {field: [messages]}}, all at once."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Team, contact_payload, create_contact, us_contact_payload
from tests.dialects.native.helpers import CONTACTS, contact_url, field_errors

REQUIRED = (
    "first_name",
    "last_name",
    "address_street",
    "address_postal_code",
    "address_city",
    "address_country_code",
    "email",
    "phone",
)


async def post(client: httpx.AsyncClient, team: Team, body: dict[str, object]) -> httpx.Response:
    return await client.post(CONTACTS, json=body, headers=team.headers)


async def test_every_missing_required_field_is_reported_at_once(
    client: httpx.AsyncClient, team: Team
) -> None:
    errors = field_errors(await post(client, team, {}))
    assert set(REQUIRED) <= set(errors)


@pytest.mark.parametrize("field", REQUIRED)
async def test_each_required_field_is_refused_when_missing(
    client: httpx.AsyncClient, team: Team, field: str
) -> None:
    body = contact_payload()
    del body[field]
    errors = field_errors(await post(client, team, body))
    assert list(errors) == [field]


@pytest.mark.parametrize("blank", ["", "   ", None])
async def test_blank_required_field_is_refused(
    client: httpx.AsyncClient, team: Team, blank: str | None
) -> None:
    errors = field_errors(await post(client, team, contact_payload(last_name=blank)))
    assert list(errors) == ["last_name"]


async def test_nothing_is_stored_when_validation_fails(
    client: httpx.AsyncClient, team: Team
) -> None:
    field_errors(await post(client, team, contact_payload(email="nope")))
    listing = await client.get(CONTACTS, headers=team.headers)
    assert listing.json()["meta"]["total"] == 0


@pytest.mark.parametrize("code", ["XX", "NLD", "N", "12"])
async def test_country_code_must_be_iso_3166_alpha_2(
    client: httpx.AsyncClient, team: Team, code: str
) -> None:
    errors = field_errors(await post(client, team, contact_payload(address_country_code=code)))
    assert "address_country_code" in errors


async def test_country_code_is_stored_upper_case(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team, address_country_code="nl")
    assert contact["address_country_code"] == "NL"


@pytest.mark.parametrize(
    ("country", "state", "code", "postal_code", "phone"),
    [
        ("US", "New York", "NY", "10001", "+18001234567"),
        ("US", "new york", "NY", "10001", "+18001234567"),
        ("IT", "Roma", "RM", "00144", "+390612345678"),
        ("CA", "Quebec", "QC", "H3Z 2Y7", "+15145550123"),
        ("AU", "New South Wales", "NSW", "2060", "+61291234567"),
        ("BR", "São Paulo", "SP", "01310-100", "+551123456789"),
    ],
)
async def test_state_name_is_stored_as_its_code(
    client: httpx.AsyncClient,
    team: Team,
    country: str,
    state: str,
    code: str,
    postal_code: str,
    phone: str,
) -> None:
    contact = await create_contact(
        client,
        team,
        address_country_code=country,
        address_state=state,
        address_postal_code=postal_code,
        phone=phone,
    )
    assert contact["address_state"] == code


@pytest.mark.parametrize(("given", "stored"), [("NY", "NY"), ("ny", "NY"), ("CA", "CA")])
async def test_state_code_is_accepted(
    client: httpx.AsyncClient, team: Team, given: str, stored: str
) -> None:
    postal_code = "10001" if stored == "NY" else "95014"
    response = await post(
        client, team, us_contact_payload(address_state=given, address_postal_code=postal_code)
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["address_state"] == stored


@pytest.mark.parametrize(
    ("country", "postal_code", "phone"),
    [("US", "10001", "+18001234567"), ("IT", "00144", "+390612345678")],
)
async def test_state_naming_no_state_of_the_country_is_refused(
    client: httpx.AsyncClient, team: Team, country: str, postal_code: str, phone: str
) -> None:
    body = contact_payload(
        address_country_code=country,
        address_state="Atlantis",
        address_postal_code=postal_code,
        phone=phone,
    )
    errors = field_errors(await post(client, team, body))
    assert list(errors) == ["address_state"]


async def test_state_is_required_where_the_address_format_requires_it(
    client: httpx.AsyncClient, team: Team
) -> None:
    body = us_contact_payload()
    del body["address_state"]
    errors = field_errors(await post(client, team, body))
    assert list(errors) == ["address_state"]


@pytest.mark.parametrize(
    ("country", "state", "postal_code", "phone"),
    [
        ("NL", "Noord-Holland", "1012 LG", "+31201234567"),
        ("DE", "Bayern", "80331", "+49891234567"),
    ],
)
async def test_state_is_kept_as_given_where_the_country_lists_none(
    client: httpx.AsyncClient,
    team: Team,
    country: str,
    state: str,
    postal_code: str,
    phone: str,
) -> None:
    contact = await create_contact(
        client,
        team,
        address_country_code=country,
        address_state=state,
        address_postal_code=postal_code,
        phone=phone,
    )
    assert contact["address_state"] == state


async def test_state_is_optional_where_the_country_lists_none(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    assert contact["address_state"] is None


@pytest.mark.parametrize(
    "phone", ["+31 20 123 4567", "+31-20-1234567", "+31 (0)20 123 4567", "020 123 4567"]
)
async def test_phone_is_stored_in_e164(client: httpx.AsyncClient, team: Team, phone: str) -> None:
    contact = await create_contact(client, team, phone=phone)
    assert contact["phone"] == "+31201234567"


async def test_national_phone_is_read_in_the_contact_country(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(
        client,
        team,
        address_country_code="DE",
        address_postal_code="80331",
        phone="089 1234567",
    )
    assert contact["phone"] == "+49891234567"


async def test_possible_but_unassigned_number_is_accepted(
    client: httpx.AsyncClient, team: Team
) -> None:
    # phonenumbers' is_valid_number refuses it; the rule asks only for a possible number.
    response = await post(client, team, us_contact_payload(phone="+18001234567"))
    assert response.status_code == 201, response.text
    assert response.json()["data"]["phone"] == "+18001234567"


@pytest.mark.parametrize("phone", ["12", "not a number", "+1", "+3120123456789012"])
async def test_impossible_phone_is_refused(
    client: httpx.AsyncClient, team: Team, phone: str
) -> None:
    errors = field_errors(await post(client, team, contact_payload(phone=phone)))
    assert list(errors) == ["phone"]


async def test_fax_is_read_in_the_contact_country_and_stored_in_e164(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, fax="020 765 4321")
    assert contact["fax"] == "+31207654321"


async def test_impossible_fax_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    errors = field_errors(await post(client, team, contact_payload(fax="12")))
    assert list(errors) == ["fax"]


async def test_fax_is_optional(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    assert contact["fax"] is None


@pytest.mark.parametrize(
    ("country", "postal_code", "extra"),
    [
        ("US", "ABC", {"address_state": "NY", "phone": "+18001234567"}),
        ("US", "1000", {"address_state": "NY", "phone": "+18001234567"}),
        ("NL", "ABCD 12", {}),
        ("DE", "8033", {"phone": "+49891234567"}),
    ],
)
async def test_postal_code_not_in_the_country_format_is_refused(
    client: httpx.AsyncClient,
    team: Team,
    country: str,
    postal_code: str,
    extra: dict[str, str],
) -> None:
    body = contact_payload(address_country_code=country, address_postal_code=postal_code, **extra)
    errors = field_errors(await post(client, team, body))
    assert list(errors) == ["address_postal_code"]


async def test_postal_code_is_stored_in_the_format_case(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team, address_postal_code="1012 lg")
    assert contact["address_postal_code"] == "1012 LG"


@pytest.mark.parametrize("vat", ["NL004495445B01", "004495445B01", "nl 0044.95.445.B01"])
async def test_valid_vat_number_is_accepted(
    client: httpx.AsyncClient, team: Team, vat: str
) -> None:
    contact = await create_contact(client, team, company_name="Example B.V.", vat_registration=vat)
    assert contact["vat_registration"] == vat


@pytest.mark.parametrize("vat", ["NL004495446B01", "NL123", "garbage", "DE12345", "004495446B01"])
async def test_invalid_vat_number_is_refused(
    client: httpx.AsyncClient, team: Team, vat: str
) -> None:
    errors = field_errors(await post(client, team, contact_payload(vat_registration=vat)))
    assert list(errors) == ["vat_registration"]


@pytest.mark.parametrize("url", ["https://example.com", "http://example.com/about?x=1"])
async def test_http_company_url_is_accepted(
    client: httpx.AsyncClient, team: Team, url: str
) -> None:
    contact = await create_contact(client, team, company_url=url)
    assert contact["company_url"] == url


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "example.com", "javascript:alert(1)", "http://"]
)
async def test_company_url_must_be_http_or_https(
    client: httpx.AsyncClient, team: Team, url: str
) -> None:
    errors = field_errors(await post(client, team, contact_payload(company_url=url)))
    assert list(errors) == ["company_url"]


@pytest.mark.parametrize("email", ["not-an-email", "jan@", "@example.com", "jan@@example.com"])
async def test_invalid_email_is_refused(client: httpx.AsyncClient, team: Team, email: str) -> None:
    errors = field_errors(await post(client, team, contact_payload(email=email)))
    assert list(errors) == ["email"]


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x1f", "\x7f", "\n", "\t", "\r"])
async def test_control_characters_are_refused(
    client: httpx.AsyncClient, team: Team, character: str
) -> None:
    body = contact_payload(address_street=f"Dam{character}rak")
    errors = field_errors(await post(client, team, body))
    assert list(errors) == ["address_street"]
    assert "control characters" in errors["address_street"][0]


async def test_whitespace_is_trimmed_and_collapsed(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team, address_city="  Den   Haag ")
    assert contact["address_city"] == "Den Haag"


async def test_overlong_field_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    errors = field_errors(await post(client, team, contact_payload(address_city="x" * 256)))
    assert list(errors) == ["address_city"]


async def test_every_invalid_field_is_named_at_once(client: httpx.AsyncClient, team: Team) -> None:
    body = contact_payload(
        email="nope", phone="12", company_url="ftp://example.com", vat_registration="garbage"
    )
    errors = field_errors(await post(client, team, body))
    assert set(errors) == {"email", "phone", "company_url", "vat_registration"}


async def test_update_is_validated_like_create(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    url = contact_url(contact["handle"])
    response = await client.patch(url, json={"phone": "12", "email": "nope"}, headers=team.headers)
    assert set(field_errors(response)) == {"phone", "email"}
    unchanged = await client.get(url, headers=team.headers)
    assert unchanged.json()["data"]["phone"] == contact["phone"]
    assert unchanged.json()["data"]["email"] == contact["email"]


async def test_update_stores_a_state_name_as_its_code(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.post(CONTACTS, json=us_contact_payload(), headers=team.headers)
    handle = response.json()["data"]["handle"]
    patched = await client.patch(
        contact_url(handle),
        json={"address_state": "California", "address_postal_code": "95014"},
        headers=team.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["address_state"] == "CA"


async def test_update_reads_a_national_phone_in_the_contact_country(
    client: httpx.AsyncClient, team: Team
) -> None:
    contact = await create_contact(client, team)
    patched = await client.patch(
        contact_url(contact["handle"]), json={"phone": "010 123 4567"}, headers=team.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["phone"] == "+31101234567"


async def test_update_cannot_blank_a_required_field(client: httpx.AsyncClient, team: Team) -> None:
    contact = await create_contact(client, team)
    response = await client.patch(
        contact_url(contact["handle"]), json={"address_city": ""}, headers=team.headers
    )
    assert list(field_errors(response)) == ["address_city"]
