"""Domain status and certificate state are enums the database enforces (CHECK constraints)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from nichandle.certificates.models import Certificate, CertificateState
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.domains.models import Domain, DomainStatus
from tests.conftest import Team, create_contact


async def test_status_and_state_outside_their_enums_are_refused_by_the_database(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    await create_contact(client, team)
    domain = await client.post("/api/v1/domains", json={"name": "st.test"}, headers=team.headers)
    certificate = await client.post(
        "/api/v1/certificates", json={"common_name": "st.test"}, headers=team.headers
    )
    assert (domain.status_code, certificate.status_code) == (201, 201)
    certificate_id = certificate.json()["data"]["id"]

    async with unit_of_work(db, write=False) as session:
        stored = await session.scalar(select(Domain).where(Domain.account_id == team.id))
        issued = await session.get(Certificate, certificate_id)
    assert stored is not None
    assert issued is not None
    assert stored.status is DomainStatus.REGISTERED
    assert issued.state is CertificateState.ISSUED

    for statement in (
        "UPDATE domain SET status = 'parked' WHERE account_id = :account",
        "UPDATE certificate SET state = 'lost' WHERE account_id = :account",
    ):
        with pytest.raises(IntegrityError, match=r"ck_domain_status|ck_certificate_state|CHECK"):
            async with unit_of_work(db) as session:
                await session.execute(text(statement), {"account": team.id})

    for state in CertificateState:
        async with unit_of_work(db) as session:
            await session.execute(
                text("UPDATE certificate SET state = :state WHERE id = :id"),
                {"state": state.value, "id": certificate_id},
            )


async def test_a_certificate_state_outside_the_enum_is_a_422_naming_the_field(
    client: httpx.AsyncClient, team: Team
) -> None:
    await create_contact(client, team)
    response = await client.post(
        "/api/v1/certificates",
        json={"common_name": "st.test", "state": "lost"},
        headers=team.headers,
    )
    assert response.status_code == 422, response.text
    assert "state" in response.text
