"""Account, user and token rules, straight against the service on both databases."""

from __future__ import annotations

import asyncio

import pytest

from nichandle.accounts import service as accounts
from nichandle.db.engine import Database
from nichandle.db.session import unit_of_work
from nichandle.errors import FieldErrors


async def test_concurrent_accounts_with_one_name_get_distinct_slugs(db: Database) -> None:
    name = f"Same Name {id(db)}"

    async def create() -> str:
        async with unit_of_work(db) as session:
            return (await accounts.create_account(session, name)).slug

    slugs = await asyncio.gather(*(create() for _ in range(4)))
    assert len(set(slugs)) == 4
    assert sorted(slugs)[0] == accounts.slugify(name)


@pytest.mark.parametrize(
    ("name", "field"),
    [("x" * 201, "name"), ("   ", "name")],
)
async def test_bad_account_names_are_field_errors(db: Database, name: str, field: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        async with unit_of_work(db) as session:
            await accounts.create_account(session, name)
    assert field in caught.value.problems


async def test_owner_email_must_be_an_email(db: Database) -> None:
    with pytest.raises(FieldErrors) as caught:
        async with unit_of_work(db) as session:
            await accounts.create_account(session, "Team", owner_email="a[/b]@x")
    assert "email" in caught.value.problems


async def test_token_names_are_bounded(db: Database) -> None:
    async with unit_of_work(db) as session:
        account = await accounts.create_account(session, "Token team")
    with pytest.raises(FieldErrors) as caught:
        async with unit_of_work(db) as session:
            await accounts.create_token(session, account=account, name="n" * 101)
    assert "name" in caught.value.problems


async def test_user_emails_are_normalised_so_one_person_is_one_user(db: Database) -> None:
    async with unit_of_work(db) as session:
        first = await accounts.ensure_user(session, f"Ops{id(db)}@Example.COM")
        again = await accounts.ensure_user(session, f"ops{id(db)}@example.com")
    assert first.id == again.id
