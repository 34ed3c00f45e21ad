"""Connects the packages whose records point at contacts to the contacts write path.

contacts/ cannot import them (they build on it), so they subscribe to contacts.changes; every
entry point (the app, the CLI, the worker) connects them before it writes.
"""

from __future__ import annotations

from nichandle.certificates.service import CERTIFICATE_CONTACTS
from nichandle.contacts import changes
from nichandle.domains.roles import DOMAIN_ROLES


def connect() -> None:
    changes.connect(DOMAIN_ROLES)
    changes.connect(CERTIFICATE_CONTACTS)
