"""Writes N varied contacts as a CSV or JSON Lines file for `nichandle contacts import`.

    python bench/make_contacts.py 100000 /tmp/contacts.csv
    python bench/make_contacts.py 5000 /tmp/c.jsonl --seed 7 --duplicates 0.1 --invalid 0.02

Rows are valid contacts of a dozen countries (national and international phone formats, states
by code or name, spacing and case to normalise, some companies, VAT numbers, metadata and
extension data) in the native field names. ``--duplicates`` of them repeat an earlier contact
(same identity, different spacing, case or label: the import reuses them); ``--invalid`` are
broken in one field each (the import rejects them). The same seed writes the same file.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nichandle.contact_files import FILE_FIELDS

Contact = dict[str, Any]

FIRST_NAMES = [
    "Jan", "Anna", "Sven", "Zoë", "José", "Maria", "Liam", "Olivia", "Noah", "Émilie",
    "Lukas", "Sofía", "Mateo", "Chloé", "Jürgen", "Ingrid", "Aiko", "Wei", "Priya", "Omar",
    "Fatima", "Pieter", "Saoirse", "Björn", "Małgorzata", "Giulia", "François", "Hannah",
]  # fmt: skip
LAST_NAMES = [
    "Jansen", "de Vries", "Müller", "Schmidt", "García", "Rossi", "Smith", "Johnson", "Dubois",
    "Nguyen", "O'Brien", "Kowalski", "Andersson", "van den Berg", "Martínez", "Bianchi",
    "Leroy", "Brown", "Tanaka", "Fischer", "Murphy", "Silva", "Novák", "Larsen",
]  # fmt: skip
COMPANIES = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises", "Hooli",
    "Vandelay Industries", "Bluth Company", "Soylent", "Tyrell", "Wonka",
]  # fmt: skip
COMPANY_FORMS = ["B.V.", "GmbH", "Ltd", "Inc.", "S.A.", "S.r.l.", "AB", ""]
JOB_TITLES = ["CEO", "CTO", "Hostmaster", "Office manager", "Developer", "Legal counsel"]
LABELS = ["Main", "Billing", "Tech", "Legal", "Abuse desk", "Registrant"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com"]
VAT_NUMBERS = {
    "NL": "NL004495445B01",
    "DE": "DE136695976",
    "BE": "BE0403019261",
    "FR": "FR40303265045",
    "AT": "ATU13585627",
    "ES": "ESA13585625",
    "IT": "IT00743110157",
    "SE": "SE556188840401",
}
CA_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"
GB_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


# country -> [(city, state as written, postal code maker)], phone maker, streets
Place = tuple[str, str | None, Callable[[random.Random], str]]


def nl_postal(prefix: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        first = rng.choice("ABCDEFGHIJKLMNOPQRTUVWXYZ")  # no SA, SD, SS
        return f"{prefix}{digits(rng, 2)} {first}{rng.choice(LETTERS)}"

    return make


def prefixed(prefix: str, total: int) -> Callable[[random.Random], str]:
    return lambda rng: prefix + digits(rng, total - len(prefix))


def ca_postal(first: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        return (
            f"{first}{rng.randint(1, 9)}{rng.choice(CA_LETTERS)} "
            f"{rng.randint(0, 9)}{rng.choice(CA_LETTERS)}{rng.randint(0, 9)}"
        )

    return make


def gb_postal(area: str) -> Callable[[random.Random], str]:
    return lambda rng: f"{area} {rng.randint(0, 9)}{rng.choice(GB_LETTERS)}{rng.choice(GB_LETTERS)}"


COUNTRIES: dict[str, tuple[list[Place], Callable[[random.Random], str], list[str]]] = {
    "NL": (
        [("Amsterdam", None, nl_postal("10")), ("Rotterdam", None, nl_postal("30")),
         ("Utrecht", None, nl_postal("35"))],
        lambda r: r.choice([f"+31 20 {digits(r, 7)}", f"06 {digits(r, 8)}", f"020-{digits(r, 7)}"]),
        ["Damrak", "Keizersgracht", "Coolsingel", "Oudegracht"],
    ),
    "US": (
        [("New York", "NY", prefixed("100", 5)), ("Los Angeles", "California", prefixed("900", 5)),
         ("Austin", "TX", prefixed("787", 5)), ("Seattle", "WA", prefixed("981", 5)),
         ("Chicago", "Illinois", prefixed("606", 5)), ("Boston", "MA", prefixed("021", 5)),
         ("Miami", "FL", prefixed("331", 5))],
        lambda r: r.choice([f"+1 212 555 {digits(r, 4)}", f"(646) 555-{digits(r, 4)}",
                            f"415.555.{digits(r, 4)}"]),
        ["Main Street", "Broadway", "Market Street", "Elm Street"],
    ),
    "DE": (
        [("Berlin", None, prefixed("10", 5)), ("München", None, prefixed("80", 5)),
         ("Hamburg", None, prefixed("20", 5))],
        lambda r: r.choice([f"+49 30 {digits(r, 8)}", f"030 {digits(r, 8)}"]),
        ["Hauptstraße", "Friedrichstraße", "Schillerstraße"],
    ),
    "GB": (
        [("London", None, gb_postal("EC1A")), ("London", None, gb_postal("SW1A")),
         ("Manchester", None, gb_postal("M1")), ("Leeds", None, gb_postal("LS1"))],
        lambda r: r.choice([f"+44 20 7946 {digits(r, 4)}", f"020 7946 {digits(r, 4)}"]),
        ["High Street", "Baker Street", "Station Road"],
    ),
    "FR": (
        [("Paris", None, prefixed("750", 5)), ("Lyon", None, prefixed("6900", 5)),
         ("Marseille", None, prefixed("130", 5))],
        lambda r: r.choice([f"+33 1 {digits(r, 8)}", f"01 {digits(r, 2)} {digits(r, 2)} "
                            f"{digits(r, 2)} {digits(r, 2)}"]),
        ["Rue de Rivoli", "Avenue des Champs-Élysées", "Rue de la République"],
    ),
    "CA": (
        [("Toronto", "ON", ca_postal("M")), ("Montréal", "Québec", ca_postal("H")),
         ("Vancouver", "BC", ca_postal("V")), ("Calgary", "Alberta", ca_postal("T"))],
        lambda r: r.choice([f"+1 416 555 {digits(r, 4)}", f"(604) 555-{digits(r, 4)}"]),
        ["King Street", "Rue Sainte-Catherine", "Granville Street"],
    ),
    "AU": (
        [("Sydney", "NSW", prefixed("20", 4)), ("Melbourne", "Victoria", prefixed("30", 4)),
         ("Brisbane", "QLD", prefixed("40", 4))],
        lambda r: r.choice([f"+61 2 {digits(r, 8)}", f"(03) {digits(r, 4)} {digits(r, 4)}"]),
        ["George Street", "Collins Street", "Queen Street"],
    ),
    "IT": (
        [("Roma", "RM", prefixed("001", 5)), ("Milano", "Milano", prefixed("201", 5)),
         ("Torino", "TO", prefixed("101", 5))],
        lambda r: r.choice([f"+39 06 {digits(r, 8)}", f"02 {digits(r, 8)}"]),
        ["Via Roma", "Corso Vittorio Emanuele", "Via Garibaldi"],
    ),
    "ES": (
        [("Madrid", "M", prefixed("280", 5)), ("Barcelona", "Barcelona", prefixed("080", 5))],
        lambda r: r.choice([f"+34 91 {digits(r, 7)}", f"93 {digits(r, 3)} {digits(r, 2)} "
                            f"{digits(r, 2)}"]),
        ["Calle Mayor", "Gran Vía", "Passeig de Gràcia"],
    ),
    "BE": (
        [("Brussel", None, prefixed("10", 4)), ("Antwerpen", None, prefixed("20", 4))],
        lambda r: f"+32 2 {digits(r, 7)}",
        ["Grote Markt", "Rue Neuve"],
    ),
    "SE": (
        [("Stockholm", None, lambda r: f"1{digits(r, 2)} {digits(r, 2)}")],
        lambda r: f"+46 8 {digits(r, 7)}",
        ["Drottninggatan", "Storgatan"],
    ),
    "AT": (
        [("Wien", None, prefixed("10", 4))],
        lambda r: f"+43 1 {digits(r, 7)}",
        ["Kärntner Straße", "Mariahilfer Straße"],
    ),
}  # fmt: skip


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum()) or "x"


def valid_contact(rng: random.Random, number: int) -> Contact:
    country = rng.choice(list(COUNTRIES))
    places, phone, streets = COUNTRIES[country]
    city, state, postal = rng.choice(places)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    contact: Contact = {
        "first_name": first,
        "last_name": last,
        "address_street": rng.choice(streets),
        "address_house_number": str(rng.randint(1, 400)),
        "address_postal_code": postal(rng),
        "address_city": city,
        "address_state": state,
        "address_country_code": country if rng.random() < 0.9 else country.lower(),
        # The number makes every contact's identity unique.
        "email": f"{ascii_slug(first)}.{ascii_slug(last)}.{number}@{rng.choice(DOMAINS)}",
        "phone": phone(rng),
    }
    if rng.random() < 0.3:
        company = rng.choice(COMPANIES)
        contact["company_name"] = f"{company} {rng.choice(COMPANY_FORMS)}".strip()
        contact["company_url"] = f"https://www.{ascii_slug(company)}.example"
        contact["job_title"] = rng.choice(JOB_TITLES)
        if country in VAT_NUMBERS and rng.random() < 0.5:
            contact["vat_registration"] = VAT_NUMBERS[country]
    if rng.random() < 0.2:
        contact["fax"] = phone(rng)
    if rng.random() < 0.3:
        contact["address_line2"] = f"Floor {rng.randint(1, 20)}"
    if rng.random() < 0.4:
        contact["label"] = rng.choice(LABELS)
    if rng.random() < 0.25:
        contact["metadata"] = {"crm_id": f"C-{number:07d}", "segment": rng.choice("ABC")}
    if rng.random() < 0.05:
        contact["extension_data"] = {"eu": {"citizenship": rng.choice(["NL", "DE", "FR"])}}
    if rng.random() < 0.1:
        contact["first_name"] = f"  {first.upper()} "  # normalisation trims; dedup ignores case
    return contact


def duplicate_of(rng: random.Random, original: Contact) -> Contact:
    """The same identity written differently: the import reuses the first contact."""
    copy = dict(original)
    copy["last_name"] = rng.choice([original["last_name"].upper(), f" {original['last_name']}  "])
    copy["label"] = rng.choice(LABELS)
    return copy


BREAKAGES: list[tuple[str, Callable[[random.Random, Contact], None]]] = [
    ("email", lambda r, c: c.update(email="not-an-email")),
    ("phone", lambda r, c: c.update(phone="12")),
    ("address_postal_code", lambda r, c: c.update(address_postal_code="??")),
    ("address_country_code", lambda r, c: c.update(address_country_code="ZZ")),
    ("last_name", lambda r, c: c.pop("last_name")),
    ("metadata", lambda r, c: c.update(metadata={"crm_id": 42})),
    ("company_url", lambda r, c: c.update(company_url="ftp://files.example")),
]


def broken(rng: random.Random, contact: Contact) -> Contact:
    copy = dict(contact)
    _field, breakage = rng.choice(BREAKAGES)
    breakage(rng, copy)
    return copy


def contacts(count: int, *, seed: int, duplicates: float, invalid: float) -> Iterator[Contact]:
    rng = random.Random(seed)
    made: list[Contact] = []
    for number in range(count):
        roll = rng.random()
        if made and roll < duplicates:
            yield duplicate_of(rng, rng.choice(made))
            continue
        contact = valid_contact(rng, number)
        if roll < duplicates + invalid:
            yield broken(rng, contact)
            continue
        if len(made) < 10_000:  # duplicates come from a bounded sample: memory stays flat
            made.append(contact)
        elif rng.random() < 0.01:
            made[rng.randrange(len(made))] = contact
        yield contact


COLUMNS = [name for name in FILE_FIELDS if name not in ("handle", "is_default")]


def write_csv(rows: Iterator[Contact], out: Any) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in COLUMNS])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write_jsonl(rows: Iterator[Contact], out: Any) -> None:
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, help="how many rows to write")
    parser.add_argument("output", type=Path, help="file to write ('-' for stdout)")
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from OUTPUT's name")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duplicates", type=float, default=0.0, help="fraction, e.g. 0.1")
    parser.add_argument("--invalid", type=float, default=0.0, help="fraction, e.g. 0.02")
    args = parser.parse_args(argv)
    file_format = args.format or ("jsonl" if args.output.suffix == ".jsonl" else "csv")
    if not 0 <= args.duplicates + args.invalid <= 1:
        parser.error("--duplicates plus --invalid must be between 0 and 1")
    rows = contacts(args.count, seed=args.seed, duplicates=args.duplicates, invalid=args.invalid)
    write = write_csv if file_format == "csv" else write_jsonl
    if str(args.output) == "-":
        write(rows, sys.stdout)
        return
    with args.output.open("w", encoding="utf-8", newline="") as out:
        write(rows, out)


if __name__ == "__main__":
    main()
