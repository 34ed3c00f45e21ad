"""Domain and host names: IDNA 2008 (UTS #46 mapping), stored as lower-case A-labels."""

from __future__ import annotations

import idna

MAX_NAMESERVERS = 13


class InvalidName(ValueError):
    pass


def to_ascii(name: str) -> str:
    """``"Bücher.example"`` -> ``"xn--bcher-kva.example"``; raises InvalidName."""
    candidate = name.strip().rstrip(".")
    if not candidate or "." not in candidate:
        raise InvalidName("must have at least two labels, e.g. example.com")
    try:
        ascii_name = idna.encode(candidate, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidName(f"is not a valid domain name ({exc})") from exc
    if len(ascii_name) > 253:
        raise InvalidName("is longer than 253 characters")
    return ascii_name


def to_unicode(ascii_name: str) -> str:
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name  # stored names are valid; this only guards odd registry labels


def tld_of(ascii_name: str) -> str:
    return ascii_name.rsplit(".", 1)[-1]


def tld_list(text: str) -> frozenset[str]:
    """A setting's comma-separated TLDs: ``"de, .uk"`` -> {"de", "uk"}."""
    return frozenset(part.strip().lower().lstrip(".") for part in text.split(",") if part.strip())


def icann_governed(tld: str, *, exempt: frozenset[str], required: frozenset[str]) -> bool:
    """Whether ICANN's registrar rules bind a TLD: gTLDs do; ccTLDs, the two-letter ones (ISO
    3166 alpha-2), do not, their registries set their own. The settings' lists adjust both."""
    tld = tld.lower()
    if tld in required:
        return True
    return len(tld) != 2 and tld not in exempt
