"""A real SMTP server (aiosmtpd, in the test process), a fresh database per backend, an app
whose mail goes to that server, and a worker to drain its outbox."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr

from nichandle.settings import Settings
from tests.fresh_database import BACKENDS, TestDatabase, fresh_database
from tests.test_live_server import free_port

# As the worker's tests have them, over this module's settings (a database per backend, SMTP).
from tests.worker.conftest import app as app
from tests.worker.conftest import client as client
from tests.worker.conftest import db as db
from tests.worker.conftest import drain as drain
from tests.worker.conftest import team as team
from tests.worker.conftest import worker as worker

LINK = re.compile(r"http://testserver(/verify/[A-Za-z0-9_\-]+)")


@dataclass
class Mailbox:
    """What the SMTP server received; ``refusals`` scripts its answers to RCPT per address
    (each answer used once, then it accepts)."""

    port: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    refusals: dict[str, list[str]] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        waiting = self.refusals.get(address)
        if waiting:
            return waiting.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


def link_in(message: EmailMessage) -> str:
    """The verification link's path, from the plain text part (the HTML one has it too)."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    found = LINK.search(text.get_content())
    assert found is not None, text.get_content()
    assert found.group(1) in html.get_content()
    return found.group(1)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="module", params=BACKENDS)
async def verify_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestDatabase]:
    directory = tmp_path_factory.mktemp(f"verify-{request.param}")
    async with fresh_database(request.param, Path(directory)) as database:
        yield database


@pytest.fixture(scope="module")
def settings(verify_database: TestDatabase, mailbox: Mailbox) -> Settings:
    return Settings(
        database_url=verify_database.url,
        smtp_url=SecretStr(f"smtp://127.0.0.1:{mailbox.port}"),
        mail_from="registrar@example.net",
        public_url="http://testserver",
    )
