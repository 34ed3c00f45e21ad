"""docs/events.md describes every event type of the catalogue, with an example of each."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nichandle.dialects.native.events import native_name
from nichandle.events.catalogue import CATALOGUE

DOCS = Path(__file__).parents[2] / "docs" / "events.md"


def test_every_event_type_has_a_native_example() -> None:
    text = DOCS.read_text()
    examples = dict(
        re.findall(r"^### `([\w.]+)`\n\n```json\n(.*?)\n```", text, flags=re.DOTALL | re.M)
    )
    for name, event in CATALOGUE.items():
        example = json.loads(examples[native_name(name)])
        assert example["type"] == native_name(name)
        assert event.payload.__required_keys__ <= set(example["data"]), name
