"""Registrant verification in the three dialects: native notices, resend and verify; name.com's
isVerified, unverified list and verify; history entries; a cross-account 404 for each."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from nichandle import clock
from nichandle.clock import FrozenClock
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.models import Delivery
from nichandle.verification.models import Verification, VerificationMethod
from nichandle.worker.loop import Worker
from tests.conftest import Team, create_contact, make_team
from tests.dialects.namecom.helpers import auth
from tests.verification.conftest import Mailbox, drain
from tests.verification.test_end_to_end import add_domain, address, namecom_registrant

RESEND = "/api/v1/domains/{}/contact-verification/resend"


async def test_native_domains_carry_the_notice_and_resend_is_limited(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox
) -> None:
    email = address("notice")
    with clock.use(FrozenClock(datetime.now(UTC))) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await create_contact(client, team, email=email)
        await add_domain(client, team, "noticed.com", owner["handle"])
        await add_domain(client, team, "exempt.de", owner["handle"])
        await drain(worker)

        domain = (await client.get("/api/v1/domains/noticed.com", headers=team.headers)).json()
        [notice] = domain["data"]["notices"]
        assert notice["code"] == "domain.contact_verification.required"
        assert (notice["type"], notice["severity"]) == ("action_required", "warning")
        assert [a["code"] for a in notice["actions"]] == [
            "domain.contact_verification.open",
            "domain.contact_verification.resend",
        ]
        url = notice["actions"][0]["data"]["contact_verification_url"]
        opened = await client.get(url, headers=team.headers)
        assert opened.status_code == 200, opened.text
        assert opened.json()["data"]["domains"] == ["noticed.com"]
        listed = (await client.get("/api/v1/domains", headers=team.headers)).json()["data"]
        assert {d["name"]: len(d["notices"]) for d in listed} == {
            "exempt.de": 0,
            "noticed.com": 1,
        }

        too_soon = await client.post(RESEND.format("noticed.com"), headers=team.headers)
        assert too_soon.status_code == 429
        assert 0 < int(too_soon.headers["Retry-After"]) <= 900
        frozen.advance(timedelta(minutes=16))
        again = await client.post(RESEND.format("noticed.com"), headers=team.headers)
        assert again.status_code == 200, again.text
        assert again.json()["data"]["notices"][0]["code"] == "domain.contact_verification.required"
        needless = await client.post(RESEND.format("exempt.de"), headers=team.headers)
        assert needless.status_code == 400
        assert "needs no contact verification" in needless.json()["message"]
        await drain(worker)
    assert len(mailbox.to(email)) == 2

    other = await make_team(worker.db)
    hidden = await client.post(RESEND.format("noticed.com"), headers=other.headers)
    assert hidden.status_code == 404


async def test_native_verify_marks_the_email_verified_with_the_actor(
    client: httpx.AsyncClient, team: Team, worker: Worker, db: Database
) -> None:
    owner = await create_contact(client, team, email=address("staff"))
    await add_domain(client, team, "staff-verified.com", owner["handle"])
    other = await make_team(db)
    url = f"/api/v1/contacts/{owner['handle']}/verify"
    assert (await client.post(url, headers=other.headers)).status_code == 404

    verified = await client.post(url, headers=team.headers)
    assert verified.status_code == 200, verified.text
    assert verified.json()["data"]["email_verified_at"] is not None
    domain = (await client.get("/api/v1/domains/staff-verified.com", headers=team.headers)).json()
    assert domain["data"]["notices"] == []
    async with unit_of_work(db, write=False) as session:
        found = await session.scalar(select(Verification).where(Verification.account_id == team.id))
    assert found is not None
    assert found.verified_method is VerificationMethod.API
    assert found.verified_by_token_id is not None


async def test_namecom_lists_unverified_contacts_and_verifies_by_id(
    client: httpx.AsyncClient, team: Team, worker: Worker, db: Database
) -> None:
    email = address("reseller")
    owner = await create_contact(client, team, email=email)
    await add_domain(client, team, "reseller-b.com", owner["handle"])
    await add_domain(client, team, "reseller-a.com", owner["handle"])

    listed = await client.get("/core/v1/contacts/unverified", auth=auth(team))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    [unverified] = body["unverifiedContacts"]
    assert set(unverified) == {"verificationId", "createDate", "verifyBy", "email", "domains"}
    assert unverified["email"] == email
    assert unverified["domains"] == ["reseller-a.com", "reseller-b.com"]
    assert (body["from"], body["to"], body["totalCount"], body["nextPage"]) == (1, 1, 1, None)

    verification_id = unverified["verificationId"]
    other = await make_team(db)
    url = f"/core/v1/contacts/verify/{verification_id}"
    assert (await client.post(url, auth=auth(other))).status_code == 404
    assert (
        await client.post("/core/v1/contacts/verify/99999999", auth=auth(team))
    ).status_code == 404
    assert (await client.post("/core/v1/contacts/verify/nope", auth=auth(team))).status_code == 404

    done = await client.post(url, auth=auth(team))
    assert done.status_code == 204, done.text
    assert (await namecom_registrant(client, team, "reseller-a.com"))["isVerified"] is True
    after = (await client.get("/core/v1/contacts/unverified", auth=auth(team))).json()
    assert after["unverifiedContacts"] == []
    # Verified already: nothing open under that id any more.
    assert (await client.post(url, auth=auth(team))).status_code == 404


async def test_dnsimple_reads_a_suspended_domain_as_suspended_then_registered_again(
    client: httpx.AsyncClient, team: Team, worker: Worker
) -> None:
    """DNSimple's Domain.state enum (hosted, registered, expired) has no word for a suspension:
    the issue asks the state to show it, so "suspended" is added (docs/verification.md)."""
    email = f"dns-{secrets.token_hex(4)}@example.com"
    with clock.use(FrozenClock(datetime.now(UTC))) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await create_contact(client, team, email=email)
        await add_domain(client, team, "dns-held.com", owner["handle"])
        await drain(worker)
        frozen.advance(timedelta(days=16))
        await drain(worker)
        native = (await client.get("/api/v1/domains/dns-held.com", headers=team.headers)).json()
        assert native["data"]["status"] == "suspended"
        dnsimple = await client.get(f"/v2/{team.id}/domains/dns-held.com", headers=team.headers)
        assert dnsimple.status_code == 200, dnsimple.text
        assert dnsimple.json()["data"]["state"] == "suspended"
        verified = await client.post(
            f"/api/v1/contacts/{owner['handle']}/verify", headers=team.headers
        )
        assert verified.status_code == 200, verified.text
        again = await client.get(f"/v2/{team.id}/domains/dns-held.com", headers=team.headers)
    assert again.json()["data"]["state"] == "registered"


async def test_namecom_hears_a_suspension_as_its_domain_lock_webhook(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    email = address("lock-hook")
    subscribed = await client.post(
        "/core/v1/notifications",
        json={
            "eventName": "domain.lock.status_change",
            "url": "https://lock-hook.invalid/hook",
            "active": True,
        },
        auth=auth(team),
    )
    assert subscribed.status_code == 201, subscribed.text
    with clock.use(FrozenClock(datetime.now(UTC))) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await create_contact(client, team, email=email)
        await add_domain(client, team, "lock-hook.com", owner["handle"])
        await drain(worker)
        frozen.advance(timedelta(days=15, minutes=1))
        await drain(worker)
        verified = await client.post(
            f"/api/v1/contacts/{owner['handle']}/verify", headers=team.headers
        )
        assert verified.status_code == 200, verified.text
        await drain(worker)
    async with unit_of_work(db, write=False) as session:
        bodies = list(
            await session.scalars(
                select(Delivery.body).where(Delivery.account_id == team.id).order_by(Delivery.id)
            )
        )
    sent = [json.loads(body) for body in bodies]
    assert [(b["domainName"], b["action"], b["lockType"]) for b in sent] == [
        ("lock-hook.com", "added", "TransferLock"),
        ("lock-hook.com", "removed", "TransferLock"),
    ]
    assert sent[0]["registryStatuses"] == ["clientHold", "clientTransferProhibited"]
