"""Contact metadata: a small string map callers attach to contacts, merged on update.

Keys and values are NFC, so a key typed with a combining accent is the same key. Keys are
identifiers (filters name them: ``metadata[key]=``), so invisible format characters are refused
there; values are the caller's own text, never published, and may hold them (emoji sequences,
right-to-left marks).
"""

from __future__ import annotations

from collections.abc import Mapping

from nichandle.contacts.validation import nfc, text_problem
from nichandle.errors import ErrorCollector

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500


def merge_metadata(current: Mapping[str, str], changes: Mapping[str, object]) -> dict[str, str]:
    """Applies changes: a value sets its key, "" removes it, and {} clears everything.

    On create, ``current`` is empty and the same rules apply. Raises FieldErrors keyed
    ``metadata.<key>`` (or ``metadata`` for the key count).
    """
    errors = ErrorCollector()
    merged = {} if not changes else dict(current)
    for raw_key, raw_value in changes.items():
        key = nfc(raw_key)
        value = nfc(raw_value) if isinstance(raw_value, str) else raw_value
        # A key with unpaired surrogates could not even be encoded in the error answer.
        where = f"metadata.{key.encode('utf-8', 'replace').decode()}"
        if len(key) > MAX_KEY_LENGTH:
            errors.add(where, "invalid", f"key is longer than {MAX_KEY_LENGTH} characters")
        if "[" in key or "]" in key:
            errors.add(where, "invalid", "key must not contain [ or ]")
        if not key:
            errors.add(where, "invalid", "key must not be empty")
        if key_problem := text_problem(key):
            errors.add(where, "invalid", f"key {key_problem}")
        if not isinstance(value, str):
            errors.add(where, "invalid", "value must be a string")
        elif len(value) > MAX_VALUE_LENGTH:
            errors.add(where, "invalid", f"value is longer than {MAX_VALUE_LENGTH} characters")
        elif value_problem := text_problem(value, allow_format=True):
            errors.add(where, "invalid", f"value {value_problem}")
        if errors.has(where) or not isinstance(value, str):
            continue
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if not errors.problems and len(merged) > MAX_KEYS:
        errors.add("metadata", "too_many_keys", f"can't have more than {MAX_KEYS} keys")
    errors.raise_if_any()
    return merged
