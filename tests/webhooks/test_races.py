"""Concurrent webhook writes against a live `nichandle serve` (PostgreSQL, where the races are
real, and SQLite): one subscription per event and URL, no lost update, one deletion, and a test
delivery racing a deletion; never a 500, the invariants checked in the database."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from nichandle.db.engine import Database
from tests.test_live_server import (
    LiveServer,
    client_for,
    module_database,
    module_server,
)
from tests.test_races import ROUND_TIMEOUT, new_team, rows, statuses
from tests.webhooks.helpers import RECEIVER

NOTIFICATIONS = "/core/v1/notifications"
LOCK = "domain.lock.status_change"


server = module_server("webhook-races")
db = module_database()


def basic(team: dict[str, Any]) -> dict[str, str]:
    secret = base64.b64encode(f"{team['account']['slug']}:{team['token']}".encode()).decode()
    return {"Authorization": f"Basic {secret}"}


def _events(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def subscriptions(db: Database, account_id: int) -> list[tuple[str, list[str]]]:
    found = await rows(
        db,
        "SELECT url, events FROM webhook WHERE account_id = :a AND dialect = 'namecom'",
        a=account_id,
    )
    return [(url, _events(events)) for url, events in found]


async def test_identical_subscriptions_at_once_make_one(server: LiveServer, db: Database) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        for round_ in range(4):
            url = f"{RECEIVER}/{round_}"
            body = {"eventName": LOCK, "url": url, "active": True}
            responses = await asyncio.gather(
                *(http.post(NOTIFICATIONS, json=body, headers=basic(team)) for _ in range(8))
            )
            assert statuses(responses) == [201] + [409] * 7
            found = await subscriptions(db, account_id)
            assert found.count((url, [LOCK])) == 1

        # Several subscriptions moved onto one URL at once: one gets it, the rest are 409.
        ids = []
        for n in range(6):
            body = {"eventName": LOCK, "url": f"{RECEIVER}/from-{n}", "active": True}
            made = await http.post(NOTIFICATIONS, json=body, headers=basic(team))
            ids.append(made.json()["subscription"]["id"])
        target = f"{RECEIVER}/target"
        responses = await asyncio.gather(
            *(
                http.put(f"{NOTIFICATIONS}/{id_}", json={"url": target}, headers=basic(team))
                for id_ in ids
            )
        )
        assert statuses(responses) == [200] + [409] * 5
        found = await subscriptions(db, account_id)
        assert found.count((target, [LOCK])) == 1
        assert len(found) == len({(url, tuple(events)) for url, events in found})


async def test_concurrent_patches_of_a_webhook_lose_nothing(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        for _round in range(5):
            made = await http.post("/api/v1/webhooks", json={"url": RECEIVER})
            assert made.status_code == 201, made.text
            url = f"/api/v1/webhooks/{made.json()['data']['id']}"
            changes = [
                {"url": f"{RECEIVER}/moved"},
                {"events": ["contact.changed"]},
                {"is_active": False},
            ]
            responses = await asyncio.gather(*(http.patch(url, json=body) for body in changes))
            assert statuses(responses) == [200] * 3
            stored = (await http.get(url)).json()["data"]
            assert (stored["url"], stored["events"], stored["is_active"]) == (
                f"{RECEIVER}/moved",
                ["contact.changed"],
                False,
            )


async def test_a_webhook_is_deleted_once_and_tests_racing_it_leave_nothing(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        for _round in range(5):
            made = await http.post("/api/v1/webhooks", json={"url": RECEIVER})
            webhook_id = made.json()["data"]["id"]
            url = f"/api/v1/webhooks/{webhook_id}"
            calls = [http.delete(url) for _ in range(4)] + [
                http.post(f"{url}/test") for _ in range(4)
            ]
            responses = await asyncio.gather(*calls)
            deletes, tests = responses[:4], responses[4:]
            assert statuses(deletes) == [204] + [404] * 3
            # A test before the delete was queued (and went with the webhook); after it, 404;
            # one whose webhook went at the same time is a 409 to retry.
            assert {r.status_code for r in tests} <= {202, 404, 409}, [r.text for r in tests]
            statuses(tests)  # none a 5xx
            left = await rows(
                db,
                "SELECT count(*) FROM outbox_delivery WHERE account_id = :a AND webhook_id = :w",
                a=account_id,
                w=webhook_id,
            )
            assert left[0][0] == 0
            assert await rows(db, "SELECT id FROM webhook WHERE id = :w", w=webhook_id) == []
