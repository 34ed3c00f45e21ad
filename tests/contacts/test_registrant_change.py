"""The rule of a material change of registrant (contacts.registrant_change), no database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nichandle.contacts.registrant_change import (
    CONTACT_POINT_FIELDS,
    edit_distance,
    is_typo_fix,
    material_fields,
    repoint_material_fields,
)

BEFORE: dict[str, Any] = {
    "first_name": "Jonathan",
    "last_name": "Smith",
    "company_name": "Acme Widgets",
    "email": "jon@example.com",
    "address_street": "Main Street",
    "address_city": "Springfield",
    "phone": "+1.5555550100",
    "fax": None,
    "label": "work",
}


def edit(**changes: Any) -> dict[str, Any]:
    return {**BEFORE, **changes}


@pytest.mark.parametrize(
    ("after", "typo_correction", "expected"),
    [
        # email: always material, compared case-insensitively and without outer spaces
        (edit(email="jane@example.com"), False, ("email",)),
        (edit(email="jane@example.com"), True, ("email",)),
        (edit(email=" JON@Example.com "), False, ()),
        # name or organisation: material unless a declared, small, lone typo fix
        (edit(last_name="Smyth"), False, ("last_name",)),
        (edit(last_name="Smyth"), True, ()),
        (edit(first_name="Jonahtan"), True, ()),  # a swap is one edit
        (edit(company_name="Acme Widget"), True, ()),
        (edit(company_name="Other Corp"), True, ("company_name",)),
        (edit(last_name="Jones"), True, ("last_name",)),  # 4 edits
        (edit(last_name="Smithers"), True, ("last_name",)),  # 3 edits
        (edit(first_name="Al"), True, ("first_name",)),  # too large a share of a short name
        # a typo fix together with an address or phone change is material
        (edit(last_name="Smyth", address_city="Shelbyville"), True, ("last_name",)),
        (edit(last_name="Smyth", phone="+1.5555550199"), True, ("last_name",)),
        # a typo fix and an email change: the email still is
        (edit(last_name="Smyth", email="smyth@example.com"), True, ("email",)),
        # address, phone, fax or label alone: never
        (edit(address_street="Elm Street", address_city="Shelbyville"), False, ()),
        (edit(phone="+1.5555550199", fax="+1.5555550198"), False, ()),
        (edit(label="home"), False, ()),
        # nothing but Unicode normalisation and whitespace
        (edit(last_name=" Smith "), False, ()),
        # several fields at once, in a stable order
        (edit(first_name="Jane", email="jane@example.com"), False, ("first_name", "email")),
    ],
)
def test_material_change_rule(
    after: dict[str, Any], typo_correction: bool, expected: tuple[str, ...]
) -> None:
    assert material_fields(BEFORE, after, typo_correction=typo_correction) == expected


def test_repointing_at_a_contact_with_another_identity_is_material() -> None:
    same_person = edit(address_city="Shelbyville", phone="+1.5555550199", label="home")
    assert repoint_material_fields(BEFORE, same_person) == ()
    # no typo fix when the role moves to another contact: a one-letter difference counts
    assert repoint_material_fields(BEFORE, edit(last_name="Smyth")) == ("last_name",)
    assert repoint_material_fields(BEFORE, edit(email="other@example.com")) == ("email",)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "", 3), ("smith", "smyth", 1), ("ab", "ba", 1), ("kitten", "sitting", 3)],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


names = st.text(alphabet="SmithJonaé y", min_size=0, max_size=12)


@given(names, names)
def test_edit_distance_is_symmetric_and_bounded(a: str, b: str) -> None:
    distance = edit_distance(a, b)
    assert distance == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= distance <= max(len(a), len(b))
    assert (distance == 0) == (a == b)


@given(
    st.sampled_from(CONTACT_POINT_FIELDS),
    st.text(min_size=1, max_size=20),
    st.booleans(),
)
def test_contact_point_changes_alone_are_never_material(
    field: str, value: str, typo_correction: bool
) -> None:
    assert material_fields(BEFORE, edit(**{field: value}), typo_correction=typo_correction) == ()


@given(names.filter(lambda name: name.strip() != "Smith"), st.booleans())
def test_a_typo_fix_is_never_larger_than_its_limits(name: str, typo_correction: bool) -> None:
    material = material_fields(BEFORE, edit(last_name=name), typo_correction=typo_correction)
    fixed = material == ()
    assert fixed == (typo_correction and is_typo_fix("Smith", name.strip()))
    if fixed:
        assert edit_distance("Smith", name.strip()) <= 2
