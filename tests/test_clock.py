"""One clock: every "now" the store writes comes from nichandle.clock, so tests move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from nichandle import clock
from tests.conftest import Team, create_contact


async def test_timestamps_follow_the_injected_clock(client: httpx.AsyncClient, team: Team) -> None:
    start = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    with clock.use(clock.FrozenClock(start)) as frozen:
        contact = await create_contact(client, team, email="clock@example.com")
        assert isinstance(frozen, clock.FrozenClock)
        frozen.advance(timedelta(days=15))
        response = await client.patch(
            f"/api/v1/contacts/{contact['handle']}", json={"label": "later"}, headers=team.headers
        )
        assert response.status_code == 200, response.text
        domain = await client.post(
            "/api/v1/domains", json={"name": "clock-test.com"}, headers=team.headers
        )
        assert domain.status_code == 201, domain.text
    updated = response.json()["data"]
    assert datetime.fromisoformat(contact["created_at"]) == start
    assert datetime.fromisoformat(updated["updated_at"]) == start + timedelta(days=15)
    # A new registration runs a year from the clock's now, not the machine's.
    expires = datetime.fromisoformat(domain.json()["data"]["expires_at"])
    assert expires == start + timedelta(days=15 + 365)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=5)  # restored afterwards
