"""name.com under cor-2024 (docs/registrant-change.md): setContacts that changes a gTLD's
registrant answers the domain with its prior registrant until both parties confirm; GetDomain
then shows ``locked: true`` for the 60 days, and domain.lock.status_change tells a subscriber
when that lock comes on and when it comes off. Real SMTP, a real webhook receiver, the worker
drained, time moved by the clock."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from nichandle import clock
from nichandle.clock import FrozenClock
from nichandle.settings import Settings
from nichandle.worker.loop import Worker
from tests.conftest import Team
from tests.dialects.namecom.helpers import (
    ROLES,
    add_default_contact,
    auth,
    create_domain,
    get_domain,
    namecom_contact,
    set_contacts_url,
)
from tests.registrant_changes.conftest import Mailbox, change_link, drain
from tests.registrant_changes.conftest import app as app
from tests.registrant_changes.conftest import client as client
from tests.registrant_changes.conftest import db as db
from tests.registrant_changes.conftest import mailbox as mailbox
from tests.registrant_changes.conftest import team as team
from tests.registrant_changes.conftest import verify_database as verify_database
from tests.registrant_changes.conftest import worker as worker
from tests.verification.test_end_to_end import confirm
from tests.worker.receiver import Receiver, receiving

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def settings(verify_database: Any, mailbox: Mailbox) -> Settings:
    """The registrant-change world's settings, webhooks allowed to the local receiver."""
    return Settings(
        database_url=verify_database.url,
        smtp_url=SecretStr(f"smtp://127.0.0.1:{mailbox.port}"),
        mail_from="registrar@example.net",
        public_url="http://testserver",
        webhooks_allow_private=True,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as running:
        yield running


def address(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.com"


def confirmation_to(mailbox: Mailbox, email: str) -> str:
    """The change-of-registrant link mailed to ``email`` (it may have had other mail too)."""
    [mail] = [m for m in mailbox.to(email) if "/registrant-change/" in str(m.get_body())]
    return change_link(mail)


def lock_bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.requests]


async def test_a_new_registrant_waits_for_both_then_get_domain_shows_the_lock_for_60_days(
    client: httpx.AsyncClient, team: Team, worker: Worker, mailbox: Mailbox, receiver: Receiver
) -> None:
    name = f"cor-{secrets.token_hex(3)}.com"
    subscribed = await client.post(
        "/core/v1/notifications",
        json={"eventName": "domain.lock.status_change", "url": receiver.url(), "active": True},
        auth=auth(team),
    )
    assert subscribed.status_code == 201, subscribed.text
    start = datetime.now(UTC)
    with clock.use(FrozenClock(start)) as frozen:
        assert isinstance(frozen, FrozenClock)
        prior = await add_default_contact(client, team, email=address("prior"))
        await create_domain(client, team, name)
        await drain(worker)  # the new domain's registrant verification, not ours

        new_email = address("new")
        people = {role: namecom_contact(firstName=role.title()) for role in ROLES}
        people["registrant"] = namecom_contact(firstName="Newowner", email=new_email)
        answer = await client.post(
            set_contacts_url(name), json={"contacts": people}, auth=auth(team)
        )
        # The domain as it is: the prior registrant stays, the other roles change at once.
        assert answer.status_code == 200, answer.text
        domain = answer.json()
        assert domain["contacts"]["registrant"]["email"] == prior["email"]
        assert domain["contacts"]["admin"] == {**people["admin"], "isVerified": False}
        assert domain["locked"] is False
        assert await get_domain(client, team, name) == domain

        await drain(worker)
        first = await confirm(client, confirmation_to(mailbox, prior["email"]))
        assert first.status_code == 200, first.text
        assert (await get_domain(client, team, name))["locked"] is False
        frozen.advance(timedelta(hours=1))
        second = await confirm(client, confirmation_to(mailbox, new_email))
        assert second.status_code == 200, second.text
        applied_at = frozen.at

        domain = await get_domain(client, team, name)
        assert domain["contacts"]["registrant"]["email"] == new_email
        assert domain["locked"] is True
        await drain(worker)
        assert lock_bodies(receiver) == [
            {
                "eventName": "domain.lock.status_change",
                "domainName": name,
                "action": "added",
                "lockType": "TransferLock",
                "registryStatuses": ["clientTransferProhibited"],
            }
        ]

        # The last second of the 60 days is still locked; the lock ends on its day.
        frozen.at = applied_at + 60 * DAY - timedelta(seconds=1)
        assert (await get_domain(client, team, name))["locked"] is True
        await drain(worker)
        assert len(receiver.requests) == 1
        frozen.at = applied_at + 60 * DAY
        assert (await get_domain(client, team, name))["locked"] is False
        await drain(worker)
        assert lock_bodies(receiver)[1:] == [
            {
                "eventName": "domain.lock.status_change",
                "domainName": name,
                "action": "removed",
                "lockType": "TransferLock",
                "registryStatuses": ["ok"],
            }
        ]
