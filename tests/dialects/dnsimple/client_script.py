"""Drives the official DNSimple client (PyPI ``dnsimple`` >= 8, Python >= 3.12) against a live
nichandle; run by tests/dialects/dnsimple/test_official_client.py, one JSON line per step.

Environment: NICHANDLE_URL, NICHANDLE_TOKEN (an account token), NICHANDLE_PERSONAL_TOKEN (the
account owner's personal token), NICHANDLE_OTHER_ACCOUNT (an account the tokens may not use).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from dnsimple import Client, DNSimpleException
from dnsimple.struct import Contact, Webhook
from dnsimple.struct.registrant import CheckRegistrantChangeInput, CreateRegistrantChangeInput

URL = os.environ["NICHANDLE_URL"]


def out(step: str, **values: Any) -> None:
    sys.stdout.write(json.dumps({"step": step, **values}) + "\n")
    sys.stdout.flush()


def failure(step: str, call: Any, *args: Any) -> None:
    """Runs a call that must fail and reports how (the client raises DNSimpleException)."""
    try:
        call(*args)
    except DNSimpleException as exc:
        out(step, status=exc.status, message=exc.message, errors=exc.attribute_errors)
    else:
        out(step, status=None)


def contact_fields(contact: Any) -> dict[str, Any]:
    return {name: getattr(contact, name) for name in (*Contact.new().keys(), "id", "account_id")}


client = Client(access_token=os.environ["NICHANDLE_TOKEN"], base_url=URL)
personal = Client(access_token=os.environ["NICHANDLE_PERSONAL_TOKEN"], base_url=URL)
stranger = Client(access_token="nh_not-a-token", base_url=URL)

# Response keeps data and rate-limit numbers on its class: read them right after each call.
who = client.identity.whoami()
account_id = who.data.account.id
out(
    "whoami",
    account=account_id,
    email=who.data.account.email,
    plan=who.data.account.plan_identifier,
    user=who.data.user,
    limits=[who.rate_limit, who.rate_limit_remaining, who.rate_limit_reset],
)
out("accounts", ids=[a.id for a in client.accounts.list_accounts().data])
me = personal.identity.whoami().data
out("whoami-personal", user=me.user.email, account=me.account)
out("accounts-personal", ids=[a.id for a in personal.accounts.list_accounts().data])

fields = {
    "label": "Default",
    "first_name": "First",
    "last_name": "User",
    "job_title": "CEO",
    "organization_name": "Awesome Company",
    "email": "first@example.com",
    "phone": "+18001234567",
    "fax": "+18011234567",
    "address1": "Italian Street, 10",
    "city": "Roma",
    "state_province": "RM",
    "postal_code": "00100",
    "country": "IT",
}
default = client.contacts.create_contact(account_id, Contact.new(**fields)).data
out("create-default", contact=contact_fields(default))
second = client.contacts.create_contact(
    account_id, Contact.new(**{**fields, "label": "Second", "email": "second@example.com"})
).data
out("create", contact=contact_fields(second))

page = client.contacts.list_contacts(account_id, page=1, per_page=1)
out("list-page-1", ids=[c.id for c in page.data], pagination=vars(page.pagination))
page = client.contacts.list_contacts(account_id, page=2, per_page=1)
out("list-page-2", ids=[c.id for c in page.data], pagination=vars(page.pagination))
out("list", ids=[c.id for c in client.contacts.list_contacts(account_id).data])

got = client.contacts.get_contact(account_id, second.id).data
out("get", contact=contact_fields(got))
updated = client.contacts.update_contact(account_id, second.id, Contact.new(label="Renamed")).data
out("update", contact=contact_fields(updated))
# get -> modify -> update, as client code does it: every non-empty field is sent back.
fetched = client.contacts.get_contact(account_id, second.id).data
fetched["city"] = "Milano"
fetched["postal_code"] = "20121"
fetched["state_province"] = "MI"
roundtrip = client.contacts.update_contact(account_id, second.id, fetched).data
out("update-roundtrip", contact=contact_fields(roundtrip))

failure("create-invalid", client.contacts.create_contact, account_id, Contact.new(label="x"))
failure(
    "create-organization-without-job-title",
    client.contacts.create_contact,
    account_id,
    Contact.new(**{**fields, "job_title": None}),
)
failure(
    "update-invalid",
    client.contacts.update_contact,
    account_id,
    second.id,
    Contact.new(email="not-an-email"),
)
failure("get-missing", client.contacts.get_contact, account_id, 999_999_999)
failure("get-other-account", client.contacts.get_contact, os.environ["NICHANDLE_OTHER_ACCOUNT"], 1)
failure("delete-default", client.contacts.delete_contact, account_id, default.id)
failure("whoami-bad-token", stranger.identity.whoami)

deleted = client.contacts.delete_contact(account_id, second.id)
out("delete", data=deleted.data, limits=[deleted.rate_limit, deleted.rate_limit_remaining])
failure("get-deleted", client.contacts.get_contact, account_id, second.id)
failure("delete-deleted", client.contacts.delete_contact, account_id, second.id)

domains = client.domains.list_domains(account_id, filter={"registrant_id": default.id})
out(
    "domains",
    names=[d.name for d in domains.data],
    registrants=[d.registrant_id for d in domains.data],
)
domain = client.domains.get_domain(account_id, "client-test.example").data


def struct_fields(struct: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(struct, name) for name in names}


CHANGE = (
    "id",
    "account_id",
    "contact_id",
    "domain_id",
    "state",
    "extended_attributes",
    "registry_owner_change",
    "irt_lock_lifted_by",
    "created_at",
    "updated_at",
)
out("domain", name=domain.name, registrant=domain.registrant_id, state=domain.state)

# A change of registrant (cor-2024, a gTLD): checked, started (pending), read, listed, cancelled.
owner = client.contacts.create_contact(
    account_id,
    Contact.new(**{**fields, "label": "Owner", "first_name": "New", "email": "owner@example.com"}),
).data
check = client.registrar.check_registrant_change(
    account_id, CheckRegistrantChangeInput(domain_id="client-test.example", contact_id=owner.id)
).data
check_fields = ("contact_id", "domain_id", "extended_attributes", "registry_owner_change")
out("registrant-change-check", check=struct_fields(check, check_fields), owner=owner.id)
started = client.registrar.create_registrant_change(
    account_id,
    CreateRegistrantChangeInput(
        domain_id="client-test.example", contact_id=owner.id, extended_attributes={}
    ),
).data
out("registrant-change-create", change=struct_fields(started, CHANGE))
got = client.registrar.get_registrant_change(account_id, started.id).data
out("registrant-change-get", change=struct_fields(got, CHANGE))
listed = client.registrar.list_registrant_changes(account_id, {"state": "new"}).data
out("registrant-change-list", ids=[c.id for c in listed])
cancelled = client.registrar.delete_registrant_change(account_id, started.id)
out("registrant-change-delete", data=cancelled.data)
got = client.registrar.get_registrant_change(account_id, started.id).data
out("registrant-change-cancelled", state=got.state)
domain = client.domains.get_domain(account_id, "client-test.example").data
out("registrant-change-domain", registrant=domain.registrant_id)

# .invalid never resolves: accepted at creation (each delivery checks again), no network needed.
hook = client.webhooks.create_webhook(account_id, Webhook.new("https://receiver.invalid/a")).data
out("webhook-create", webhook=dict(hook))
other = client.webhooks.create_webhook(account_id, Webhook.new("https://receiver.invalid/b")).data
out("webhooks", ids=[w.id for w in client.webhooks.list_webhooks(account_id).data])
out("webhooks-desc", ids=[w.id for w in client.webhooks.list_webhooks(account_id, "id:desc").data])
out("webhook-get", webhook=dict(client.webhooks.get_webhook(account_id, hook.id).data))
failure("webhook-invalid", client.webhooks.create_webhook, account_id, Webhook.new("ftp://x"))
out("webhook-delete", data=client.webhooks.delete_webhook(account_id, hook.id).data)
failure("webhook-get-deleted", client.webhooks.get_webhook, account_id, hook.id)
out("webhooks-after", ids=[w.id for w in client.webhooks.list_webhooks(account_id).data])
out("done")
