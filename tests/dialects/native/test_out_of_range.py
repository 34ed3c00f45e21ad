"""Values a domain or certificate cannot store (or that make no sense) are a 422 naming the
field, never a 500: prices beyond the column of minor units, dates that overflow on the way to
UTC, and expiries outside the documented range (domains/limits.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from nichandle.db.base import utcnow
from tests.conftest import Team, create_contact
from tests.dialects.namecom.helpers import DOMAINS as NAMECOM_DOMAINS
from tests.dialects.namecom.helpers import auth
from tests.dialects.native.helpers import JSON_HEADERS, field_errors

DOMAINS = "/api/v1/domains"
CERTIFICATES = "/api/v1/certificates"

# Python's json writes 1e86 as a float the schema takes; Decimal then cannot quantize it.
TOO_DEAR = ["21474836.48", "99999999999", "1e86", "1.7976931348623157e308"]
# Each is a valid ISO 8601 moment whose conversion to UTC leaves datetime's range.
UNREPRESENTABLE = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]
ABSURD = ["0001-01-01T00:00:00Z", "1984-12-31T23:59:59Z", "9999-12-31T00:00:00Z"]


async def post_raw(client: httpx.AsyncClient, url: str, text: str, team: Team) -> httpx.Response:
    # The number is sent as written, not as Python's float would print it.
    return await client.post(url, content=text.encode(), headers={**team.headers, **JSON_HEADERS})


async def patch_raw(client: httpx.AsyncClient, url: str, text: str, team: Team) -> httpx.Response:
    return await client.patch(url, content=text.encode(), headers={**team.headers, **JSON_HEADERS})


@pytest.fixture
async def with_default(client: httpx.AsyncClient, team: Team) -> dict[str, Any]:
    return await create_contact(client, team)


@pytest.mark.parametrize("price", TOO_DEAR)
async def test_a_renewal_price_beyond_the_column_is_a_422_on_create_and_update(
    client: httpx.AsyncClient, team: Team, with_default: dict[str, Any], price: str
) -> None:
    created = await post_raw(
        client, DOMAINS, f'{{"name": "dear.test", "renewal_price": {price}}}', team
    )
    assert "at most 21474836.47" in " ".join(field_errors(created)["renewal_price"])
    await client.post(DOMAINS, json={"name": "dear.test"}, headers=team.headers)
    updated = await patch_raw(client, f"{DOMAINS}/dear.test", f'{{"renewal_price": {price}}}', team)
    assert "at most 21474836.47" in " ".join(field_errors(updated)["renewal_price"])
    # Nothing was written: the price is still unset.
    read = await client.get(f"{DOMAINS}/dear.test", headers=team.headers)
    assert read.json()["data"]["renewal_price"] is None


async def test_the_largest_storable_price_is_kept_to_the_cent(
    client: httpx.AsyncClient, team: Team, with_default: dict[str, Any]
) -> None:
    created = await post_raw(
        client, DOMAINS, '{"name": "top.test", "renewal_price": 21474836.47}', team
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["renewal_price"] == 21474836.47
    read = await client.get(f"{DOMAINS}/top.test", headers=team.headers)
    assert read.json()["data"]["renewal_price"] == 21474836.47


@pytest.mark.parametrize("moment", UNREPRESENTABLE + ABSURD)
async def test_an_expiry_outside_the_range_is_a_422_naming_expires_at(
    client: httpx.AsyncClient, team: Team, with_default: dict[str, Any], moment: str
) -> None:
    created = await client.post(
        DOMAINS, json={"name": "when.test", "expires_at": moment}, headers=team.headers
    )
    assert "must be between" in " ".join(field_errors(created)["expires_at"])
    await client.post(DOMAINS, json={"name": "when.test"}, headers=team.headers)
    updated = await client.patch(
        f"{DOMAINS}/when.test", json={"expires_at": moment}, headers=team.headers
    )
    assert "must be between" in " ".join(field_errors(updated)["expires_at"])
    certificate = await client.post(
        CERTIFICATES, json={"common_name": "when.test", "expires_at": moment}, headers=team.headers
    )
    assert "must be between" in " ".join(field_errors(certificate)["expires_at"])


async def test_expiries_at_the_edges_of_the_range_are_kept(
    client: httpx.AsyncClient, team: Team, with_default: dict[str, Any]
) -> None:
    # The earliest allowed moment given in another zone, and one nearly ten years ahead.
    earliest = "1985-01-01T01:00:00+01:00"
    latest = (utcnow() + timedelta(days=3652)).replace(microsecond=0)
    created = await client.post(
        DOMAINS, json={"name": "edge.test", "expires_at": earliest}, headers=team.headers
    )
    assert created.status_code == 201, created.text
    assert datetime.fromisoformat(created.json()["data"]["expires_at"]) == datetime(
        1985, 1, 1, tzinfo=UTC
    )
    updated = await client.patch(
        f"{DOMAINS}/edge.test", json={"expires_at": latest.isoformat()}, headers=team.headers
    )
    assert updated.status_code == 200, updated.text
    assert datetime.fromisoformat(updated.json()["data"]["expires_at"]) == latest
    certificate = await client.post(
        CERTIFICATES,
        json={"common_name": "edge.test", "expires_at": latest.isoformat()},
        headers=team.headers,
    )
    assert certificate.status_code == 201, certificate.text


async def test_namecom_read_only_dates_and_prices_are_ignored_not_a_500(
    client: httpx.AsyncClient, team: Team, with_default: dict[str, Any]
) -> None:
    # name.com's Domain schema marks them read-only: accepted and ignored, whatever they hold.
    body = (
        '{"domain": {"domainName": "ignored.test", "expireDate": "9999-12-31T23:59:59-23:59",'
        ' "createDate": "0001-01-01T00:00:00+23:59", "renewalPrice": 1e86}}'
    )
    response = await client.post(
        NAMECOM_DOMAINS, content=body.encode(), auth=auth(team), headers=JSON_HEADERS
    )
    assert response.status_code == 200, response.text
    assert response.json()["domain"]["renewalPrice"] == 0.0


@pytest.mark.parametrize(
    "moment", ["10000-01-01T00:00:00Z", "2027-01-01T00:00:00+24:00", "2027-02-30T00:00:00Z", 1e86]
)
async def test_an_expiry_that_is_no_moment_at_all_is_a_422_naming_expires_at(
    client: httpx.AsyncClient, team: Team, with_default: dict[str, Any], moment: object
) -> None:
    for url in (DOMAINS, CERTIFICATES):
        body = {"name": "never.test"} if url == DOMAINS else {"common_name": "never.test"}
        response = await client.post(url, json={**body, "expires_at": moment}, headers=team.headers)
        assert "expires_at" in field_errors(response)
