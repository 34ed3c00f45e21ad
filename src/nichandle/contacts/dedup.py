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

from nichandle.contacts.validation import TEXT_FIELDS

# Every detail but the label (metadata, extension data, default and parent are not text fields).
IDENTITY_FIELDS: tuple[str, ...] = tuple(field for field in TEXT_FIELDS if field != "label")


def _key(value: str | None) -> str:
    return " ".join(value.split()).casefold() if value else ""


def fingerprint(values: Mapping[str, str | None]) -> str:
    """SHA-256 of the identity fields of an already normalised contact."""
    identity = {field: _key(values.get(field)) for field in IDENTITY_FIELDS}
    # Postal codes: "1234AB" and "1234 AB" are the same code.
    identity["address_postal_code"] = identity["address_postal_code"].replace(" ", "")
    encoded = json.dumps(list(identity.values()), ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()
