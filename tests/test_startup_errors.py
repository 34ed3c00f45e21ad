"""A NICHANDLE_DATABASE_URL nichandle cannot use is one clear line on stderr and a failing exit
code, whichever command meets it, never a traceback (the real console script, as a subprocess).
"""

from __future__ import annotations

import asyncio

import pytest

from nichandle.db.engine import InvalidDatabaseUrl, async_url
from tests.test_cli import COMMAND_TIMEOUT, NICHANDLE, Cli

BAD_URLS = {
    "mysql://x": "unsupported database URL scheme 'mysql'",
    "sqlite://": "SQLite needs a file path",
    "garbage": "not a database URL",
    "": "not a database URL",
    "postgresql://user:s3cret@db:port/nichandle": "not a database URL",
}
COMMANDS = [
    ("serve", "--port", "1"),  # fails before it would listen
    ("accounts", "list"),
    ("contacts", "export", "--account", "x"),
]


@pytest.mark.parametrize("url", list(BAD_URLS))
def test_a_bad_database_url_is_refused_with_what_is_wrong(url: str) -> None:
    with pytest.raises(InvalidDatabaseUrl, match=BAD_URLS[url]) as refused:
        async_url(url)
    assert "s3cret" not in str(refused.value)


# Each run starts the console script (seconds each): a few URLs, the rest is the unit test above.
@pytest.mark.parametrize("url", ["mysql://x", "garbage", "postgresql://user:s3cret@db:port/x"])
async def test_a_bad_database_url_is_one_line_naming_the_setting(url: str) -> None:
    result = await Cli(url)("db", "upgrade", check=False)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: NICHANDLE_DATABASE_URL: {lines[0].split(': ', 2)[2]}"], result.stderr
    assert BAD_URLS.get(url, "not a database URL") in lines[0]
    assert "s3cret" not in result.stderr  # the URL may hold a password: never echoed


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
async def test_every_command_reports_a_bad_database_url_the_same_way(
    command: tuple[str, ...],
) -> None:
    assert NICHANDLE.exists()
    async with asyncio.timeout(COMMAND_TIMEOUT):
        result = await Cli("mysql://x")(*command, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: NICHANDLE_DATABASE_URL: unsupported database URL scheme 'mysql': "
        "use sqlite:// or postgresql://"
    ]
