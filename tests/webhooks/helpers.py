"""Helpers the webhook tests share (plain functions, no fixtures)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from nichandle.accounts.models import Account
from nichandle.app import create_app
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.events.models import OutboxEvent
from nichandle.settings import Settings
from nichandle.webhooks.models import Webhook
from tests.conftest import Team, contact_payload

# RFC 6761: .invalid never resolves, so the URL passes the creation check whether or not
# private targets are allowed (a host that does not resolve yet is accepted; each delivery
# checks again), and no test depends on the network.
RECEIVER = "https://receiver.invalid/hooks"
PRIVATE = "http://127.0.0.1:9/hooks"
LINK_LOCAL = "http://169.254.169.254/latest/meta-data"


def key_sets(value: Any) -> Any:
    """A JSON value's keys, recursively (objects -> {key: keys of the value}); not values."""
    if isinstance(value, dict):
        return {key: key_sets(item) for key, item in value.items()}
    return None


@asynccontextmanager
async def client_with(app: FastAPI, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of another app on the session app's (migrated) database, whose settings
    differ by ``overrides`` (webhooks_allow_private, say)."""
    settings: Settings = app.state.settings
    other = create_app(settings.model_copy(update=overrides))
    try:
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await other.state.db.dispose()


async def events_of(db: Database, account_id: int) -> list[OutboxEvent]:
    async with unit_of_work(db, write=False) as session:
        query = (
            select(OutboxEvent).where(OutboxEvent.account_id == account_id).order_by(OutboxEvent.id)
        )
        return list(await session.scalars(query))


async def webhook_and_account(db: Database, webhook_id: int) -> tuple[Webhook, Account]:
    async with unit_of_work(db, write=False) as session:
        webhook = await session.get(Webhook, webhook_id)
        assert webhook is not None
        account = await session.get(Account, webhook.account_id)
        assert account is not None
        return webhook, account


async def make_every_kind_of_change(
    client: httpx.AsyncClient, team: Team, request_id: str
) -> dict[str, Any]:
    """Through the native API, each with ``request_id``: two contacts created (the first the
    default), the second updated and deleted, a domain added, locked, unlocked and deleted."""
    headers = {**team.headers, "X-Request-Id": request_id}

    async def call(method: str, url: str, status: int, **body: Any) -> dict[str, Any]:
        response = await client.request(method, url, json=body or None, headers=headers)
        assert response.status_code == status, response.text
        return response.json() if response.content else {}

    await call("POST", "/api/v1/contacts", 201, **contact_payload())
    second = (
        await call("POST", "/api/v1/contacts", 201, **contact_payload(email="b@example.com"))
    )["data"]
    await call("PATCH", f"/api/v1/contacts/{second['handle']}", 200, label="Renamed")
    await call("POST", "/api/v1/domains", 201, name="bücher.example")
    domain = "xn--bcher-kva.example"
    await call("PATCH", f"/api/v1/domains/{domain}", 200, locked=True)
    await call("PATCH", f"/api/v1/domains/{domain}", 200, locked=False)
    await call("DELETE", f"/api/v1/domains/{domain}", 204)
    await call("DELETE", f"/api/v1/contacts/{second['handle']}", 204)
    return second
