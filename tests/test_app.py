"""The application shell: health, API documentation."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx

from nichandle.app import create_app
from nichandle.settings import Settings


async def test_healthz_answers_200_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_answers_503_when_the_database_does_not(tmp_path: Path) -> None:
    unreachable = tmp_path / "missing-directory" / "nichandle.db"
    app = create_app(Settings(database_url=f"sqlite:///{unreachable}"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/healthz")
    await app.state.db.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v1/contacts" in paths
    assert "/api/v1/contacts/{handle}" in paths
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_start_up_freezes_what_it_made_out_of_the_collectors_way(tmp_path: Path) -> None:
    gc.unfreeze()
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'nichandle.db'}"))
    try:
        assert gc.get_freeze_count() == 0
        async with app.router.lifespan_context(app):
            # The app, its routes and schemas are among the frozen objects.
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
