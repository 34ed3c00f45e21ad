"""The verification tests' world (a real SMTP server, a fresh database per backend, a worker),
and the policy in force switched per test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from nichandle.registrant_changes import rules
from nichandle.settings import Settings
from tests.verification.conftest import Mailbox as Mailbox
from tests.verification.conftest import app as app
from tests.verification.conftest import client as client
from tests.verification.conftest import db as db
from tests.verification.conftest import drain as drain
from tests.verification.conftest import mailbox as mailbox
from tests.verification.conftest import settings as settings
from tests.verification.conftest import team as team
from tests.verification.conftest import verify_database as verify_database
from tests.verification.conftest import worker as worker

LINK = re.compile(r"http://testserver(/registrant-change/[A-Za-z0-9_\-]+)")


def change_link(message: EmailMessage) -> str:
    """The confirmation link's path, from the plain text part (the HTML one has it too)."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    found = LINK.search(text.get_content())
    assert found is not None, text.get_content()
    assert found.group(1) in html.get_content()
    return found.group(1)


def body(message: EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    return str(text.get_content())


@pytest.fixture
def policy(settings: Settings) -> Iterator[rules.Rules]:
    """The policy in force, as the settings give it; a test may switch it (use_policy)."""
    yield rules.rules()
    rules.configure(settings)


def use_policy(settings: Settings, **changes: object) -> None:
    rules.configure(settings.model_copy(update=changes))
