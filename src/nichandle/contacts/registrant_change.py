"""What a change of registrant is (ICANN Transfer Policy, Part II): the rule, on contact data.

A *material change* of a domain's registrant is a change of its email (always), or of its name
or organisation unless it is a declared typo fix; address or phone alone never are, nor is
privacy (a domain setting, not registrant data). Pointing the registrant role at another contact
is one when that contact's name, organisation or email differ. docs/registrant-change.md.

Judged on contact data alone, so it lives here: the contacts write path checks a declared typo
fix with it, and domains (the dispute hold) decides which edits change a registrant.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

# The registrant's identity: a change of these is a change of registrant.
NAME_FIELDS: tuple[str, ...] = ("first_name", "last_name", "company_name")
EMAIL_FIELD = "email"
IDENTITY_FIELDS: tuple[str, ...] = (*NAME_FIELDS, EMAIL_FIELD)
# Where the registrant is reached: never material alone, but they make a typo fix a real change.
CONTACT_POINT_FIELDS: tuple[str, ...] = (
    "address_street",
    "address_house_number",
    "address_line2",
    "address_postal_code",
    "address_city",
    "address_state",
    "address_country_code",
    "phone",
    "fax",
)

# A typo fix changes each name field by at most this many edits (Damerau-Levenshtein, optimal
# string alignment: insert, delete, substitute, swap two neighbours) ...
TYPO_MAX_EDITS = 2
# ... and by at most this share of the field's length (the longer of both spellings): "Jon" to
# "Jan" is one edit of three, a fix; "Al" to "Bo" is two of two, a new name.
TYPO_MAX_SHARE = 1 / 3


def _text(value: Any) -> str:
    """A field's value as compared: NFC, outer whitespace off, missing as empty."""
    return unicodedata.normalize("NFC", str(value or "")).strip()


def _email(value: Any) -> str:
    return _text(value).casefold()


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment) between two strings."""
    if a == b:
        return 0
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def is_typo_fix(before: str, after: str) -> bool:
    """Whether one field's new spelling is small enough to be a typo fix (see the limits)."""
    distance = edit_distance(before, after)
    longest = max(len(before), len(after))
    return distance <= TYPO_MAX_EDITS and distance <= longest * TYPO_MAX_SHARE


def _names_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return [field for field in NAME_FIELDS if _text(before.get(field)) != _text(after.get(field))]


def _email_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return _email(before.get(EMAIL_FIELD)) != _email(after.get(EMAIL_FIELD))


def material_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], *, typo_correction: bool = False
) -> tuple[str, ...]:
    """The identity fields whose edit makes a change of registrant (empty: none is).

    ``typo_correction``: the editor declares the name/organisation change a typo fix; it is one
    only alone (no address or phone change in the same edit) and small in every field."""
    names = _names_changed(before, after)
    email = (EMAIL_FIELD,) if _email_changed(before, after) else ()
    if names and typo_correction:
        alone = all(_text(before.get(f)) == _text(after.get(f)) for f in CONTACT_POINT_FIELDS)
        small = all(is_typo_fix(_text(before.get(f)), _text(after.get(f))) for f in names)
        if alone and small:
            names = []
    return (*names, *email)


def repoint_material_fields(previous: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The identity fields in which the contact the registrant role is pointed at differs from
    the one it leaves (empty: the same registrant under another handle). No typo fix here."""
    return material_fields(previous, new)
