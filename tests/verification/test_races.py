"""Concurrent verification writes against a live `nichandle serve` (PostgreSQL, where the races
are real, and SQLite): domains created at once with one email make one verification and one
mail; resends at once queue one mail; confirmations at once verify once; never a 500."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from sqlalchemy import text

from nichandle.db.engine import Database
from tests.conftest import contact_payload, designated_agent
from tests.test_live_server import LiveServer, client_for, module_database, module_server
from tests.test_races import ROUND_TIMEOUT, new_team, rows, statuses

server = module_server("verification-races")
db = module_database()

AT_ONCE = 8


async def owner_with_domains(
    http: httpx.AsyncClient, email: str, names: list[str]
) -> tuple[dict[str, Any], list[httpx.Response]]:
    made = await http.post("/api/v1/contacts", json=contact_payload(email=email))
    assert made.status_code in (200, 201), made.text
    owner: dict[str, Any] = made.json()["data"]
    responses = await asyncio.gather(
        *(
            http.post(
                "/api/v1/domains", json={"name": name, "contacts": {"owner": owner["handle"]}}
            )
            for name in names
        )
    )
    return owner, list(responses)


async def test_domains_created_at_once_with_one_email_make_one_verification_and_one_mail(
    server: LiveServer, db: Database
) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    names = [f"together-{n}.com" for n in range(AT_ONCE)]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        _owner, responses = await owner_with_domains(http, "together@example.com", names)
    assert statuses(responses) == [201] * AT_ONCE
    verifications = await rows(
        db, "SELECT id, state FROM verification WHERE account_id = :a", a=account_id
    )
    assert [state for _id, state in verifications] == ["open"]
    [(verification_id, _state)] = verifications
    mails = await rows(
        db, "SELECT kind FROM verification_mail WHERE verification_id = :v", v=verification_id
    )
    assert [kind for (kind,) in mails] == ["request"]
    covered = await rows(
        db,
        "SELECT count(*) FROM verification_domain WHERE verification_id = :v",
        v=verification_id,
    )
    assert covered[0][0] == AT_ONCE


async def test_resends_at_once_queue_one_mail(server: LiveServer, db: Database) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await owner_with_domains(http, "resend@example.com", ["resend-race.com"])
        # The first mail went out an hour ago (moved in the database: the server's clock is
        # its own), so one resend is allowed now.
        async with db.writer.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE verification SET last_mail_at = created_at - interval '1 hour' "
                if db.writer.dialect.name == "postgresql"
                else "UPDATE verification SET last_mail_at = datetime(created_at, '-1 hour') ",
            )
        url = "/api/v1/domains/resend-race.com/contact-verification/resend"
        responses = await asyncio.gather(*(http.post(url) for _ in range(AT_ONCE)))
    assert statuses(responses) == [200] + [429] * (AT_ONCE - 1)
    mails = await rows(
        db,
        "SELECT m.kind FROM verification_mail m JOIN verification v ON v.id = m.verification_id "
        "WHERE v.account_id = :a ORDER BY m.id",
        a=account_id,
    )
    assert [kind for (kind,) in mails] == ["request", "resend"]


async def test_confirmations_at_once_verify_once(server: LiveServer, db: Database) -> None:
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        await owner_with_domains(http, "confirm-race@example.com", ["confirm-race.com"])
        link = await logged_link(server, "confirm-race@example.com")
        page = await http.get(link)
        assert page.status_code == 200, page.text
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        responses = await asyncio.gather(
            *(http.post(link, data={"csrf_token": csrf}) for _ in range(AT_ONCE))
        )
        # name.com's verify by id, racing too: nothing open is left under that id.
        [(verification_id,)] = await rows(
            db, "SELECT id FROM verification WHERE account_id = :a", a=account_id
        )
        by_id = await asyncio.gather(
            *(
                http.post(
                    f"/core/v1/contacts/verify/{verification_id}",
                    auth=(team["account"]["slug"], team["token"]),
                )
                for _ in range(2)
            )
        )
    assert statuses(responses) == [200] + [410] * (AT_ONCE - 1)
    assert statuses(by_id) == [404, 404]
    verified = await rows(
        db,
        "SELECT count(*) FROM outbox_event WHERE account_id = :a "
        "AND type = 'contact.verification.verified'",
        a=account_id,
    )
    assert verified[0][0] == 1


async def logged_link(server: LiveServer, email: str) -> str:
    """The link the server's worker wrote to its log (no SMTP configured), once it has."""
    pattern = re.compile(rf"mail to {re.escape(email)} not sent .*?link: \S*?(/verify/[\w-]+)")
    for _poll in range(200):
        found = pattern.search(server.logs())
        if found:
            return found.group(1)
        await asyncio.sleep(0.05)  # waiting on another process's worker, not moving time
    raise AssertionError(f"no link for {email} in the server's log:\n{server.logs()[-2000:]}")


async def test_a_suspension_lifted_two_ways_at_once_is_lifted_once(
    server: LiveServer, db: Database
) -> None:
    """Re-pointing a suspended domain at a verified registrant and verifying the address that
    got it suspended both lift the suspension: at once, it is lifted once, with one event."""
    team = await new_team(server)
    account_id = team["account"]["id"]
    async with asyncio.timeout(ROUND_TIMEOUT), client_for(server, team["token"]) as http:
        known, _ = await owner_with_domains(http, "known-race@example.com", ["known-race.com"])
        staff = await http.post(f"/api/v1/contacts/{known['handle']}/verify")
        assert staff.status_code == 200, staff.text
        await designated_agent(http)  # a new owner applies at once, the race is with it
        owner, _ = await owner_with_domains(http, "held-race@example.com", ["held-race.com"])
        # Its deadline passed (the server's clock cannot be moved from here): as the worker
        # would have suspended it.
        async with db.writer.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE domain SET status = 'suspended', "
                    "suspended_reason = 'registrant_verification' "
                    "WHERE account_id = :a AND name = 'held-race.com'"
                ),
                {"a": account_id},
            )
        half = AT_ONCE // 2
        responses = await asyncio.gather(
            *(
                http.patch(
                    "/api/v1/domains/held-race.com",
                    json={"contacts": {"owner": known["handle"]}},
                )
                for _ in range(half)
            ),
            *(http.post(f"/api/v1/contacts/{owner['handle']}/verify") for _ in range(half)),
        )
    assert set(statuses(responses)) <= {200, 409}
    [(status,)] = await rows(
        db,
        "SELECT status FROM domain WHERE account_id = :a AND name = 'held-race.com'",
        a=account_id,
    )
    assert status == "registered"
    lifted = await rows(
        db,
        "SELECT count(*) FROM outbox_event WHERE account_id = :a "
        "AND type = 'domain.unsuspended' AND resource_id = 'held-race.com'",
        a=account_id,
    )
    assert lifted[0][0] == 1
