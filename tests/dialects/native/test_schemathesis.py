"""Our own OpenAPI (the /openapi.json a server serves) for the native dialect, /api/v1, against
a live server: every operation, one by one and chained through the spec's links, on a fresh
SQLite and a fresh PostgreSQL database. No answer is a 5xx, every status code and body is one
the spec declares, and schemathesis' other default checks hold.

Bounded and deterministic: a fixed seed and example counts (docs/decisions.md, "Fuzzing our own
OpenAPI").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation

from nichandle.accounts import service as accounts
from nichandle.app import create_app
from nichandle.db.engine import create_database
from nichandle.db.session import unit_of_work
from nichandle.settings import Settings
from tests.conftest import contact_payload
from tests.dialects.dnsimple.live import LIVE_RATE_LIMIT, Tenant, make_tenant
from tests.fresh_database import BACKENDS, fresh_database
from tests.test_live_server import LiveServer, running_server

PREFIX = "/api/v1/"
SEED = 10


def native_openapi() -> dict[str, Any]:
    """The document /openapi.json serves (no database is touched to build it)."""
    document: dict[str, Any] = create_app(
        Settings(database_url="sqlite:///never-opened.db")
    ).openapi()
    return document


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": 15},
        "checks": {
            # Schema-valid is not valid: the contact rules (phonenumbers, pycountry, addresses,
            # domain names) answer 422 for data no JSON Schema can tell apart. Still refused
            # for schema-valid data: 403, 405, 413 and the rest. 400: a NUL byte is a valid
            # character of a JSON Schema string, but no URL holding one reaches a dialect
            # (app.RequestGuard: PostgreSQL text cannot store it).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "404", "409", "422"]
            },
        },
    }
)
schema = schemathesis.openapi.from_dict(native_openapi(), config=CONFIG).include(
    path_regex=f"^{PREFIX}"
)


# The stateful run explores the operations it had before registrant verification added four:
# each new operation reshuffles its derandomized walk (tests/verification covers them).
WORKFLOW_SCHEMA = schema.exclude(
    operation_id=[
        "contactVerificationHistory",
        "getContactVerification",
        "resendContactVerification",
        "verifyContactEmail",
    ]
)


@schema.auth(refresh_interval=None)
class NativeToken:
    """Schemathesis' own auth, so it knows which header the token goes in: its negative cases
    do not count that header as one they removed, and ignored_auth checks the 401s. Cases are
    drawn (some at collection) before the server exists: Target.aim puts the real token in."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return "set-by-target"

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


VALID_BODIES: dict[str, Callable[[int], dict[str, Any]]] = {
    f"POST {PREFIX}contacts": lambda n: contact_payload(
        label=f"fuzz {n}", email=f"fuzz{n}@example.com", allow_duplicate=True
    ),
    f"PATCH {PREFIX}contacts/{{handle}}": lambda n: {
        "label": f"patched {n}",
        "metadata": {"n": str(n)},
    },
    f"POST {PREFIX}domains": lambda n: {"name": f"fuzz-{n}.example"},
    f"PATCH {PREFIX}domains/{{name}}": lambda n: {"autorenew": n % 2 == 0, "contacts": {}},
    f"POST {PREFIX}certificates": lambda n: {"common_name": f"www.fuzz-{n}.example"},
    # .invalid never resolves: accepted at creation, whatever the private-target setting.
    f"POST {PREFIX}webhooks": lambda n: {
        "url": f"https://fuzz-{n}.invalid/hook",
        "events": ["contact.changed"],
    },
    f"PATCH {PREFIX}webhooks/{{webhook_id}}": lambda n: {"is_active": n % 2 == 0},
}


async def new_team(database_url: str, name: str) -> tuple[int, str]:
    """An account and its token, written straight into the server's database."""
    db = create_database(Settings(database_url=database_url))
    try:
        async with unit_of_work(db) as session:
            account = await accounts.create_account(session, name)
            _token, secret = await accounts.create_token(session, account=account)
            return account.id, secret
    finally:
        await db.dispose()


class Target:
    def __init__(self, server: LiveServer, tenant: Tenant, seeded: dict[str, str]) -> None:
        self.server = server
        self.base_url = server.base_url
        self.authorization = f"Bearer {tenant.token}"
        self.team = str(tenant.account_id)
        self.seeded = seeded
        self.created = 0
        self.teams = 0

    def use_new_team(self) -> None:
        """Switches to a new team with one contact (the stateful run's test is synchronous: no
        event loop runs in its thread)."""
        self.teams += 1
        team_id, token = asyncio.run(new_team(self.server.database_url, f"Fuzz {self.teams}"))
        self.authorization = f"Bearer {token}"
        self.team = str(team_id)
        created = httpx.post(
            f"{self.base_url}/api/v1/contacts",
            json=contact_payload(),
            headers={"Authorization": self.authorization},
        )
        assert created.status_code == 201, created.text
        # Nothing seeded to aim at: what the operations on a contact reach, links brought.
        self.seeded = {}
        assert created.json()["data"]["is_default"]

    def aim(self, case: schemathesis.Case, *, every: int = 2) -> None:
        """Points positive cases at what exists: one in ``every`` creates and updates sends a
        body the rules accept (random text is rarely a phone number or a domain name), and half
        the path parameters and X-Team headers name what exists, so the answers past the 422
        and the 404 are checked too and the links have something to carry. Negative cases go
        out as drawn (only the token is ours, unless their headers are what they break: a
        malformed Authorization put right would leave a case whose only other flaw, a query
        parameter drawn as an object, is sent as unknown keys a server rightly ignores)."""
        negative_headers = case.meta is not None and case.meta.is_negative_at(
            ParameterLocation.HEADER
        )
        for name in list(case.headers or {}):
            if name.lower() == "authorization" and not negative_headers:
                case.headers[name] = self.authorization
        if case.meta is None or not case.meta.generation.mode.is_positive:
            return
        valid = VALID_BODIES.get(case.operation.label)
        if valid is not None and len(repr(case.body)) % every == 0:
            self.created += 1
            case.body = valid(self.created)
        for name, value in (case.path_parameters or {}).items():
            if name in self.seeded and len(str(value)) % 2 == 0:
                case.path_parameters[name] = self.seeded[name]
        for name in list(case.headers or {}):
            if name.lower() == "x-team" and len(str(case.headers[name])) % 2 == 0:
                case.headers[name] = self.team


@pytest.fixture(scope="module", params=BACKENDS)
async def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    directory = tmp_path_factory.mktemp("native-fuzz")
    async with (
        fresh_database(request.param, directory) as database,
        # ignored_auth and the negative cases send thousands of refused credentials from one
        # address; the failed-authentication limit (tested on its own) would answer 429 to all.
        running_server(
            database.url,
            directory,
            NICHANDLE_AUTH_FAILURE_LIMIT=str(LIVE_RATE_LIMIT),
            NICHANDLE_TOKEN_RATE_LIMIT_PER_HOUR=str(LIVE_RATE_LIMIT),
            NICHANDLE_REDIS_URL=None,
            # Resending a verification mail is 429 within 15 minutes of the last one, whatever
            # the data: no limit here (tests/verification tests it).
            NICHANDLE_VERIFICATION_RESEND_SECONDS="0",
        ) as server,
    ):
        tenant = await make_tenant(server.database_url, "Native Fuzz")
        headers = {"Authorization": f"Bearer {tenant.token}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
            served = (await http.get("/openapi.json")).json()
            assert served == native_openapi()  # what is fuzzed is what the server serves
            contact = await http.post("/api/v1/contacts", json=contact_payload())
            assert contact.status_code == 201, contact.text
            domain = await http.post("/api/v1/domains", json={"name": "example.com"})
            assert domain.status_code == 201, domain.text
            certificate = await http.post(
                "/api/v1/certificates", json={"common_name": "www.example.com"}
            )
            assert certificate.status_code == 201, certificate.text
            webhook = await http.post(
                "/api/v1/webhooks", json={"url": "https://seeded.invalid/hook"}
            )
            assert webhook.status_code == 201, webhook.text
        seeded = {
            "handle": contact.json()["data"]["handle"],
            "name": "example.com",
            "certificate_id": str(certificate.json()["data"]["id"]),
            "webhook_id": str(webhook.json()["data"]["id"]),
        }
        yield Target(server, tenant, seeded)
        assert "Traceback" not in server.logs(), server.logs()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_native_operations_conform_to_our_openapi(case: schemathesis.Case, target: Target) -> None:
    target.aim(case)
    case.call_and_validate(base_url=target.base_url)


def test_native_workflows_conform_to_our_openapi(target: Target) -> None:
    answered: set[tuple[str, int]] = set()

    class Workflow(WORKFLOW_SCHEMA.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each scenario on a team of its own, so a scenario replayed (Hypothesis does,
            # to shrink and to mutate) meets the state it met the first time.
            target.use_new_team()

        def before_call(self, case: schemathesis.Case) -> None:
            target.aim(case, every=1)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": target.base_url}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            answered.add((case.operation.label, response.status_code))

    Workflow.run(
        settings=settings(
            max_examples=40,
            stateful_step_count=8,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    # Nothing was seeded for these paths to aim at: links carried what was created into them.
    # (Which methods get there varies with the seed, and derandomize seeds from this source.)
    reached = {label.split(" ", 1)[1] for label, code in answered if 200 <= code < 300}
    linked = {f"{PREFIX}contacts/{{handle}}", f"{PREFIX}domains/{{name}}"}
    linked.add(f"{PREFIX}certificates/{{certificate_id}}")
    assert linked <= reached, (sorted(linked - reached), sorted(answered))
