"""Contact files: CSV and JSON Lines in the native field names, for `nichandle contacts
import/export`. Translation only (records in, records out); the rules are in contacts/bulk.py.

CSV: a header row of field names; empty cells are unset; ``is_default`` is true/false;
``metadata`` and ``extension_data`` are JSON object text; a text cell that a spreadsheet would
run as a formula is written with a leading ``'`` and read back without it (``formula_safe``).
JSON Lines: one native-shaped object per line. Line numbers are the file's own (a CSV record
spanning lines counts from its first).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from nichandle.contacts.bulk import ImportRow, RowProblem
from nichandle.contacts.validation import TEXT_FIELDS

_TRAILING = ("label", "job_title")
FILE_FIELDS: tuple[str, ...] = (
    "handle",
    *(name for name in TEXT_FIELDS if name not in _TRAILING),
    *_TRAILING,
    "is_default",
    "parent_handle",
    "metadata",
    "extension_data",
)
_JSON_FIELDS = frozenset({"metadata", "extension_data"})
_TEXT_FIELDS = frozenset(FILE_FIELDS) - _JSON_FIELDS - {"is_default"}
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
UNKNOWN_FIELD = "is not a contact field"
NOT_UTF8 = "is not UTF-8 text"

REJECT_COLUMNS = ("line", "field", "reason")


class FileFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


_SUFFIXES = {".csv": FileFormat.csv, ".jsonl": FileFormat.jsonl, ".ndjson": FileFormat.jsonl}


def format_of(path: Path | None, given: FileFormat | None) -> FileFormat | None:
    """The format asked for, else the one the file name says; None when neither tells."""
    if given is not None:
        return given
    return _SUFFIXES.get(path.suffix.lower()) if path is not None else None


class FileError(Exception):
    """The file as a whole cannot be read (e.g. a CSV header naming a column twice)."""


# --- formulas ---------------------------------------------------------------------------------

# What makes a spreadsheet run a cell as a formula (OWASP, "CSV Injection"): a phone +31...
# or a company "=HYPERLINK(...)" would otherwise be evaluated when the export is opened.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"  # what spreadsheets themselves take as "the rest is text"


def _runs_as_formula(text: str) -> bool:
    # Leading escapes count too, so a value that itself starts with ' before a formula start
    # gets one more, and reading takes exactly one off: export -> import is exact for every
    # text, while "'s-Hertogenbosch" (no formula after the ') is written and read as it is.
    return text.lstrip(ESCAPE).startswith(FORMULA_STARTS)


def formula_safe(text: str) -> str:
    """A text cell as written: ``'`` before a cell a spreadsheet would run as a formula."""
    return ESCAPE + text if _runs_as_formula(text) else text


def formula_restored(cell: str) -> str:
    """A text cell as read: the inverse of formula_safe."""
    return cell[1:] if cell.startswith(ESCAPE) and _runs_as_formula(cell) else cell


# --- reading ----------------------------------------------------------------------------------


def read_rows(
    stream: IO[bytes], file_format: FileFormat, on_bytes: Callable[[int], None] = lambda _: None
) -> Iterator[ImportRow]:
    """The file's records, one ImportRow each; ``on_bytes`` hears how far reading got."""
    lines = _lines(stream, on_bytes)
    return _read_csv(lines) if file_format is FileFormat.csv else _read_jsonl(lines)


def _lines(stream: IO[bytes], on_bytes: Callable[[int], None]) -> Iterator[str]:
    first = True
    for raw in stream:
        on_bytes(len(raw))
        # Undecodable bytes survive as lone surrogates, so the record that holds them is
        # rejected field by field instead of the whole file failing.
        line = raw.decode("utf-8", "surrogateescape")
        if first:
            line, first = line.removeprefix("\ufeff"), False  # spreadsheets write a BOM
        yield line


_UNDECODED = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes not UTF-8


def _not_utf8(value: str) -> bool:
    return _UNDECODED.search(value) is not None


def _read_csv(lines: Iterator[str]) -> Iterator[ImportRow]:
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader resumes at the next line; an unclosed quote ends the file here.
            yield ImportRow(start, None, (("", f"is not valid CSV ({exc})"),))
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [cell.strip() for cell in cells]
            if not set(header) & set(FILE_FIELDS):
                raise FileError(
                    "the first CSV row must be a header of field names: " + ", ".join(FILE_FIELDS)
                )
            twice = sorted({name for name in header if header.count(name) > 1})
            if twice:
                raise FileError(f"the CSV header names {', '.join(twice)} more than once")
            continue
        yield _csv_row(start, header, cells)


def _csv_row(line: int, header: list[str], cells: list[str]) -> ImportRow:
    problems: list[tuple[str, str]] = []
    fields: dict[str, Any] = {}
    if len(cells) > len(header):
        problems.append(("", f"has {len(cells)} values but the header names {len(header)}"))
    for name, cell in zip(header, cells, strict=False):
        if _not_utf8(cell):
            problems.append((name, NOT_UTF8))
            continue
        if not cell.strip():
            continue
        if name not in FILE_FIELDS:
            problems.append((name, UNKNOWN_FIELD))
        elif name in _JSON_FIELDS:
            try:
                value = json.loads(cell)
            except ValueError as exc:
                problems.append((name, f"is not valid JSON ({exc})"))
                continue
            _take(fields, problems, name, value)
        elif name == "is_default":
            flag = cell.strip().lower()
            if flag in _TRUE or flag in _FALSE:
                fields[name] = flag in _TRUE
            else:
                problems.append((name, "must be true or false"))
        else:
            fields[name] = formula_restored(cell)
    return ImportRow(line, fields, tuple(problems))


def _read_jsonl(lines: Iterator[str]) -> Iterator[ImportRow]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if _not_utf8(text):
            yield ImportRow(number, None, (("", NOT_UTF8),))
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            yield ImportRow(number, None, (("", f"is not valid JSON ({exc})"),))
            continue
        if not isinstance(record, dict):
            yield ImportRow(number, None, (("", "is not a JSON object"),))
            continue
        problems: list[tuple[str, str]] = []
        fields: dict[str, Any] = {}
        for name, value in record.items():
            if name not in FILE_FIELDS:
                problems.append((name, UNKNOWN_FIELD))
            elif value is not None:
                _take(fields, problems, name, value)
        yield ImportRow(number, fields, tuple(problems))


def _take(fields: dict[str, Any], problems: list[tuple[str, str]], name: str, value: Any) -> None:
    """Keeps a value of the type its field takes (as the native API's schema would)."""
    if name in _JSON_FIELDS:
        ok, expected = isinstance(value, dict), "a JSON object"
    elif name == "is_default":
        ok, expected = isinstance(value, bool), "true or false"
    else:
        ok, expected = isinstance(value, str), "a string"
    if ok:
        fields[name] = value
    else:
        problems.append((name, f"must be {expected}"))


# --- writing ----------------------------------------------------------------------------------


def record_of(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A contact as history keeps it (contacts.service.snapshot) -> a file record."""
    return {name: snapshot[name] for name in FILE_FIELDS}


class RecordWriter:
    """Writes records in one of the formats; CSV starts with the header."""

    def __init__(self, stream: IO[str], file_format: FileFormat) -> None:
        self.stream = stream
        self.file_format = file_format
        self._csv = csv.writer(stream, lineterminator="\n")
        # The writer quotes only what is in its line terminator: a cell with a CR would be
        # written bare, and no reader would take the row back.
        self._quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)
        if file_format is FileFormat.csv:
            self._csv.writerow(FILE_FIELDS)

    def write(self, record: Mapping[str, Any]) -> None:
        if self.file_format is FileFormat.jsonl:
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        cells = [_cell(name, record[name]) for name in FILE_FIELDS]
        (self._quoted if any("\r" in cell for cell in cells) else self._csv).writerow(cells)


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "is_default":
        return "true" if value else "false"
    if name in _JSON_FIELDS:
        return json.dumps(value, ensure_ascii=False) if value else ""
    return formula_safe(str(value))


class RejectsWriter:
    """The rejects file: one CSV row (line, field, reason) per problem."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._csv = csv.writer(stream, lineterminator="\n")
        self._csv.writerow(REJECT_COLUMNS)

    def write(self, problems: list[RowProblem]) -> None:
        # Field names come from the file's own header: made safe to open, never read back.
        self._csv.writerows(
            (p.line, formula_safe(p.field), formula_safe(p.reason)) for p in problems
        )
        self.stream.flush()
