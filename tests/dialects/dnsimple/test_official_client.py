"""The official DNSimple Python client (PyPI ``dnsimple`` >= 8), unmodified, against a live
`nichandle serve` on a fresh SQLite and a fresh PostgreSQL database.

The client needs Python >= 3.12, so it runs from its own venv (``make dnsimple-client`` builds
``.venv-dnsimple``; NICHANDLE_DNSIMPLE_PYTHON points elsewhere). Missing it skips the test with a
message, except in CI, where it fails.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI
from tests.dialects.dnsimple.live import LIVE_RATE_LIMIT, Tenant, live_server, make_tenant
from tests.fresh_database import BACKENDS
from tests.reference import REPO
from tests.test_live_server import LiveServer

SCRIPT = Path(__file__).with_name("client_script.py")
CLIENT_TIMEOUT = 120


def dnsimple_python() -> str:
    configured = os.environ.get("NICHANDLE_DNSIMPLE_PYTHON")
    python = Path(configured) if configured else REPO / ".venv-dnsimple" / "bin" / "python"
    if not python.exists():
        message = (
            f"the official DNSimple client's Python is missing at {python}: run "
            "`make dnsimple-client` (needs Python >= 3.12) or set NICHANDLE_DNSIMPLE_PYTHON"
        )
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the official client test must run)")
        pytest.skip(message)
    return str(python)


@pytest.fixture
def client_python() -> str:
    return dnsimple_python()


@pytest.fixture(params=BACKENDS)
async def server(
    request: pytest.FixtureRequest, tmp_path: Path, client_python: str
) -> AsyncIterator[LiveServer]:
    # client_python first: no server is started for a test that will skip.
    async with live_server(request.param, tmp_path) as live:
        yield live


async def run_client(python: str, server: LiveServer, tenant: Tenant) -> dict[str, dict[str, Any]]:
    env = {
        **os.environ,
        "NICHANDLE_URL": server.base_url,
        "NICHANDLE_TOKEN": tenant.token,
        "NICHANDLE_PERSONAL_TOKEN": tenant.personal_token,
        "NICHANDLE_OTHER_ACCOUNT": str(tenant.other_account_id),
    }
    process = await asyncio.create_subprocess_exec(
        python,
        str(SCRIPT),
        env=env,
        cwd=str(SCRIPT.parent.parent),  # never the script's folder: no local `dnsimple` shadowing
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    steps = {line["step"]: line for line in map(json.loads, out.decode().splitlines())}
    assert process.returncode == 0, f"{err.decode()}\n{server.logs()}"
    assert "done" in steps, steps
    return steps


async def test_the_official_client_works_unmodified(server: LiveServer, client_python: str) -> None:
    tenant = await make_tenant(server.database_url, "Client Test")
    # A domain with no roles set: its registrant is the default contact, once there is one.
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        added = await http.post(
            "/api/v1/domains",
            json={"name": "client-test.example"},
            headers={"Authorization": f"Bearer {tenant.token}"},
        )
        assert added.status_code == 201, added.text

    steps = await run_client(client_python, server, tenant)

    who = steps["whoami"]
    assert who["account"] == tenant.account_id
    assert (who["email"], who["plan"], who["user"]) == (tenant.owner_email, "nichandle", None)
    limit, remaining, reset = who["limits"]
    assert limit == LIVE_RATE_LIMIT
    assert 0 < remaining < LIVE_RATE_LIMIT
    assert reset % 3600 == 0
    assert steps["accounts"]["ids"] == [tenant.account_id]
    assert steps["whoami-personal"] == {
        "step": "whoami-personal",
        "user": tenant.owner_email,
        "account": None,
    }
    assert steps["accounts-personal"]["ids"] == [tenant.account_id]

    default = steps["create-default"]["contact"]
    second = steps["create"]["contact"]
    assert default["account_id"] == tenant.account_id
    assert (second["address1"], second["address2"], second["label"]) == (
        "Italian Street, 10",
        "",
        "Second",
    )
    assert steps["list-page-1"]["ids"] == [default["id"]]
    assert steps["list-page-1"]["pagination"] == {
        "current_page": 1,
        "per_page": 1,
        "total_entries": 2,
        "total_pages": 2,
    }
    assert steps["list-page-2"]["ids"] == [second["id"]]
    assert steps["list"]["ids"] == [default["id"], second["id"]]
    assert steps["get"]["contact"] == second
    updated = steps["update"]["contact"]
    assert updated["label"] == "Renamed"
    assert {k: v for k, v in updated.items() if k not in ("label", "updated_at")} == {
        k: v for k, v in second.items() if k not in ("label", "updated_at")
    }
    roundtrip = steps["update-roundtrip"]["contact"]
    assert (roundtrip["city"], roundtrip["state_province"], roundtrip["label"]) == (
        "Milano",
        "MI",
        "Renamed",
    )

    invalid = steps["create-invalid"]
    assert (invalid["status"], invalid["message"]) == (400, "Validation failed")
    assert invalid["errors"]["email"] == ["can't be blank", "is an invalid email address"]
    assert invalid["errors"]["state_province"] == ["can't be blank"]
    assert steps["create-organization-without-job-title"]["errors"] == {
        "job_title": ["can't be blank"]
    }
    assert steps["update-invalid"]["errors"] == {"email": ["is an invalid email address"]}
    missing = steps["get-missing"]
    assert (missing["status"], missing["message"], missing["errors"]) == (
        404,
        "Contact `999999999` not found",
        None,
    )
    other = steps["get-other-account"]
    assert (other["status"], other["message"]) == (
        404,
        f"Account `{tenant.other_account_id}` not found",
    )
    assert steps["delete-default"]["status"] == 400
    assert "default" in steps["delete-default"]["message"]
    assert (steps["whoami-bad-token"]["status"], steps["whoami-bad-token"]["message"]) == (
        401,
        "Authentication failed",
    )

    assert steps["delete"]["data"] is None
    assert steps["delete"]["limits"][0] == LIVE_RATE_LIMIT
    for step in ("get-deleted", "delete-deleted"):
        assert steps[step]["status"] == 404
        assert steps[step]["message"] == f"Contact `{second['id']}` not found"

    assert steps["domains"] == {
        "step": "domains",
        "names": ["client-test.example"],
        "registrants": [default["id"]],
    }
    assert steps["domain"] == {
        "step": "domain",
        "name": "client-test.example",
        "registrant": default["id"],
        "state": "registered",
    }

    owner = steps["registrant-change-check"]["owner"]
    assert steps["registrant-change-check"]["check"] == {
        "contact_id": owner,
        "domain_id": steps["registrant-change-create"]["change"]["domain_id"],
        "extended_attributes": [],
        "registry_owner_change": True,
    }
    change = steps["registrant-change-create"]["change"]
    assert (change["contact_id"], change["state"], change["registry_owner_change"]) == (
        owner,
        "new",
        True,
    )
    assert steps["registrant-change-get"]["change"] == change
    assert steps["registrant-change-list"]["ids"] == [change["id"]]
    assert steps["registrant-change-delete"]["data"] is None
    assert steps["registrant-change-cancelled"]["state"] == "cancelled"
    # Pending, then cancelled: the domain kept its registrant all along.
    assert steps["registrant-change-domain"]["registrant"] == default["id"]

    hook = steps["webhook-create"]["webhook"]
    assert hook == {"id": hook["id"], "url": "https://receiver.invalid/a"}
    other_id = steps["webhooks"]["ids"][1]
    assert steps["webhooks"]["ids"] == [hook["id"], other_id]
    assert steps["webhooks-desc"]["ids"] == [other_id, hook["id"]]
    assert steps["webhook-get"]["webhook"] == hook
    invalid = steps["webhook-invalid"]
    assert (invalid["status"], invalid["message"]) == (400, "Validation failed")
    assert invalid["errors"] == {"url": ["must be an absolute http or https URL"]}
    assert steps["webhook-delete"]["data"] is None
    gone = steps["webhook-get-deleted"]
    assert (gone["status"], gone["message"]) == (404, f"Webhook `{hook['id']}` not found")
    assert steps["webhooks-after"]["ids"] == [other_id]
    assert "Traceback" not in server.logs()
