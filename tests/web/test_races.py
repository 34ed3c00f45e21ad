"""The web UI's form writes raced against a live server (both databases; PostgreSQL is the one
with real concurrency): concurrent submissions end in a consistent store, never in a 500."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from nichandle.accounts.models import User, WebSession
from nichandle.contacts.models import Contact
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.domains.models import Domain, DomainContact
from nichandle.history.models import ContactVersion
from nichandle.verification.models import MailKind, Verification, VerificationMail
from tests.conftest import contact_payload
from tests.test_live_server import LiveServer, module_database, module_server
from tests.web.helpers import (
    FIRST_USER,
    PASSWORD,
    csrf_of,
    first_credentials,
    sign_in,
    sign_in_first_user,
)

server = module_server("web-races")
db = module_database()

CONCURRENCY = 8


@pytest.fixture(scope="module")
async def browser_session(server: LiveServer) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client signed in as the first user, and its CSRF token."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        yield http, await sign_in_first_user(http, server)


def api(server: LiveServer) -> httpx.AsyncClient:
    token, _password = first_credentials(server)
    return httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def assert_no_server_error(responses: list[httpx.Response], *allowed: int) -> None:
    for response in responses:
        assert response.status_code < 500, response.text
        assert response.status_code in allowed, (response.status_code, response.text[:2000])


async def test_identical_creates_from_the_form_make_one_contact(
    browser_session: tuple[httpx.AsyncClient, str], db: Database
) -> None:
    http, csrf = browser_session
    data = {"csrf_token": csrf, **contact_payload(email="racing@example.com", phone="020 1234567")}
    responses = await asyncio.gather(
        *(http.post("/ui/contacts/new", data=data) for _ in range(CONCURRENCY))
    )
    # The winner redirects to its page; the others are offered it (the duplicate rule).
    assert_no_server_error(responses, 200, 303)
    assert sum(r.status_code == 303 for r in responses) == 1
    async with unit_of_work(db, write=False) as session:
        count = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.email == "racing@example.com")
        )
    assert count == 1


async def test_racing_edits_are_each_recorded_and_the_last_one_stays(
    browser_session: tuple[httpx.AsyncClient, str], server: LiveServer, db: Database
) -> None:
    http, csrf = browser_session
    async with api(server) as client:
        created = await client.post("/api/v1/contacts", json=contact_payload(email="e@example.com"))
    handle = created.json()["data"]["handle"]
    cities = [f"City {n}" for n in range(CONCURRENCY)]
    base = {"csrf_token": csrf, **contact_payload(email="e@example.com")}
    responses = await asyncio.gather(
        *(
            http.post(f"/ui/contacts/{handle}/edit", data={**base, "address_city": city})
            for city in cities
        )
    )
    assert_no_server_error(responses, 303, 409)
    saved = sum(r.status_code == 303 for r in responses)
    async with unit_of_work(db, write=False) as session:
        contact = await session.scalar(select(Contact).where(Contact.handle == handle))
        versions = (
            await session.scalars(
                select(ContactVersion)
                .where(ContactVersion.handle == handle, ContactVersion.action == "update")
                .order_by(ContactVersion.id)
            )
        ).all()
    assert contact is not None
    assert contact.address_city in cities
    # Every saved edit has its version, each starting where the one before ended: no edit lost.
    assert len(versions) == saved
    for earlier, later in itertools.pairwise(versions):
        assert earlier.after == later.before
    assert versions[-1].after is not None
    assert versions[-1].after["address_city"] == contact.address_city


async def test_delete_racing_role_assignments_never_leaves_a_role_without_its_contact(
    browser_session: tuple[httpx.AsyncClient, str], server: LiveServer, db: Database
) -> None:
    http, csrf = browser_session
    async with api(server) as client:
        made = await client.post(
            "/api/v1/contacts", json=contact_payload(email="contested@example.com")
        )
        handle = made.json()["data"]["handle"]
        names = [f"race{n}-web.com" for n in range(CONCURRENCY)]
        for name in names:
            added = await client.post("/api/v1/domains", json={"name": name})
            assert added.status_code == 201, added.text
    assigns = [
        http.post(
            f"/ui/domains/{name}/roles",
            data={"csrf_token": csrf, "role": "admin", "handle": handle},
        )
        for name in names
    ]
    deletes = [
        http.post(f"/ui/contacts/{handle}/delete", data={"csrf_token": csrf})
        for _ in range(CONCURRENCY // 2)
    ]
    responses = await asyncio.gather(*assigns, *deletes)
    assert_no_server_error(responses[: len(assigns)], 303, 409, 422)
    assert_no_server_error(responses[len(assigns) :], 303, 404, 409)
    deleted = sum(r.status_code == 303 for r in responses[len(assigns) :])
    assert deleted <= 1
    async with unit_of_work(db, write=False) as session:
        alive = await session.scalar(select(Contact.id).where(Contact.handle == handle))
        assigned = await session.scalar(
            select(func.count()).select_from(DomainContact).where(DomainContact.contact_id == alive)
        )
    if deleted:
        assert alive is None
        assert all(
            re.search(r"not found", r.text)
            for r in responses[: len(assigns)]
            if r.status_code == 422
        )
    else:
        assert alive is not None
        assert assigned == sum(r.status_code == 303 for r in responses[: len(assigns)])
        assert assigned >= 1


async def test_racing_resends_of_a_verification_mail_queue_one(
    browser_session: tuple[httpx.AsyncClient, str], server: LiveServer, db: Database
) -> None:
    http, csrf = browser_session
    async with api(server) as client:
        created = await client.post("/api/v1/contacts", json=contact_payload(email="v@example.com"))
        handle = created.json()["data"]["handle"]
        domain = await client.post(
            "/api/v1/domains", json={"name": "racing-resend.com", "contacts": {"owner": handle}}
        )
        assert domain.status_code == 201, domain.text
    async with unit_of_work(db) as session:
        # Its mail went out long ago: one resend is due, and only one.
        await session.execute(
            update(Verification)
            .where(Verification.email_normalized == "v@example.com")
            .values(created_at=datetime.now(UTC) - timedelta(days=1), last_mail_at=None)
        )
    responses = await asyncio.gather(
        *(
            http.post(f"/ui/contacts/{handle}/verification/resend", data={"csrf_token": csrf})
            for _ in range(CONCURRENCY)
        )
    )
    assert_no_server_error(responses, 303, 429)
    assert sum(r.status_code == 303 for r in responses) == 1
    async with unit_of_work(db, write=False) as session:
        resends = await session.scalar(
            select(func.count())
            .select_from(VerificationMail)
            .join(Verification, Verification.id == VerificationMail.verification_id)
            .where(
                Verification.email_normalized == "v@example.com",
                VerificationMail.kind == MailKind.RESEND,
            )
        )
    assert resends == 1


async def test_concurrent_sign_ins_of_one_user_each_get_a_live_session(
    browser_session: tuple[httpx.AsyncClient, str], server: LiveServer, db: Database
) -> None:
    """Each sign-in also deletes the user's ended sessions: racing ones delete the same rows.
    (``browser_session``: the first user has chosen PASSWORD.)"""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as first:
        csrf = await sign_in(first, FIRST_USER)
        assert (await first.post("/ui/sign-out", data={"csrf_token": csrf})).status_code == 303
    browsers = [httpx.AsyncClient(base_url=server.base_url, timeout=60) for _ in range(CONCURRENCY)]
    try:
        forms = await asyncio.gather(*(b.get("/ui/sign-in") for b in browsers))
        signed = await asyncio.gather(
            *(
                b.post(
                    "/ui/sign-in",
                    data={"csrf_token": csrf_of(f.text), "email": FIRST_USER, "password": PASSWORD},
                )
                for b, f in zip(browsers, forms, strict=True)
            )
        )
        assert_no_server_error(signed, 303)
        pages = await asyncio.gather(*(b.get("/ui/contacts") for b in browsers))
        assert_no_server_error(pages, 200)
    finally:
        for browser in browsers:
            await browser.aclose()
    async with unit_of_work(db, write=False) as session:
        revoked = await session.scalar(
            select(func.count())
            .select_from(WebSession)
            .join(User)
            .where(User.email == FIRST_USER, WebSession.revoked_at.is_not(None))
        )
    assert revoked == 0


async def test_racing_opt_out_toggles_end_in_one_recorded_state(
    browser_session: tuple[httpx.AsyncClient, str], server: LiveServer, db: Database
) -> None:
    http, csrf = browser_session
    async with api(server) as client:
        created = await client.post("/api/v1/domains", json={"name": "racing-opt-out.com"})
        assert created.status_code == 201, created.text
    action = "/ui/domains/racing-opt-out.com/transfer-lock-opt-out"
    forms = [
        {"csrf_token": csrf, **({"opt_out": "on"} if n % 2 else {})} for n in range(CONCURRENCY)
    ]
    responses = await asyncio.gather(*(http.post(action, data=form) for form in forms))
    assert_no_server_error(responses, 303)
    async with unit_of_work(db, write=False) as session:
        domain = await session.scalar(select(Domain).where(Domain.name == "racing-opt-out.com"))
    assert domain is not None
    # Whichever came last, its time and author came with it.
    if domain.transfer_lock_opt_out or domain.transfer_lock_opt_out_at is not None:
        assert domain.transfer_lock_opt_out_at is not None
        assert domain.transfer_lock_opt_out_by is not None
