"""Helpers the webhook tests share (plain functions, no fixtures)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from nichandle.app import create_app
from nichandle.settings import Settings

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
