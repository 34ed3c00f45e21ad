"""Registrant verification end to end: the write path starts it, the worker mails over real
SMTP, the link's page verifies on POST only, time moves (never sleeps) through reminders and
suspension, and verifying lifts every suspension at once."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from nichandle import clock
from nichandle.clock import FrozenClock
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.models import OutboxEvent
from nichandle.mail.states import MailState
from nichandle.verification.models import Verification, VerificationMail
from nichandle.worker.loop import Worker
from tests.conftest import Team, create_contact, designated_agent
from tests.dialects.namecom.helpers import auth, namecom_contact
from tests.verification.conftest import Mailbox, drain, link_in

DAY = timedelta(days=1)


def address(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.com"


async def add_domain(client: httpx.AsyncClient, team: Team, name: str, owner: str) -> None:
    response = await client.post(
        "/api/v1/domains",
        json={"name": name, "contacts": {"owner": owner}},
        headers=team.headers,
    )
    assert response.status_code == 201, response.text


async def namecom_registrant(client: httpx.AsyncClient, team: Team, name: str) -> dict[str, Any]:
    response = await client.get(f"/core/v1/domains/{name}", auth=auth(team))
    assert response.status_code == 200, response.text
    registrant: dict[str, Any] = response.json()["contacts"]["registrant"]
    return registrant


async def native_domain(client: httpx.AsyncClient, team: Team, name: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/domains/{name}", headers=team.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def events(db: Database, team: Team, kind: str) -> list[OutboxEvent]:
    async with unit_of_work(db, write=False) as session:
        query = select(OutboxEvent).where(
            OutboxEvent.account_id == team.id, OutboxEvent.type == kind
        )
        return list(await session.scalars(query.order_by(OutboxEvent.id)))


async def confirm(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """What a person does: open the page, press its button."""
    page = await client.get(link)
    assert page.status_code == 200, page.text
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return await client.post(link, data={"csrf_token": csrf})


async def test_a_gtld_domain_in_each_dialect_mails_a_link_that_verifies_on_post_only(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    native_email, namecom_email = address("native"), address("namecom")
    owner = await create_contact(client, team, email=native_email)
    await add_domain(client, team, "first-e2e.com", owner["handle"])
    created = await client.post(
        "/core/v1/domains",
        json={
            "domain": {
                "domainName": "second-e2e.org",
                "contacts": {"registrant": namecom_contact(email=namecom_email)},
            }
        },
        auth=auth(team),
    )
    assert created.status_code == 200, created.text
    await drain(worker)

    assert [len(mailbox.to(native_email)), len(mailbox.to(namecom_email))] == [1, 1]
    mail = mailbox.to(native_email)[0]
    assert mail["From"] == "registrar@example.net"
    assert "first-e2e.com" in mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = link_in(mail)

    # A mail scanner follows the link: a page with a button, nothing verified.
    scanned = await client.get(link)
    assert scanned.status_code == 200
    assert '<form method="post">' in scanned.text
    assert (await namecom_registrant(client, team, "first-e2e.com"))["isVerified"] is False
    # A POST without the page's CSRF token verifies nothing either.
    forged = await client.post(link, data={"csrf_token": "forged"})
    assert forged.status_code == 403

    verified = await confirm(client, link)
    assert verified.status_code == 200, verified.text
    assert "is verified" in verified.text
    assert (await namecom_registrant(client, team, "first-e2e.com"))["isVerified"] is True
    assert (await namecom_registrant(client, team, "second-e2e.org"))["isVerified"] is False
    contact = (await client.get(f"/api/v1/contacts/{owner['handle']}", headers=team.headers)).json()
    assert contact["data"]["email_verified_at"] is not None

    used = await client.get(link)
    assert used.status_code == 410
    assert "text/html" in used.headers["content-type"]
    unknown = await client.get("/verify/" + secrets.token_urlsafe(32))
    assert unknown.status_code == 404
    assert "Unknown link" in unknown.text
    [event] = await events(db, team, "contact.verification.verified")
    assert event.payload["method"] == "link"
    assert event.payload["domains"] == ["first-e2e.com"]


async def test_cctld_and_a_second_domain_of_the_same_email_send_nothing(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox
) -> None:
    shared, cc_only = address("shared"), address("cc")
    owner = await create_contact(client, team, email=shared)
    await add_domain(client, team, "one-shared.com", owner["handle"])
    await add_domain(client, team, "two-shared.net", owner["handle"])
    other = await create_contact(client, team, email=cc_only)
    await add_domain(client, team, "only-cc.nl", other["handle"])
    await drain(worker)

    assert len(mailbox.to(shared)) == 1
    assert mailbox.to(cc_only) == []
    text = mailbox.to(shared)[0].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "one-shared.com" in text
    # The second domain joined the open verification: verifying covers both.
    assert (await confirm(client, link_in(mailbox.to(shared)[0]))).status_code == 200
    for name in ("one-shared.com", "two-shared.net"):
        assert (await namecom_registrant(client, team, name))["isVerified"] is True
    assert (await namecom_registrant(client, team, "only-cc.nl"))["isVerified"] is False


async def test_reminders_then_suspension_then_verifying_unsuspends_every_domain(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    late = address("late")
    start = datetime.now(UTC)
    with clock.use(FrozenClock(start)) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await create_contact(client, team, email=late)
        names = ["late-a.com", "late-b.org", "late-c.net"]
        for name in names:
            await add_domain(client, team, name, owner["handle"])
        await drain(worker)
        assert len(mailbox.to(late)) == 1
        for day, mails in ((5, 2), (10, 3), (13, 4)):
            frozen.at = start + day * DAY + timedelta(minutes=1)
            await drain(worker)
            assert len(mailbox.to(late)) == mails, day
            assert "Reminder" in mailbox.to(late)[-1]["Subject"]
        for name in names:
            assert (await native_domain(client, team, name))["status"] == "registered"

        frozen.at = start + 15 * DAY + timedelta(minutes=1)
        await drain(worker)
        for name in names:
            assert (await native_domain(client, team, name))["status"] == "suspended"
            namecom = (await client.get(f"/core/v1/domains/{name}", auth=auth(team))).json()
            assert namecom["locked"] is True
        suspended = await events(db, team, "domain.suspended")
        assert sorted(e.payload["domain"] for e in suspended) == names
        assert suspended[0].payload["registry_statuses"] == [
            "clientHold",
            "clientTransferProhibited",
        ]

        assert (await confirm(client, link_in(mailbox.to(late)[-1]))).status_code == 200
        for name in names:
            assert (await native_domain(client, team, name))["status"] == "registered"
        lifted = await events(db, team, "domain.unsuspended")
        assert sorted(e.payload["domain"] for e in lifted) == names
        assert len({e.txid for e in lifted}) == 1  # one transaction

    history = await client.get(
        f"/api/v1/contacts/{owner['handle']}/verification-history", headers=team.headers
    )
    assert history.status_code == 200, history.text
    entries = history.json()["data"]
    assert [(e["kind"], e["channel"]) for e in entries] == [
        ("sent", "mail"),
        *[("reminded", "mail")] * 3,
        *[("suspended", "worker")] * 3,
        *[("unsuspended", "link")] * 3,
        ("verified", "link"),
    ]
    assert [e["domain"] for e in entries if e["kind"] == "suspended"] == names


async def test_a_suspended_domain_given_a_verified_registrant_is_unsuspended_at_once(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    late, verified = address("late"), address("verified")
    await designated_agent(client, team.headers)  # the new owner applies at once
    with clock.use(FrozenClock(datetime.now(UTC))) as frozen:
        assert isinstance(frozen, FrozenClock)
        known = await create_contact(client, team, email=verified)
        await add_domain(client, team, "known-owner.com", known["handle"])
        await drain(worker)
        assert (await confirm(client, link_in(mailbox.to(verified)[0]))).status_code == 200
        owner = await create_contact(client, team, email=late)
        for name in ("stuck-a.com", "stuck-b.com"):
            await add_domain(client, team, name, owner["handle"])
        await drain(worker)
        frozen.advance(15 * DAY + timedelta(minutes=1))
        await drain(worker)
        assert (await native_domain(client, team, "stuck-a.com"))["status"] == "suspended"

        moved = await client.patch(
            "/api/v1/domains/stuck-a.com",
            json={"contacts": {"owner": known["handle"]}},
            headers=team.headers,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["data"]["status"] == "registered"
    # The other domain still has the unverified registrant: still suspended.
    assert (await native_domain(client, team, "stuck-b.com"))["status"] == "suspended"
    lifted = await events(db, team, "domain.unsuspended")
    assert [e.payload["domain"] for e in lifted] == ["stuck-a.com"]
    history = await client.get(
        f"/api/v1/contacts/{owner['handle']}/verification-history", headers=team.headers
    )
    entries = history.json()["data"]
    assert ("unsuspended", "native", "stuck-a.com") in [
        (e["kind"], e["channel"], e["domain"]) for e in entries
    ]
    # The verification of the late address is still open for the domain it still concerns.
    assert len(mailbox.to(late)) == 1


async def test_a_worker_down_past_the_deadline_suspends_without_late_reminders(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox
) -> None:
    away = address("away")
    with clock.use(FrozenClock(datetime.now(UTC))) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await create_contact(client, team, email=away)
        await add_domain(client, team, "catch-up.com", owner["handle"])
        await drain(worker)
        frozen.advance(20 * DAY)  # the worker was down for all of it
        await drain(worker)
    assert len(mailbox.to(away)) == 1  # no late reminders
    assert (await native_domain(client, team, "catch-up.com"))["status"] == "suspended"


async def test_changing_the_registrants_email_starts_a_new_verification(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    before, after = address("before"), address("after")
    await designated_agent(client, team.headers)  # the edit applies at once (cor-2024)
    owner = await create_contact(client, team, email=before)
    await add_domain(client, team, "moving-mail.com", owner["handle"])
    await drain(worker)
    assert (await confirm(client, link_in(mailbox.to(before)[0]))).status_code == 200

    changed = await client.patch(
        f"/api/v1/contacts/{owner['handle']}", json={"email": after}, headers=team.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["email_verified_at"] is None
    await drain(worker)
    # The verification's, beside the change of registrant's notice.
    assert len([m for m in mailbox.to(after) if "verify" in m["Subject"]]) == 1
    started = await events(db, team, "contact.verification.started")
    assert [e.payload["reason"] for e in started] == ["new_registration", "email_change"]
    assert (await namecom_registrant(client, team, "moving-mail.com"))["isVerified"] is False


async def test_a_temporary_refusal_is_retried_and_the_mail_arrives_once(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox
) -> None:
    greylisted = address("greylisted")
    mailbox.refusals[greylisted] = ["451 4.7.1 Greylisted, try again later"]
    with clock.use(FrozenClock(datetime.now(UTC))) as frozen:
        assert isinstance(frozen, FrozenClock)
        owner = await create_contact(client, team, email=greylisted)
        await add_domain(client, team, "greylisted.com", owner["handle"])
        await drain(worker)
        assert mailbox.to(greylisted) == []
        frozen.advance(timedelta(minutes=2))  # past the first backoff (30 s +- 25%)
        await drain(worker)
        frozen.advance(timedelta(hours=1))
        await drain(worker)
    assert len(mailbox.to(greylisted)) == 1


async def test_a_permanent_refusal_records_the_bounce(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, db: Database
) -> None:
    unknown = address("nobody")
    mailbox.refusals[unknown] = ["550 5.1.1 No such mailbox"]
    owner = await create_contact(client, team, email=unknown)
    await add_domain(client, team, "bounced.com", owner["handle"])
    await drain(worker)
    assert mailbox.to(unknown) == []
    async with unit_of_work(db, write=False) as session:
        verification = await session.scalar(
            select(Verification).where(Verification.account_id == team.id)
        )
        assert verification is not None
        mail_states = list(
            await session.scalars(
                select(VerificationMail.state).where(
                    VerificationMail.verification_id == verification.id
                )
            )
        )
    assert verification.bounce_reason is not None
    assert verification.bounce_reason.startswith("550")
    assert mail_states == [MailState.BOUNCED]
    [bounced] = await events(db, team, "contact.verification.bounced")
    assert bounced.payload["bounce_reason"].startswith("550")
