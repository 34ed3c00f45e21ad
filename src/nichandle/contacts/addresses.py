"""One-line street addresses for dialects that have no house-number field (address1).

dnsimple and name.com carry the street and house number in one ``address1``. Reading, we
compose it in the country's order; writing, we store what they sent as the street with no house
number, so each dialect reads back exactly what it wrote.
"""

from __future__ import annotations

# Countries whose postal format puts the house number before the street ("10 Downing Street").
# Everywhere else it follows the street ("Damrak 1", "Via Roma, 10" is written as given).
NUMBER_FIRST = frozenset(
    {
        "AU", "CA", "FR", "GB", "HK", "IE", "IL", "IN", "JM", "LU", "MY", "NZ", "PH", "SG",
        "TH", "US", "ZA",
    }
)  # fmt: skip


def compose_address1(street: str, house_number: str | None, country_code: str | None) -> str:
    if not house_number:
        return street
    if country_code in NUMBER_FIRST:
        return f"{house_number} {street}"
    return f"{street} {house_number}"


def street_fields(address1: str | None) -> dict[str, str | None]:
    """The core fields an address1 written through a dialect becomes."""
    return {"address_street": address1, "address_house_number": None}
