"""The worker against a real receiver: signed deliveries of the native event, retries with
backoff until the window ends, revival, the 3-day deactivation, targets checked at delivery,
leases taken over, and the Redis Stream."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import httpx
import pytest
import redis.asyncio as redis
import standardwebhooks
from sqlalchemy import select

from nichandle import clock
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.dialects.native.events import EventRead
from nichandle.errors import Conflict
from nichandle.events import catalogue
from nichandle.events.models import Delivery, DeliveryState, OutboxEvent
from nichandle.settings import Settings
from nichandle.webhooks.models import Webhook, WebhookDialect
from nichandle.worker import deliveries, outbox
from nichandle.worker.deliveries import NOT_SENT, RETRY_WINDOW, Outcome
from nichandle.worker.dispatch import UNRENDERABLE
from nichandle.worker.loop import Worker
from nichandle.worker.send import USER_AGENT, Sender
from tests.conftest import Team, create_contact
from tests.worker.conftest import MakeWebhook, deliveries_of, drain, events_of
from tests.worker.receiver import Receiver

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_delivery_is_the_native_event_signed_by_standard_webhooks(
    client: httpx.AsyncClient,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    # By name: the worker connects to the address it checked, and the receiver still sees its
    # own host in the Host header.
    webhook = await make_webhook(team, receiver.url(host="localhost"))
    contact = await create_contact(client, team, email="signed@example.com")
    await drain(worker)

    (event,) = await events_of(db, team)
    (received,) = receiver.requests
    assert received.event_id == event.uuid
    assert received.headers["host"] == f"localhost:{receiver.port}"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == USER_AGENT
    assert json.loads(received.body) == EventRead.of(event).model_dump(mode="json")
    assert json.loads(received.body)["resource"]["id"] == contact["handle"]

    verifier = standardwebhooks.Webhook(webhook.secret)
    assert verifier.verify(received.body, received.headers)["id"] == event.uuid
    tampered = received.body.replace(b"signed@example.com", b"forged@example.com")
    assert tampered != received.body
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verifier.verify(tampered, received.headers)

    (delivery,) = await deliveries_of(db, webhook)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    assert delivery.body.encode() == received.body
    assert delivery.lease_until is None


async def test_failures_back_off_for_a_day_then_fail_and_retry_revives(
    client: httpx.AsyncClient,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    receiver.status = 500
    webhook = await make_webhook(team, receiver.url())
    with clock.use(clock.FrozenClock(clock.now())) as frozen:
        assert isinstance(frozen, clock.FrozenClock)
        await create_contact(client, team, email="backoff@example.com")
        waits: list[timedelta] = []
        while True:
            await drain(worker)
            (delivery,) = await deliveries_of(db, webhook)
            if delivery.state != DeliveryState.PENDING:
                break
            assert delivery.last_status == 500
            assert delivery.last_error == "answered HTTP 500"
            waits.append(delivery.next_attempt_at - frozen.now())
            frozen.advance(waits[-1])
        assert delivery.state == DeliveryState.FAILED
        assert delivery.attempts == len(receiver.requests) == len(waits) + 1
        assert delivery.first_attempt_at is not None
        assert delivery.last_attempt_at is not None
        assert delivery.last_attempt_at - delivery.first_attempt_at >= RETRY_WINDOW
        # 30 s doubling (+-25%) up to 4 h: each wait longer than the one before until the cap.
        assert timedelta(seconds=22) <= waits[0] <= timedelta(seconds=38)
        growing = [w for w in waits if w < timedelta(hours=3)]
        assert growing == sorted(growing)
        assert len(growing) >= 8
        assert max(waits) <= timedelta(hours=5)
        # Every attempt carried the same message, the event's UUID its idempotency key.
        assert len({(r.event_id, r.body) for r in receiver.requests}) == 1

        # Failed stays failed: no more attempts, however long we wait.
        frozen.advance(timedelta(days=1))
        await drain(worker)
        assert len(receiver.requests) == delivery.attempts

        async with unit_of_work(db) as session:
            assert await outbox.retry(session, delivery.id) == 1
        receiver.status = 204
        await drain(worker)
        (revived,) = await deliveries_of(db, webhook)
        assert (revived.state, revived.attempts, revived.last_status) == ("delivered", 1, 204)
        async with unit_of_work(db, write=False) as session:
            healed = await session.get(Webhook, webhook.id)
            assert healed is not None
            assert healed.failing_since is None
            assert healed.is_active


async def test_webhook_failing_for_three_days_is_deactivated_with_an_event(
    client: httpx.AsyncClient,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    receiver.status = 503
    webhook = await make_webhook(team, receiver.url())
    start = clock.now()
    with clock.use(clock.FrozenClock(start)) as frozen:
        assert isinstance(frozen, clock.FrozenClock)
        # A new change each day: its delivery fails too, and the webhook has been failing
        # since the first one.
        for day in range(4):
            await create_contact(client, team, email=f"day{day}@example.com")
            await drain(worker)
            async with unit_of_work(db, write=False) as session:
                current = await session.get(Webhook, webhook.id)
            assert current is not None
            assert current.failing_since == start
            if day < 3:
                assert current.is_active
                assert not await events_of(db, team, "webhook.deactivated")
            frozen.advance(timedelta(days=1))
        assert not current.is_active
        assert current.deactivated_at == start + timedelta(days=3)

        (event,) = await events_of(db, team, "webhook.deactivated")
        assert event.payload == {
            "webhook_id": webhook.id,
            "url": webhook.url,
            "failing_since": catalogue.timestamp(start),
        }
        assert event.actor == {"kind": "system", "dialect": "system"}
        # Its deliveries stop: those waiting are failed, and new events make none.
        assert {d.state for d in await deliveries_of(db, webhook)} == {DeliveryState.FAILED}
        await create_contact(client, team, email="after@example.com")
        sent = len(receiver.requests)
        frozen.advance(timedelta(days=1))
        await drain(worker)
        assert len(receiver.requests) == sent
        assert len(await deliveries_of(db, webhook)) == 4


async def test_private_target_is_refused_at_delivery(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
) -> None:
    webhook = await make_webhook(team, receiver.url())
    await create_contact(client, team, email="private@example.com")
    strict = settings.model_copy(update={"webhooks_allow_private": False})
    async with Sender(strict) as sender:
        await drain(Worker(db, strict, sender))
    assert receiver.requests == []
    (delivery,) = await deliveries_of(db, webhook)
    assert delivery.state == DeliveryState.PENDING
    assert delivery.attempts == 1
    assert delivery.last_error is not None
    assert "resolves to 127.0.0.1" in delivery.last_error
    assert delivery.last_status is None


async def test_claim_whose_lease_ran_out_goes_to_another_worker(
    client: httpx.AsyncClient,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    webhook = await make_webhook(team, receiver.url())
    with clock.use(clock.FrozenClock(clock.now())) as frozen:
        assert isinstance(frozen, clock.FrozenClock)
        await create_contact(client, team, email="lease@example.com")
        await worker.dispatch()
        # A first worker claims and then goes quiet (stuck, or killed) past its lease.
        async with unit_of_work(db) as session:
            (stuck,) = await deliveries.claim(session, limit=10, lease=timedelta(seconds=60))
        frozen.advance(timedelta(seconds=59))
        assert await worker.deliver() == 0  # still leased
        frozen.advance(timedelta(seconds=2))
        assert await worker.deliver() == 1
        assert len(receiver.requests) == 1
        # The first worker's late result no longer counts.
        async with unit_of_work(db) as session:
            assert await deliveries.record(session, [(stuck, Outcome("late failure"))]) == 0
        (delivery,) = await deliveries_of(db, webhook)
        assert (delivery.state, delivery.attempts, delivery.last_error) == ("delivered", 2, None)


async def test_events_are_appended_to_the_redis_stream(
    client: httpx.AsyncClient, db: Database, settings: Settings, team: Team
) -> None:
    stream = f"nichandle-test:{secrets.token_hex(6)}"
    streaming = settings.model_copy(update={"events_redis_url": REDIS_URL, "events_stream": stream})
    connection = redis.from_url(REDIS_URL)
    try:
        first = await create_contact(client, team, email="stream1@example.com")
        await create_contact(client, team, email="stream2@example.com")
        async with Sender(streaming) as sender:
            await drain(Worker(db, streaming, sender))
        entries = await connection.xrange(stream)
        events = await events_of(db, team)
        assert [fields[b"id"].decode() for _, fields in entries] == [e.uuid for e in events]
        _, fields = entries[0]
        assert fields[b"type"] == b"contact.created"
        assert fields[b"account_id"] == str(team.id).encode()
        body = json.loads(fields[b"event"])
        assert body == EventRead.of(events[0]).model_dump(mode="json")
        assert body["resource"]["id"] == first["handle"]
        async with unit_of_work(db, write=False) as session:
            states = list(
                await session.scalars(
                    select(Delivery.state).where(
                        Delivery.event_id.in_([e.id for e in events]), Delivery.channel == "stream"
                    )
                )
            )
        assert states == [DeliveryState.DELIVERED] * 2
    finally:
        await connection.delete(stream)
        await connection.aclose()


async def test_claims_left_unsent_when_the_lease_runs_short_go_back_unattempted(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    webhook = await make_webhook(team, receiver.url())
    await create_contact(client, team, email="unsent@example.com")
    await worker.dispatch()
    async with unit_of_work(db) as session:
        claims = await deliveries.claim(session, limit=10, lease=timedelta(seconds=60))
    async with Sender(settings) as sender:
        outcomes = await sender.send(claims, within=0)
    assert outcomes == [NOT_SENT]
    async with unit_of_work(db) as session:
        await deliveries.record(session, list(zip(claims, outcomes, strict=True)))
    assert receiver.requests == []
    (delivery,) = await deliveries_of(db, webhook)
    assert (delivery.state, delivery.attempts, delivery.lease_until) == ("pending", 0, None)
    assert await worker.deliver() == 1  # due at once, no backoff
    (delivery,) = await deliveries_of(db, webhook)
    assert (delivery.state, delivery.attempts) == ("delivered", 1)


async def test_each_webhook_gets_its_own_dialects_body(
    client: httpx.AsyncClient,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    await make_webhook(team, receiver.url(path="/native"))
    await make_webhook(team, receiver.url(path="/dnsimple"), dialect=WebhookDialect.DNSIMPLE)
    # name.com notifies of lock changes only: a new contact is nothing to it.
    namecom = await make_webhook(
        team, receiver.url(path="/namecom"), dialect=WebhookDialect.NAMECOM
    )
    await create_contact(client, team, email="dialects@example.com")
    await drain(worker)
    bodies = {r.path: json.loads(r.body) for r in receiver.requests}
    assert set(bodies) == {"/native", "/dnsimple"}
    assert bodies["/native"]["type"] == "contact.created"
    assert bodies["/dnsimple"]["name"] == "contact.create"
    assert await deliveries_of(db, namecom) == []


async def test_an_event_no_body_can_be_made_for_fails_its_delivery_not_the_outbox(
    client: httpx.AsyncClient,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    webhook = await make_webhook(team, receiver.url(), dialect=WebhookDialect.DNSIMPLE)
    # A domain event without its settings (a malformed payload): DNSimple's body needs them.
    async with unit_of_work(db) as session:
        broken = OutboxEvent(
            account_id=team.id,
            type="domain.created",
            resource_type="domain",
            resource_id="broken.example",
            payload={"domain": "broken.example", "domain_id": 1, "status": "registered"},
            actor_dialect="system",
        )
        session.add(broken)
    await create_contact(client, team, email="after-broken@example.com")
    await drain(worker)
    # The event after it went out; the broken one's delivery failed at once, on show.
    assert [json.loads(r.body)["name"] for r in receiver.requests] == ["contact.create"]
    failed, sent = await deliveries_of(db, webhook)
    assert (failed.event_id, failed.state, failed.body) == (broken.id, DeliveryState.FAILED, "")
    assert failed.last_error == UNRENDERABLE
    assert sent.state == DeliveryState.DELIVERED
    # Nothing to send: a retry refuses it by id, and --all-failed passes it by.
    async with unit_of_work(db) as session:
        with pytest.raises(Conflict, match="no body"):
            await outbox.retry(session, failed.id)
        await outbox.retry(session, None)
    (still_failed, _sent) = await deliveries_of(db, webhook)
    assert still_failed.state == DeliveryState.FAILED


async def test_a_webhook_test_goes_to_its_webhook_alone(
    client: httpx.AsyncClient,
    db: Database,
    team: Team,
    receiver: Receiver,
    make_webhook: MakeWebhook,
    worker: Worker,
) -> None:
    tested = await make_webhook(team, receiver.url(path="/tested"))
    bystander = await make_webhook(team, receiver.url(path="/bystander"))
    response = await client.post(f"/api/v1/webhooks/{tested.id}/test", headers=team.headers)
    assert response.status_code == 202, response.text
    await drain(worker)  # dispatch passes the event by: its one delivery was made with it
    assert [(r.path, json.loads(r.body)["type"]) for r in receiver.requests] == [
        ("/tested", "webhook.test")
    ]
    assert await deliveries_of(db, bystander) == []
