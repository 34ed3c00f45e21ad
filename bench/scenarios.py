"""What the benchmark sends: one list of requests per scenario, cycled by every connection."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bench.seed import BenchAccount, Samples

# A page deep enough to matter yet the same at every size, so growth compares like with like:
# with 25 a page, page 400 skips 9,975 contacts (the last page of a 10k account).
DEEP_PAGE = 400


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    requests: list[dict[str, Any]]
    read: bool = True  # reads get a ceiling (replayed SQL) and a growth row
    expect: tuple[int, ...] = (200,)


def new_contact_body(tag: str) -> str:
    """A valid create body; ``__SEQ__`` (replaced per request) keeps every one new."""
    body = {
        "first_name": "Nieuw",
        "last_name": "Klant",
        "address_street": "Damrak",
        "address_house_number": "1",
        "address_postal_code": "1012 LG",
        "address_city": "Amsterdam",
        "address_country_code": "NL",
        "email": f"new-{tag}-__SEQ__@example.com",
        "phone": "+31201234567",
    }
    return json.dumps(body)


def duplicate_bodies(count: int, tag: str) -> list[str]:
    """Bodies created once during setup; sending them again is a dedup hit (200)."""
    bodies = []
    for n in range(count):
        body = json.loads(new_contact_body(tag))
        body["email"] = f"dup-{tag}-{n}@example.com"
        bodies.append(json.dumps(body))
    return bodies


def build(
    account: BenchAccount,
    samples: Samples,
    *,
    dup_bodies: list[str],
    tag: str,
    web_cookie: str | None = None,
) -> list[Scenario]:
    bearer = {"Authorization": f"Bearer {account.token}"}
    json_headers = {**bearer, "Content-Type": "application/json"}
    basic = base64.b64encode(f"{account.slug}:{account.token}".encode()).decode()
    get = [
        {"method": "GET", "path": f"/api/v1/contacts/{h}", "headers": bearer}
        for h in samples.handles
    ]
    scenarios = web_scenarios(samples, web_cookie) if web_cookie else []
    scenarios += [
        # The floor: one trivial statement through the same server, middleware and pool, so the
        # ratio any endpoint could reach over its ceiling is measured, not guessed.
        Scenario("floor", "HTTP floor: GET /healthz", [{"method": "GET", "path": "/healthz"}]),
        Scenario("get", "native get by handle", get),
        Scenario(
            "list",
            "native list page 1",
            [{"method": "GET", "path": "/api/v1/contacts?page=1", "headers": bearer}],
        ),
        Scenario(
            "deep",
            f"native list page {DEEP_PAGE}",
            [{"method": "GET", "path": f"/api/v1/contacts?page={DEEP_PAGE}", "headers": bearer}],
        ),
        Scenario(
            "search",
            "native search (query=)",
            [
                {
                    "method": "GET",
                    "path": f"/api/v1/contacts?query={quote(term)}",
                    "headers": bearer,
                }
                for term in samples.search_terms
            ],
        ),
        Scenario(
            "create",
            "native create (new)",
            [
                {
                    "method": "POST",
                    "path": "/api/v1/contacts",
                    "headers": json_headers,
                    "body": new_contact_body(tag),
                }
            ],
            read=False,
            expect=(201,),
        ),
        Scenario(
            "create_dup",
            "native create (duplicate hit)",
            [
                {"method": "POST", "path": "/api/v1/contacts", "headers": json_headers, "body": b}
                for b in dup_bodies
            ],
            read=False,
            expect=(200,),
        ),
        Scenario(
            "patch",
            "native PATCH",
            [
                {
                    "method": "PATCH",
                    "path": f"/api/v1/contacts/{h}",
                    "headers": json_headers,
                    "body": json.dumps({"address_line2": "Unit __SEQ__"}),
                }
                for h in samples.handles
            ],
            read=False,
        ),
        Scenario(
            "dnsimple_list",
            "DNSimple list contacts",
            [{"method": "GET", "path": f"/v2/{account.id}/contacts", "headers": bearer}],
        ),
        Scenario(
            "namecom_get",
            "name.com GetDomain",
            [
                {
                    "method": "GET",
                    "path": f"/core/v1/domains/{name}",
                    "headers": {"Authorization": f"Basic {basic}"},
                }
                for name in samples.domain_names
            ],
        ),
    ]
    return scenarios


def web_scenarios(samples: Samples, cookie: str) -> list[Scenario]:
    """The web UI's busiest pages, signed in (issue 14: each under 50 ms server time). Not
    ``read``: the ceiling replays a dialect's SQL, and a page runs several services' queries."""
    headers = {"Cookie": cookie}
    return [
        Scenario(
            "web_list",
            "web UI contacts list page 1",
            [{"method": "GET", "path": "/ui/contacts", "headers": headers}],
            read=False,
        ),
        Scenario(
            "web_contact",
            "web UI contact page",
            [
                {"method": "GET", "path": f"/ui/contacts/{quote(h)}", "headers": headers}
                for h in samples.handles
            ],
            read=False,
        ),
    ]
