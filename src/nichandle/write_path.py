"""Connects the packages whose records point at contacts to the contacts write path.

contacts/ cannot import them (they build on it), so they subscribe to contacts.changes; every
entry point (the app, the CLI, the worker) connects them before it writes. Registrant
verification subscribes to the domains' roles as well (domains.roles.watch).
"""

from __future__ import annotations

from nichandle.certificates.service import CERTIFICATE_CONTACTS
from nichandle.contacts import changes
from nichandle.domains import roles
from nichandle.domains.dispute_hold import DISPUTE_HOLD
from nichandle.domains.roles import DOMAIN_ROLES
from nichandle.registrant_changes import rules as registrant_change_rules
from nichandle.registrant_changes.triggers import REGISTRANT_CHANGES
from nichandle.settings import Settings
from nichandle.verification import rules
from nichandle.verification.triggers import REGISTRANT_VERIFICATION


def connect(settings: Settings | None = None) -> None:
    changes.connect(DISPUTE_HOLD)  # first: a refused change reaches no other dependent
    # Before the roles: a pending change points its domains at the prior details first, so
    # registry sync and verification see them as not (yet) the edited contact's.
    changes.connect(REGISTRANT_CHANGES)
    changes.connect(DOMAIN_ROLES)
    changes.connect(CERTIFICATE_CONTACTS)
    changes.connect(REGISTRANT_VERIFICATION)
    roles.watch(REGISTRANT_VERIFICATION)
    roles.decide_with(REGISTRANT_CHANGES)
    if settings is not None:
        rules.configure(settings)
        registrant_change_rules.configure(settings)
