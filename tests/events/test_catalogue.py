"""Every change the product makes is announced by a catalogue event whose payload has its
type's keys and whose resource follows from the payload, written in the change's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import RFC_4122, UUID

import httpx
from sqlalchemy import select

from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.catalogue import CATALOGUE, Resource
from nichandle.events.models import OutboxEvent, event_uuid
from tests.conftest import Team, create_contact
from tests.dialects.native.helpers import contact_url


async def test_every_write_emits_typed_events(
    client: httpx.AsyncClient, team: Team, db: Database
) -> None:
    owner = await create_contact(client, team, email="owner@example.com")
    spare = await create_contact(client, team, email="spare@example.com")
    headers = team.headers
    steps = [
        client.patch(contact_url(spare["handle"]), json={"address_city": "Delft"}, headers=headers),
        client.post(
            "/api/v1/domains",
            json={"name": "typed.example", "contacts": {"admin": spare["handle"]}},
            headers=headers,
        ),
        client.patch("/api/v1/domains/typed.example", json={"locked": True}, headers=headers),
        client.patch("/api/v1/domains/typed.example", json={"locked": False}, headers=headers),
        client.post(
            "/api/v1/certificates",
            json={"common_name": "typed.example", "contact": owner["handle"]},
            headers=headers,
        ),
    ]
    for step in steps:
        response = await step
        assert response.status_code in (200, 201), response.text
    certificate = (await client.get("/api/v1/certificates", headers=headers)).json()["data"][0]
    for url in (f"/api/v1/certificates/{certificate['id']}", "/api/v1/domains/typed.example"):
        assert (await client.delete(url, headers=headers)).status_code == 204
    assert (await client.delete(contact_url(spare["handle"]), headers=headers)).status_code == 204

    async with unit_of_work(db, write=False) as session:
        query = select(OutboxEvent).where(OutboxEvent.account_id == team.id)
        events = list(await session.scalars(query.order_by(OutboxEvent.id)))

    # The worker's and the verification's own are tested in tests/verification, the change of
    # registrant's in tests/registrant_changes (they check the same payload keys).
    changes_of_registrant = {name for name in CATALOGUE if "registrant_change" in name}
    transfer_locks = {"domain.transfer_lock.added", "domain.transfer_lock.removed"}
    assert {e.type for e in events} == set(CATALOGUE) - changes_of_registrant - transfer_locks - {
        "webhook.deactivated",
        "webhook.test",
        "contact.verification.reminded",
        "contact.verification.verified",
        "contact.verification.bounced",
        "domain.suspended",
        "domain.unsuspended",
    }
    assert len({e.uuid for e in events}) == len(events)
    for event in events:
        kind = CATALOGUE[event.type]
        keys = set(event.payload)
        assert kind.payload.__required_keys__ <= keys <= kind.payload.__annotations__.keys(), event
        resource = Resource(event.resource_type, event.resource_id, event.resource_parent)
        assert resource == kind.resource(event.payload)
        assert event.actor["kind"] == "token"
        assert event.request_id
    deleted = next(e for e in events if e.type == "certificate.deleted")
    assert deleted.payload == {
        "certificate_id": certificate["id"],
        "common_name": "typed.example",
        "contact": owner["handle"],
    }


def test_an_event_uuid_is_its_time_and_id_laid_out_as_a_uuidv7_with_version_8() -> None:
    moment = datetime(2026, 12, 2, 15, 30, 1, 234567, tzinfo=UTC)
    derived = UUID(event_uuid(moment, 4_000_000_123))
    assert (derived.version, derived.variant) == (8, RFC_4122)
    milliseconds = int(moment.timestamp()) * 1000 + 234
    assert derived.int >> 80 == milliseconds
    assert derived.int >> 64 & 0xFFF == 567  # the microseconds within the millisecond
    assert derived.int & (2**62 - 1) == 4_000_000_123
    # Stable, and apart for the next id or the next microsecond.
    assert event_uuid(moment, 4_000_000_123) == str(derived)
    assert event_uuid(moment, 4_000_000_124) != str(derived)
    assert event_uuid(moment + timedelta(microseconds=1), 4_000_000_123) != str(derived)
