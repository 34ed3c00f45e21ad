"""Input hygiene of the shared validators: NFC, invisible format characters, bounded
extension_data, phones that only dial locally and phone extensions."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest

from nichandle.contacts.dedup import fingerprint
from nichandle.contacts.metadata import merge_metadata
from nichandle.contacts.repository import ContactFilter
from nichandle.contacts.validation import (
    MAX_EXTENSION_BYTES,
    MAX_EXTENSION_FIELDS,
    MAX_EXTENSION_INTEGER,
    MAX_EXTENSION_KEY_LENGTH,
    MAX_EXTENSION_TLDS,
    MAX_EXTENSION_VALUE_LENGTH,
    TEXT_FIELDS,
    normalize_contact,
    normalize_extension_data,
)
from nichandle.errors import FieldErrors
from tests.conftest import contact_payload

NFC_NAME = "Jos\u00e9"
NFD_NAME = "Jose\u0301"

# Category Cf, each of a different kind: zero-width space, bidi override, bidi isolate,
# zero-width joiner, byte order mark, soft hyphen, an invisible tag character.
FORMAT_CHARACTERS = ["\u200b", "\u202e", "\u2066", "\u200d", "\ufeff", "\u00ad", "\U000e0041"]
# Every published field that takes free text (country, phone, URL and VAT have formats of their
# own that would refuse the character anyway; the point is they are refused by name here).
PUBLISHED_TEXT = [field for field in TEXT_FIELDS if field != "label"]


def dutch(**overrides: str | None) -> dict[str, str | None]:
    """conftest's valid contact, as the validators take it."""
    return contact_payload(**overrides)


def american(**overrides: str | None) -> dict[str, str | None]:
    return dutch(
        **{
            "address_street": "Main Street",
            "address_house_number": "123",
            "address_postal_code": "10001",
            "address_city": "New York",
            "address_state": "NY",
            "address_country_code": "US",
            "phone": "+18001234567",
            **overrides,
        }
    )


def problems(values: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(FieldErrors) as raised:
        normalize_contact(values)
    return raised.value.messages()


def extension_problems(value: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(FieldErrors) as raised:
        normalize_extension_data(value)
    return raised.value.messages()


# --- NFC ------------------------------------------------------------------------------------


def test_the_two_forms_of_an_accent_are_different_strings() -> None:
    assert NFC_NAME != NFD_NAME
    assert unicodedata.normalize("NFC", NFD_NAME) == NFC_NAME


@pytest.mark.parametrize(
    "field", ["first_name", "last_name", "company_name", "address_street", "address_city", "label"]
)
def test_text_is_stored_in_nfc(field: str) -> None:
    assert normalize_contact(dutch(**{field: f"{NFD_NAME} Street"}))[field] == f"{NFC_NAME} Street"


def test_email_local_part_is_stored_in_nfc() -> None:
    assert normalize_contact(dutch(email=f"{NFD_NAME}@example.com"))["email"] == (
        f"{NFC_NAME}@example.com"
    )


def test_both_forms_have_one_fingerprint() -> None:
    composed = normalize_contact(dutch(first_name=NFC_NAME, address_city="Zu\u0308rich"))
    decomposed = normalize_contact(dutch(first_name=NFD_NAME, address_city="Z\u00fcrich"))
    assert composed == decomposed
    assert fingerprint(composed) == fingerprint(decomposed)


def test_length_is_counted_in_nfc() -> None:
    # 255 accented letters are 510 code points decomposed: still a 255-character name.
    assert normalize_contact(dutch(first_name="e\u0301" * 255))["first_name"] == "\u00e9" * 255


def test_metadata_keys_and_values_are_nfc() -> None:
    merged = merge_metadata({}, {f"k-{NFD_NAME}": NFD_NAME})
    assert merged == {f"k-{NFC_NAME}": NFC_NAME}
    # The other form of the same key replaces it rather than adding a second key.
    assert merge_metadata(merged, {f"k-{NFC_NAME}": "x"}) == {f"k-{NFC_NAME}": "x"}


def test_extension_data_is_nfc() -> None:
    clean = normalize_extension_data({"es": {f"n-{NFD_NAME}": NFD_NAME}})
    assert clean == {"es": {f"n-{NFC_NAME}": NFC_NAME}}


def test_search_filter_is_nfc() -> None:
    where = ContactFilter(query=NFD_NAME, metadata={NFD_NAME: NFD_NAME})
    assert where.query == NFC_NAME
    assert where.metadata == {NFC_NAME: NFC_NAME}


# --- format characters (Cf) -----------------------------------------------------------------


@pytest.mark.parametrize("char", FORMAT_CHARACTERS)
@pytest.mark.parametrize("field", PUBLISHED_TEXT)
def test_format_characters_are_refused_in_published_fields(field: str, char: str) -> None:
    values = dutch(vat_registration="NL004495445B01", company_url="https://example.com")
    value = values.get(field) or "Acme"
    values[field] = value[:1] + char + value[1:]
    errors = problems(values)
    assert list(errors) == [field]
    assert "invisible format characters" in errors[field][0]
    assert f"U+{ord(char):04X}" in errors[field][0]


@pytest.mark.parametrize("char", ["\u200b", "\u200b\u200c\u200d\u2060", "\u202e\u202c"])
def test_a_name_of_only_invisible_characters_is_not_present(char: str) -> None:
    errors = problems(dutch(first_name=char, last_name=f" {char} "))
    assert set(errors) == {"first_name", "last_name"}


def test_bidi_override_that_reverses_a_name_is_refused() -> None:
    # Shown as "Jan Jansen" reversed in WHOIS: the stored text is not what people read.
    errors = problems(dutch(last_name="\u202enesnaJ"))
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in errors["last_name"][0]


def test_label_may_hold_format_characters() -> None:
    # A family emoji is three people joined by zero-width joiners; the label is never published.
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalize_contact(dutch(label=f"Home {family}"))["label"] == f"Home {family}"


def test_label_still_refuses_control_characters() -> None:
    assert list(problems(dutch(label="a\x00b"))) == ["label"]


def test_right_to_left_names_need_no_format_characters() -> None:
    values = normalize_contact(
        dutch(first_name="\u05d9\u05e2\u05e7\u05d1", last_name="\u0643\u0645\u0627\u0644")
    )
    assert values["first_name"] == "\u05d9\u05e2\u05e7\u05d1"


def test_metadata_value_may_hold_format_characters_but_not_its_key() -> None:
    assert merge_metadata({}, {"note": "a\u200db"}) == {"note": "a\u200db"}
    with pytest.raises(FieldErrors) as raised:
        merge_metadata({}, {"no\u200bte": "x"})
    (field,) = raised.value.problems
    assert field == "metadata.no\u200bte"
    assert "invisible format characters" in raised.value.messages()[field][0]


def test_extension_data_refuses_format_characters_in_names_and_values() -> None:
    errors = extension_problems({"eu": {"citizenship": "N\u200bL", "a\u202eb": "x"}})
    assert set(errors) == {"extension_data.eu.citizenship", "extension_data.eu"}


# --- extension_data limits ------------------------------------------------------------------


def test_extension_data_at_every_limit_is_accepted() -> None:
    # As many TLDs and fields as allowed, within the total size.
    value = {f"t{n}": {"a": "x"} for n in range(MAX_EXTENSION_TLDS)}
    value["t0"] = {f"{n:0{MAX_EXTENSION_KEY_LENGTH}d}": n for n in range(MAX_EXTENSION_FIELDS)}
    value["t1"] = {"long": "x" * MAX_EXTENSION_VALUE_LENGTH, "n": MAX_EXTENSION_INTEGER}
    assert normalize_extension_data(value) == value


def test_too_many_tlds_are_refused() -> None:
    value = {f"t{n}": {} for n in range(MAX_EXTENSION_TLDS + 1)}
    errors = extension_problems(value)
    assert list(errors) == ["extension_data"]
    assert str(MAX_EXTENSION_TLDS) in errors["extension_data"][0]


def test_too_many_fields_for_a_tld_are_refused_naming_the_tld() -> None:
    fields = {f"f{n}": "x" for n in range(MAX_EXTENSION_FIELDS + 1)}
    errors = extension_problems({"nl": fields, "eu": {"citizenship": "NL"}})
    assert list(errors) == ["extension_data.nl"]
    assert str(MAX_EXTENSION_FIELDS) in errors["extension_data.nl"][0]


def test_long_field_name_is_refused_naming_the_tld() -> None:
    errors = extension_problems({"nl": {"k" * (MAX_EXTENSION_KEY_LENGTH + 1): "x"}})
    assert list(errors) == ["extension_data.nl"]


def test_long_value_is_refused_naming_the_field() -> None:
    errors = extension_problems({"nl": {"legal": "x" * (MAX_EXTENSION_VALUE_LENGTH + 1)}})
    assert list(errors) == ["extension_data.nl.legal"]


@pytest.mark.parametrize("number", [MAX_EXTENSION_INTEGER + 1, -(10**400)])
def test_huge_integer_is_refused(number: int) -> None:
    assert list(extension_problems({"nl": {"n": number}})) == ["extension_data.nl.n"]


def test_nested_values_are_refused() -> None:
    errors = extension_problems({"nl": {"a": {"b": {"c": 1}}, "l": [1, 2]}})
    assert set(errors) == {"extension_data.nl.a", "extension_data.nl.l"}


def test_total_size_is_capped() -> None:
    # Every part within its own limit, too large together.
    value = {
        f"t{n}": {f"f{m}": "x" * MAX_EXTENSION_VALUE_LENGTH for m in range(5)} for n in range(10)
    }
    assert len(json.dumps(value)) > MAX_EXTENSION_BYTES
    errors = extension_problems(value)
    assert list(errors) == ["extension_data"]
    assert str(MAX_EXTENSION_BYTES) in errors["extension_data"][0]


def test_huge_tld_key_is_refused_without_echoing_it() -> None:
    errors = extension_problems({"x" * 100_000: {}})
    assert list(errors) == ["extension_data"]


# --- phones ---------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["555-1234", "555 1234", "+15551234", "+1 555 1234"])
@pytest.mark.parametrize("field", ["phone", "fax"])
def test_number_possible_only_locally_is_refused(field: str, phone: str) -> None:
    errors = problems(american(**{field: phone}))
    assert list(errors) == [field]
    assert "area code" in errors[field][0]


@pytest.mark.parametrize("phone", ["+15551234567", "+18001234567", "(800) 123-4567"])
def test_whole_numbers_stay_accepted(phone: str) -> None:
    # Possible, not necessarily valid: +18001234567 is the references' own example.
    assert normalize_contact(american(phone=phone))["phone"] in ("+15551234567", "+18001234567")


@pytest.mark.parametrize(
    "phone", ["+1 555 123 4567 x89", "+1.5551234567 ext. 89", "+1-555-123-4567;ext=89"]
)
@pytest.mark.parametrize("field", ["phone", "fax"])
def test_extension_is_refused_not_dropped(field: str, phone: str) -> None:
    errors = problems(american(**{field: phone}))
    assert list(errors) == [field]
    assert "extension (x89)" in errors[field][0]


def test_local_only_number_without_a_country_gets_no_foreign_example() -> None:
    errors = problems(american(phone="+15551234", address_country_code="XX"))
    assert errors["phone"] == ["is a local number only; give the whole number with its area code"]
