"""Finding the contact that already holds some details, for dialects that send whole contacts
instead of handles (name.com setContacts and CreateDomain): what the account already has is
reused, never copied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts.addresses import compose_address1
from nichandle.contacts.dedup import IDENTITY_FIELDS, fingerprint
from nichandle.contacts.models import Contact
from nichandle.contacts.service import create_contact


def holds(contact: Contact, details: Mapping[str, Any], values: Mapping[str, str | None]) -> bool:
    """Whether ``contact`` already holds ``details``, compared on the fields the details carry.

    Dialects that carry only some fields (name.com, dnsimple) send back what they read: fields
    they can't carry (job title, company registration, ...) are not compared, and a street sent
    without a house number is compared with the contact's street and number composed in the
    country's order, as their ``address1`` showed them. "Identical" is dedup's fingerprint.
    """
    held: dict[str, str | None] = {name: getattr(contact, name) for name in IDENTITY_FIELDS}
    if "address_street" in details and not values.get("address_house_number"):
        held["address_street"] = compose_address1(
            contact.address_street, contact.address_house_number, contact.address_country_code
        )
        held["address_house_number"] = None
    sent = {**held, **{name: values.get(name) for name in IDENTITY_FIELDS if name in details}}
    return fingerprint(sent) == fingerprint(held)


async def contacts_for_details(
    session: AsyncSession,
    actor: Actor,
    details_by_role: Mapping[str, Mapping[str, Any]],
    normalised: Mapping[str, Mapping[str, str | None]],
    *,
    current: Mapping[str, Contact],
    known: Sequence[Contact],
    require: Sequence[str],
) -> dict[str, Contact]:
    """Role -> contact for checked details: a contact that already holds them (the role's
    current one first, then the others ``known``), else create_contact's (an identical contact
    reused by fingerprint, or a new one). Never a copy of what the account already has."""
    found: dict[str, Contact] = {}
    for role, values in normalised.items():
        details = details_by_role[role]
        candidates = [current[role]] if role in current else []
        candidates += [*current.values(), *known]
        match = next((c for c in candidates if holds(c, details, values)), None)
        if match is None:
            outcome = await create_contact(session, actor, details, require=require)
            match = outcome.contact
        found[role] = match
    return found
