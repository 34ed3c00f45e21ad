"""`nichandle users create` and `users set-password`: web UI users from the command line."""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import TYPE_CHECKING

import httpx

from tests.conftest import Team
from tests.test_live_server import NICHANDLE
from tests.web.helpers import csrf_of, sign_in

if TYPE_CHECKING:
    from tests.fresh_database import TestDatabase


async def nichandle(database: TestDatabase, *args: str, stdin: str = "") -> tuple[int, str]:
    env = {**os.environ, "NICHANDLE_DATABASE_URL": database.url}
    process = await asyncio.create_subprocess_exec(
        str(NICHANDLE),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate(stdin.encode())
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_users_create_and_set_password_from_the_command_line(
    database_url: TestDatabase, client: httpx.AsyncClient, team: Team
) -> None:
    email = f"cli-{secrets.token_hex(3)}@example.com"
    short, said = await nichandle(
        database_url,
        "users",
        "create",
        email,
        "--account",
        team.slug,
        "--password-stdin",
        stdin="too short\n",
    )
    assert short == 1
    assert "at least 12 characters" in said
    code, said = await nichandle(
        database_url,
        "users",
        "create",
        email,
        "--account",
        team.slug,
        "--password-stdin",
        stdin="first password 1\n",
    )
    assert code == 0, said
    await sign_in(client, email, "first password 1")
    code, said = await nichandle(database_url, "users", "set-password", email)
    assert code == 0, said
    generated = said.split("password (shown once):")[1].strip()
    assert len(generated) >= 12
    # Setting a password signs the user's browsers out.
    assert (await client.get("/ui/contacts")).status_code == 303
    form = csrf_of((await client.get("/ui/sign-in")).text)
    old = await client.post(
        "/ui/sign-in", data={"csrf_token": form, "email": email, "password": "first password 1"}
    )
    assert old.status_code == 401
    await sign_in(client, email, generated)
