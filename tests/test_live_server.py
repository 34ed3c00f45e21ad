"""A real `nichandle serve` process under concurrent load, on a fresh database per backend."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from nichandle.db.engine import Database, create_database
from nichandle.settings import Settings
from tests.conftest import contact_payload
from tests.fresh_database import BACKENDS, fresh_database

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

NICHANDLE = Path(sys.executable).parent / "nichandle"
STARTUP_TIMEOUT = 30
TEST_TIMEOUT = 90
LOCKED = "database is locked"


@dataclass
class LiveServer:
    base_url: str
    database_url: str
    stdout: Path
    stderr: Path
    pid: int = 0  # of `nichandle serve`, once started

    def logs(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until_healthy(base_url: str, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(STARTUP_TIMEOUT), httpx.AsyncClient(base_url=base_url) as http:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"nichandle serve exited with {process.returncode}")
            try:
                if (await http.get("/healthz", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(10):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


@pytest.fixture(params=BACKENDS)
async def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    async with fresh_database(request.param, tmp_path) as database:
        yield database


@asynccontextmanager
async def running_server(
    database_url: str, directory: Path, **env: str | None
) -> AsyncIterator[LiveServer]:
    """`nichandle serve` on a free port over ``database_url``, healthy, stopped afterwards;
    ``env`` sets (or, with None, removes) environment variables of the server."""
    port = free_port()
    server = LiveServer(
        f"http://127.0.0.1:{port}", database_url, directory / "stdout.log", directory / "stderr.log"
    )
    environment = {**os.environ, "NICHANDLE_DATABASE_URL": database_url}
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    with server.stdout.open("wb") as out, server.stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            str(NICHANDLE),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    server.pid = process.pid
    try:
        try:
            await wait_until_healthy(server.base_url, process)
        except (TimeoutError, RuntimeError) as exc:
            pytest.fail(f"nichandle serve did not become healthy ({exc!r}):\n{server.logs()}")
        yield server
    finally:
        await stop(process)


@pytest.fixture
async def live_server(fresh_db: TestDatabase, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with running_server(fresh_db.url, tmp_path) as server:
        yield server


def module_server(name: str) -> Any:
    """A ``server`` fixture for a module of race tests: one live server per backend shared by
    the module's tests, its logs checked for tracebacks and 500s at the end.
    ``server = module_server("races")``."""

    @pytest.fixture(scope="module", params=BACKENDS)
    async def server(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[LiveServer]:
        directory = tmp_path_factory.mktemp(f"{name}-{request.param}")
        async with (
            fresh_database(request.param, directory) as database,
            running_server(database.url, directory) as live,
        ):
            yield live
            logs = live.logs()
            assert "Traceback" not in logs, logs[-4000:]
            assert '" 500' not in logs

    return server


def module_database() -> Any:
    """A ``db`` fixture: the database of the module's ``server``, for checking invariants."""

    @pytest.fixture(scope="module")
    async def db(server: LiveServer) -> AsyncIterator[Database]:
        database = create_database(Settings(database_url=server.database_url))
        yield database
        await database.dispose()

    return db


async def cli_json(database_url: str, *args: str) -> Any:
    env = {**os.environ, "NICHANDLE_DATABASE_URL": database_url}
    process = await asyncio.create_subprocess_exec(
        str(NICHANDLE),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode()
    return json.loads(out)


def client_for(server: LiveServer, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        # Idle connections dropped well before the server closes them (uvicorn: 5 s idle): at
        # httpx's default, also 5 s, a request on a loaded machine could go out on a connection
        # the server was closing that instant (httpx.ReadError).
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=2),
    )


def assert_healthy(responses: list[httpx.Response], *allowed: int) -> None:
    for response in responses:
        assert response.status_code < 500, response.text
        assert LOCKED not in response.text
        assert response.status_code in allowed, (response.status_code, response.text)


async def all_contacts(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await http.get("/api/v1/contacts", params={"per_page": 100, "page": page})
        assert response.status_code == 200, response.text
        body = response.json()
        contacts.extend(body["data"])
        if body["links"]["next"] is None:
            return contacts
        page += 1


async def test_concurrent_requests_against_a_live_server(live_server: LiveServer) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        # Created while the server runs: another process writing to the same database.
        load, twins = await asyncio.gather(
            cli_json(live_server.database_url, "accounts", "create", "Load Test", "--json"),
            cli_json(live_server.database_url, "accounts", "create", "Twin Test", "--json"),
        )
        async with client_for(live_server, load["token"]) as http:
            await distinct_creates_and_reads(http)
            await identical_creates_make_one_contact(http)
            await racing_defaults_leave_one_default(http)
        async with client_for(live_server, twins["token"]) as http:
            # On an empty team the racing twins also race to become the first (default) contact.
            await identical_creates_make_one_contact(http)
            assert sum(c["is_default"] for c in await all_contacts(http)) == 1

    logs = live_server.logs()
    # The access log saw the load (so the checks below looked at the right output).
    assert logs.count('"POST /api/v1/contacts HTTP/1.1" 201') == 32 + 1 + 1
    assert logs.count('"POST /api/v1/contacts HTTP/1.1" 200') == 15 + 15
    assert LOCKED not in logs
    assert "Traceback" not in logs
    assert '" 500' not in logs


async def distinct_creates_and_reads(http: httpx.AsyncClient) -> None:
    creates = [
        http.post(
            "/api/v1/contacts",
            json=contact_payload(first_name=f"Person{n}", email=f"person{n}@example.com"),
        )
        for n in range(32)
    ]
    reads = [http.get("/api/v1/contacts", params={"per_page": 10}) for _ in range(32)]
    responses = await asyncio.gather(*creates, *reads)
    assert_healthy(responses[:32], 201)
    assert_healthy(responses[32:], 200)
    handles = {r.json()["data"]["handle"] for r in responses[:32]}
    assert len(handles) == 32

    gets = await asyncio.gather(*(http.get(f"/api/v1/contacts/{h}") for h in handles))
    assert_healthy(gets, 200)
    contacts = await all_contacts(http)
    assert {c["handle"] for c in contacts} == handles
    # The first contact becomes the team default, however the creates raced.
    assert sum(c["is_default"] for c in contacts) == 1


async def identical_creates_make_one_contact(http: httpx.AsyncClient) -> None:
    payload = contact_payload(first_name="Twin", email="twin@example.com")
    before = len(await all_contacts(http))
    responses = await asyncio.gather(
        *(http.post("/api/v1/contacts", json=payload) for _ in range(16))
    )
    assert_healthy(responses, 200, 201)
    assert sorted(r.status_code for r in responses) == [200] * 15 + [201]
    assert len({r.json()["data"]["handle"] for r in responses}) == 1

    contacts = await all_contacts(http)
    assert len(contacts) == before + 1
    assert [c["email"] for c in contacts].count("twin@example.com") == 1


async def racing_defaults_leave_one_default(http: httpx.AsyncClient) -> None:
    candidates = [c["handle"] for c in await all_contacts(http) if not c["is_default"]][:8]
    assert len(candidates) == 8
    responses = await asyncio.gather(
        *(http.patch(f"/api/v1/contacts/{h}", json={"is_default": True}) for h in candidates)
    )
    assert_healthy(responses, 200)

    contacts = await all_contacts(http)
    defaults = [c["handle"] for c in contacts if c["is_default"]]
    assert len(defaults) == 1
    assert defaults[0] in candidates
    first = (await http.get("/api/v1/contacts", params={"sort": "-is_default"})).json()["data"]
    assert first[0]["handle"] == defaults[0]
    assert not any(c["is_default"] for c in first[1:])


async def test_a_fresh_database_gets_a_first_team_and_a_working_token(
    live_server: LiveServer,
) -> None:
    lines = live_server.stdout.read_text().splitlines()
    intro = next(i for i, line in enumerate(lines) if line.startswith("Fresh database:"))
    token = lines[intro + 1]
    assert token.startswith("nh_")
    async with client_for(live_server, token) as http:
        response = await http.get("/api/v1/contacts")
    assert response.status_code == 200
    assert response.json()["meta"]["total"] == 0
