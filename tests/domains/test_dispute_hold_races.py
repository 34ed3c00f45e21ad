"""A dispute hold set while the registrant is being edited, against a live `nichandle serve`:
no edit of a held domain's registrant lands after the hold, and no answer is a 500.

The order is read from the outbox: its ids come from one sequence, taken as each write inserts
its event. An edit inserts its contact.updated while it holds the contact locked; setting the
hold key-share-locks the registrant before it inserts its domain.updated. So every accepted
edit's event must come before the hold's; an edit that read the hold as still off, after the
hold was taken, would come after it.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from sqlalchemy import text

from nichandle.db.engine import Database
from tests.conftest import designated_agent
from tests.test_live_server import LiveServer, client_for, module_database, module_server
from tests.test_races import ROUND_TIMEOUT, make_contact, new_team, statuses

server = module_server("dispute-hold")
db = module_database()

ROUNDS = 4
EDITS = 8


async def event_ids(db: Database, account_id: int, kind: str, resource: str) -> list[int]:
    async with db.reader.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT id FROM outbox_event WHERE account_id = :a AND type = :t "
                "AND resource_id = :r ORDER BY id"
            ),
            {"a": account_id, "t": kind, "r": resource},
        )
        return [row[0] for row in found]


async def test_edits_racing_a_dispute_hold_never_land_after_it(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await make_contact(http)  # the default, so the registrants below are explicit
        # An agent approves for both parties, so every accepted edit changes the registrant at
        # once (cor-2024 would hold it pending behind the prior details: nothing to race).
        await designated_agent(http)
        for round_ in range(ROUNDS):
            registrant = await make_contact(http)
            handle, name = registrant["handle"], f"held-{round_}-{secrets.token_hex(3)}.com"
            created = await http.post(
                "/api/v1/domains", json={"name": name, "contacts": {"owner": handle}}
            )
            assert created.status_code == 201, created.text
            edits: list[Any] = [
                http.patch(f"/api/v1/contacts/{handle}", json={"email": f"e{n}@example.com"})
                for n in range(EDITS)
            ]
            hold = http.patch(f"/api/v1/domains/{name}", json={"dispute_hold": True})
            # The hold in the middle, so some edits start before it and some after.
            hold_answer, *answers = await asyncio.gather(
                hold, *edits[: EDITS // 2], *edits[EDITS // 2 :]
            )
            assert hold_answer.status_code == 200, hold_answer.text
            codes = statuses(answers)
            assert set(codes) <= {200, 409}, codes
            accepted = [r for r in answers if r.status_code == 200]
            refused = [r for r in answers if r.status_code == 409]
            assert all(name in r.json()["message"] for r in refused)

            (held_at,) = await event_ids(db, account_id, "domain.updated", name)
            edited = await event_ids(db, account_id, "contact.updated", handle)
            assert len(edited) == len(accepted)
            assert all(event < held_at for event in edited), (edited, held_at)
            # And once held, the registrant's email stays.
            after = await http.patch(
                f"/api/v1/contacts/{handle}", json={"email": "late@example.com"}
            )
            assert after.status_code == 409, after.text
