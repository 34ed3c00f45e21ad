"""What makes two contacts "identical": a fingerprint over their normalised details.

Only the details a registry would publish or verify count: names, organisation, address, email,
phone and fax, and the company's registration data. Label, metadata, extension data, the default
flag and the parent are bookkeeping, so two contacts differing only there are still identical.
Text is compared case- and space-insensitively; email, phone, state and postal code are compared
in the normalised form validation already produced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

IDENTITY_FIELDS: tuple[str, ...] = (
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


def _key(value: str | None) -> str:
    return " ".join(value.split()).casefold() if value else ""


def fingerprint(values: Mapping[str, str | None]) -> str:
    """SHA-256 of the identity fields of an already normalised contact."""
    identity = [_key(values.get(field)) for field in IDENTITY_FIELDS]
    # Postal codes: "1234AB" and "1234 AB" are the same code.
    identity[IDENTITY_FIELDS.index("address_postal_code")] = identity[
        IDENTITY_FIELDS.index("address_postal_code")
    ].replace(" ", "")
    return hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode()).hexdigest()
