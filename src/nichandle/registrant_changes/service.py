"""The rules of a change of registrant: starting one, confirming, applying with the 60-day
transfer lock, expiring, cancelling, and cord-2026's notices. docs/registrant-change.md.

A change reaches a domain two ways (``triggers``): the registrant role pointed at another
contact, or the registrant contact itself edited. Under cor-2024 the domain keeps its prior
registrant until both parties confirm: a pointed role stays where it is; an edited contact's
prior details are kept as a contact of their own (the account's identical contact when it has
one) and the domain's role points there meanwhile, since a contact is one record that every
domain and role using it shares. Under cord-2026, or with a Designated Agent's approval, the
change applies at once.

Deadlines are stored due times the worker runs (``run_due``): expiries, the end of each lock,
cord-2026's notices. Each is idempotent, so a worker that was down catches up.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.contacts import registrant_change
from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.contacts.validation import TEXT_FIELDS
from nichandle.db.base import utcnow
from nichandle.db.rows import insert_rows_with_ids
from nichandle.domains import dispute_hold, roles
from nichandle.domains import repository as domains_repository
from nichandle.domains import service as domains
from nichandle.domains.models import Domain
from nichandle.domains.repository import DomainSettings
from nichandle.domains.service import actor_label
from nichandle.domains.status import DomainState, lock_payload, settings_payload
from nichandle.errors import Conflict, ErrorCollector, NotApplicable, NotFound
from nichandle.events import catalogue
from nichandle.events.service import emit_many
from nichandle.paging import Page, PageRequest
from nichandle.registrant_changes import repository
from nichandle.registrant_changes.models import (
    AgentParties,
    ChangeState,
    DesignatedAgent,
    MailKind,
    NoticeOptOut,
    Party,
    Policy,
    RegistrantChange,
    RegistrantChangeMail,
    RegistrantChangeRequest,
    RegistrantChangeToken,
)
from nichandle.registrant_changes.repository import ChangeFilter
from nichandle.registrant_changes.rules import rules
from nichandle.verification import service as verification
from nichandle.verification.models import VerificationMethod

# The changes a transaction started, for the answer of the edit that started them (native 202),
# and the requests it made (session.info).
_STARTED = "nichandle_registrant_changes"
_REQUESTS = "nichandle_registrant_change_requests"
_MADE = "nichandle_registrant_changes_made"  # pending or applied
_BATCH = "nichandle_registrant_change_batch"


class Target(NamedTuple):
    """A domain whose registrant changes, and the handle its role names now (None: the
    account default stands in)."""

    domain_id: int
    domain_name: str
    role_handle: str | None


@dataclass(frozen=True)
class Registrant:
    """A party as the change keeps it."""

    contact_id: int | None
    handle: str | None
    email: str
    name: str

    @classmethod
    def of(cls, contact_id: int | None, version: Mapping[str, Any]) -> Registrant:
        person = " ".join(str(version.get(f) or "") for f in ("first_name", "last_name"))
        name = str(version.get("company_name") or "").strip() or person.strip()
        return cls(contact_id, version.get("handle"), str(version.get("email") or ""), name)


def started_in(session: AsyncSession) -> list[RegistrantChange]:
    """The pending changes this transaction started, by domain name."""
    started: list[RegistrantChange] = session.info.get(_STARTED, [])
    return sorted(started, key=lambda change: change.domain_name)


# --- starting -------------------------------------------------------------------------------


async def registrant_repointed(
    session: AsyncSession,
    actor: Actor,
    domain: Domain,
    previous: Contact | None,
    new: Contact | None,
) -> bool:
    """The registrant role of ``domain`` pointed from ``previous`` at ``new``: whether it is
    held pending (the caller then leaves the role as it is)."""
    if previous is None or new is None or not rules().governs(domain.name):
        return False
    fields = registrant_change.repoint_material_fields(
        contacts.snapshot(previous), contacts.snapshot(new)
    )
    if not fields:
        return False
    row = next((r for r in domain.roles if r.role == "registrant"), None)
    target = Target(domain.id, domain.name, row.contact.handle if row else None)
    prior = Registrant.of(previous.id, contacts.snapshot(previous))
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is not None:
        return await batch.add(session, actor.account_id, target, prior, new, fields)
    state = await _start(session, actor, [target], prior, new, fields, hold=None)
    return state is ChangeState.PENDING


@dataclass
class _Batch:
    """The changes of registrant of many domains' role assignments (a reassign), started
    together when they are done: one request, a few statements in all, not several per
    domain."""

    at_once: bool | None = None
    targets: dict[tuple[Registrant, Contact, tuple[str, ...]], list[Target]] = field(
        default_factory=dict
    )

    async def add(
        self,
        session: AsyncSession,
        account_id: int,
        target: Target,
        prior: Registrant,
        new: Contact,
        fields: Sequence[str],
    ) -> bool:
        """Whether the change will be held pending (as registrant_repointed answers)."""
        if self.at_once is None:
            _agent_found, self.at_once = await _decision(session, account_id)
        self.targets.setdefault((prior, new, tuple(fields)), []).append(target)
        return not self.at_once


def many_domains(session: AsyncSession) -> None:
    """Registrants repointed from now on are batched until started_together."""
    session.info[_BATCH] = _Batch()


async def started_together(session: AsyncSession, actor: Actor, *, completed: bool) -> None:
    """Starts the changes batched since many_domains (drops them unless ``completed``)."""
    batch: _Batch | None = session.info.pop(_BATCH, None)
    if batch is None or not completed:
        return
    for (prior, new, fields), targets in batch.targets.items():
        await _start(session, actor, targets, prior, new, fields, hold=None)


@dataclass(frozen=True)
class Check:
    domain: Domain
    contact: Contact
    fields: tuple[str, ...]  # empty: no change of registrant (the same person)


async def check(session: AsyncSession, account_id: int, domain_ref: str, contact: Contact) -> Check:
    """What pointing the domain's registrant at ``contact`` would be (DNSimple's check)."""
    view = await domains.get_domain_by_name_or_id(session, account_id, domain_ref)
    current = view.contact("registrant")
    fields = registrant_change.repoint_material_fields(
        contacts.snapshot(current) if current else {}, contacts.snapshot(contact)
    )
    return Check(view.domain, contact, fields)


async def change_registrant(
    session: AsyncSession, actor: Actor, domain_ref: str, contact: Contact
) -> RegistrantChange:
    """Points the domain's registrant at ``contact`` through the write path (DNSimple's
    registrant change): the change the policy made of it, pending or applied; one with the same
    person, or of a domain the policy doesn't govern, is applied and recorded with no fields."""
    view = await domains.get_domain_by_name_or_id(session, actor.account_id, domain_ref)
    current = view.contact("registrant")
    if current is not None and current.id == contact.id:
        raise NotApplicable(
            f"Contact `{contact.id}` is the registrant of `{view.domain.name}` already",
            code="registrant_unchanged",
        )
    domain_id = view.domain.id
    await domains.update_domain(
        session, actor, view.domain.name, {}, contacts_by_role={"registrant": contact.handle}
    )
    made: list[RegistrantChange] = session.info.get(_MADE, [])
    if mine := [change for change in made if change.domain_id == domain_id]:
        return mine[-1]
    now = utcnow()
    prior = Registrant.of(
        current.id if current else None, contacts.snapshot(current) if current else {}
    )
    request, _new = await _request(session, actor, prior, contact, (), now, plain=True)
    target = Target(domain_id, view.domain.name, current.handle if current else None)
    [change] = await _insert_changes(session, request, [target], prior, contact, now)
    await _applied(session, actor, request, [change], now, notify=False)
    return change


async def would_hold(
    session: AsyncSession, actor: Actor, domain_name: str, previous: Contact, new: Contact
) -> bool:
    """Whether registrant_repointed would hold the change pending (a dry run's question)."""
    if not rules().governs(domain_name):
        return False
    if not registrant_change.repoint_material_fields(
        contacts.snapshot(previous), contacts.snapshot(new)
    ):
        return False
    _agent_found, at_once = await _decision(session, actor.account_id)
    return not at_once


async def _decision(
    session: AsyncSession, account_id: int, *, plain: bool = False
) -> tuple[DesignatedAgent | None, bool]:
    """The Designated Agent that approves (cor-2024), and whether a change applies at once:
    always under cord-2026 or for a ``plain`` one (no change of registrant the policy governs),
    under cor-2024 with an agent for both parties."""
    if plain or rules().policy is not Policy.COR_2024:
        return None, True
    agent = await _agent(session, account_id)
    return agent, agent is not None and agent.parties == AgentParties.BOTH


async def registrant_edited(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    before: Mapping[str, Any],
    fields: Sequence[str],
) -> None:
    """A material edit of ``contact``, which may be the registrant of domains the policy
    governs (by its own role rows, or as the default standing in for unset ones), or the new
    registrant of pending changes."""
    await _new_party_edited(session, actor, contact)
    user = domains_repository.UsedBy(contact.id, contact.is_default)
    registered = await domains_repository.registrant_of(session, actor.account_id, user)
    targets = [
        Target(i, name, contact.handle if own else None)
        for i, name, own in registered
        if rules().governs(name)
    ]
    if not targets:
        return
    prior = Registrant.of(contact.id, before)
    await _start(session, actor, targets, prior, contact, fields, hold=before)


async def _new_party_edited(session: AsyncSession, actor: Actor, contact: Contact) -> None:
    """The new registrant of pending changes was edited: what the parties were asked to
    confirm is no longer what would apply. Each is replaced by a change to the contact as it is
    now (both parties asked again), or cancelled when it now has the prior registrant's name,
    organisation and email."""
    pending = await repository.pending_for_new_contact(session, actor.account_id, contact.id)
    if not pending:
        return
    # Their requests first, as a confirmation locks them; then the changes as they are now.
    await repository.requests_by_ids(session, {c.request_id for c in pending}, lock=True)
    pending = await repository.pending_for_new_contact(session, actor.account_id, contact.id)
    by_prior: dict[int | None, list[RegistrantChange]] = {}
    for change in pending:
        by_prior.setdefault(change.prior_contact_id, []).append(change)
    for prior_id, changes in by_prior.items():
        ref = contacts.ContactRef(id=prior_id) if prior_id is not None else None
        prior = ref and await contacts.find_contact(session, actor.account_id, ref)
        version = contacts.snapshot(prior) if prior else {}
        fields = registrant_change.repoint_material_fields(version, contacts.snapshot(contact))
        if fields:
            targets = [Target(c.domain_id, c.domain_name, c.prior_handle) for c in changes]
            registrant = Registrant.of(prior_id, version)
            await _start(session, actor, targets, registrant, contact, fields, hold=None)
        else:
            await _replace_pending(session, actor, [c.domain_id for c in changes], utcnow())


async def default_moved(
    session: AsyncSession, actor: Actor, previous: Contact, new: Contact
) -> None:
    """The account's default moved from ``previous`` to ``new``: the domains leaving their
    registrant role unset would change registrant with it. Pending, they are pinned to
    ``previous`` (their role names it from then on, whatever the change's outcome)."""
    fields = registrant_change.repoint_material_fields(
        contacts.snapshot(previous), contacts.snapshot(new)
    )
    if not fields:
        return
    user = domains_repository.UsedBy(new.id, True)
    unset = await domains_repository.registrant_of(session, actor.account_id, user, explicit=False)
    targets = [Target(i, name, None) for i, name, _own in unset if rules().governs(name)]
    if targets:
        prior = Registrant.of(previous.id, contacts.snapshot(previous))
        await _start(session, actor, targets, prior, new, fields, hold=previous)


async def _start(
    session: AsyncSession,
    actor: Actor,
    targets: Sequence[Target],
    prior: Registrant,
    new: Contact,
    fields: Sequence[str],
    *,
    hold: Mapping[str, Any] | Contact | None,
) -> ChangeState:
    """Records the change of ``targets`` under the policy in force. ``hold``: whom the domains
    keep as registrant while the change is pending: the prior details of an edited contact
    (kept as a contact), or the prior contact itself."""
    now = utcnow()
    request, new_request = await _request(session, actor, prior, new, fields, now)
    at_once = request.state is ChangeState.APPLIED
    await _replace_pending(session, actor, [t.domain_id for t in targets], now)
    domains = None
    if hold is not None and not at_once:
        kept = (
            hold if isinstance(hold, Contact) else await _keep_prior_details(session, actor, hold)
        )
        domains = await roles.repoint_registrants(session, actor, targets, kept)
        prior = Registrant(kept.id, kept.handle, prior.email, prior.name)
    changes = await _insert_changes(session, request, targets, prior, new, now, new_request)
    await _emit(
        session,
        actor,
        catalogue.DOMAIN_REGISTRANT_CHANGE_STARTED,
        changes,
        request=request,
        domains=domains,
    )
    if at_once:
        await _applied(session, actor, request, changes, now, notify=new_request)
    else:
        session.info.setdefault(_STARTED, []).extend(changes)
        for party in Party:
            if new_request and _confirmed_at(request, party) is None:
                _mail(session, request, party, MailKind.CONFIRM)
    return request.state


async def _replace_pending(
    session: AsyncSession, actor: Actor, domain_ids: Sequence[int], now: datetime
) -> None:
    """Cancels the pending changes of these domains (a newer change replaces them, or none is
    needed any more); a request left with none pending ends too, so its links say so. The
    requests are locked first, as a confirmation locks them."""
    pending = await repository.pending_for_domains(session, actor.account_id, domain_ids)
    if not pending:
        return
    requests = await repository.requests_by_ids(
        session, {change.request_id for change in pending.values()}, lock=True
    )
    ended = await repository.end_pending(
        session, actor.account_id, list(pending), ChangeState.CANCELLED, at=now
    )
    # Not one this transaction made: the change replacing them may be joining it.
    made_now = {request.id for request in session.info.get(_REQUESTS, {}).values()}
    for request in requests.values():
        if request.id in made_now or request.state is not ChangeState.PENDING:
            continue
        if not await repository.of_request(session, request.id, state=ChangeState.PENDING):
            request.state, request.ended_at = ChangeState.CANCELLED, now
    await _emit(session, actor, catalogue.DOMAIN_REGISTRANT_CHANGE_CANCELLED, ended)


async def _request(
    session: AsyncSession,
    actor: Actor,
    prior: Registrant,
    new: Contact,
    fields: Sequence[str],
    now: datetime,
    *,
    plain: bool = False,
) -> tuple[RegistrantChangeRequest, bool]:
    """The request the changes join, and whether it is new: one per (prior, new, fields) in a
    transaction, so a bulk reassign of 1,000 domains asks each party once, in one mail.
    ``plain``: no change of registrant the policy governs, recorded as applied."""
    requests = session.info.setdefault(_REQUESTS, {})
    key = (actor.account_id, prior.contact_id, new.id, tuple(fields))
    if key in requests:
        return requests[key], False
    policy = rules().policy
    agent, at_once = await _decision(session, actor.account_id, plain=plain)
    new_party = Registrant.of(new.id, contacts.snapshot(new))
    request = RegistrantChangeRequest(
        account_id=actor.account_id,
        policy=policy,
        state=ChangeState.APPLIED if at_once else ChangeState.PENDING,
        fields=list(fields),
        prior_email=prior.email,
        prior_name=prior.name,
        new_email=new_party.email,
        new_name=new_party.name,
        requested_by=actor_label(actor),
        created_at=now,
    )
    if policy is Policy.CORD_2026 and not plain:
        request.notify_due_at = now + rules().notice_delay
    elif not plain:
        request.expires_at = None if at_once else now + rules().expiry
        if agent is not None:
            request.designated_agent_id = agent.id
            for party in _covered(agent):
                _confirm(request, party, f"agent:{agent.id}", now)
    session.add(request)
    await session.flush()
    requests[key] = request
    return request, True


async def _keep_prior_details(
    session: AsyncSession, actor: Actor, before: Mapping[str, Any]
) -> Contact:
    """The edited registrant's prior details as a contact: the account's identical one if it
    has one (dedup), else a new one."""
    fields: dict[str, Any] = {field: before.get(field) for field in TEXT_FIELDS}
    fields |= {"metadata": before.get("metadata"), "extension_data": before.get("extension_data")}
    outcome = await contacts.create_contact(session, actor, fields)
    return outcome.contact


async def _insert_changes(
    session: AsyncSession,
    request: RegistrantChangeRequest,
    targets: Sequence[Target],
    prior: Registrant,
    new: Contact,
    now: datetime,
    new_request: bool = False,
) -> list[RegistrantChange]:
    """The changes as plain rows (an edit of a registrant of 10,000 domains), then loaded: by
    their request when it is new (they are all of its changes: one statement instead of an id
    list in chunks), else by id."""
    applied = request.state is ChangeState.APPLIED
    rows = [
        {
            "account_id": request.account_id,
            "request_id": request.id,
            "domain_id": target.domain_id,
            "domain_name": target.domain_name,
            "policy": request.policy,
            "state": request.state,
            "prior_contact_id": prior.contact_id,
            "prior_handle": prior.handle,
            "new_contact_id": new.id,
            "new_handle": new.handle,
            "fields": request.fields,
            "created_at": now,
            "updated_at": now,
            "applied_at": now if applied else None,
            "ended_at": None,
            "transfer_lock_until": None,
            "lock_released_at": None,
        }
        for target in targets
    ]
    table = cast(Table, RegistrantChange.__table__)
    ids = await insert_rows_with_ids(session, table, rows, key="domain_id")
    if new_request:
        changes = list(await repository.of_request(session, request.id))
    else:
        changes = list(await repository.by_ids(session, list(ids.values())))
    session.info.setdefault(_MADE, []).extend(changes)
    return changes


# --- confirming and applying ----------------------------------------------------------------


def _covered(agent: DesignatedAgent) -> list[Party]:
    if agent.parties == AgentParties.BOTH:
        return [Party.PRIOR, Party.NEW]
    return [Party(agent.parties.value)]


def _confirmed_at(request: RegistrantChangeRequest, party: Party) -> datetime | None:
    return request.prior_confirmed_at if party is Party.PRIOR else request.new_confirmed_at


def _confirm(request: RegistrantChangeRequest, party: Party, by: str, now: datetime) -> None:
    if party is Party.PRIOR:
        request.prior_confirmed_at, request.prior_confirmed_by = now, by
    else:
        request.new_confirmed_at, request.new_confirmed_by = now, by


async def _agent(session: AsyncSession, account_id: int) -> DesignatedAgent | None:
    """The account's Designated Agent that covers the most parties (both over one)."""
    found = await repository.active_agents(session, account_id)
    both = [agent for agent in found if agent.parties == AgentParties.BOTH]
    return next(iter(both or found), None)


async def _applied(
    session: AsyncSession,
    actor: Actor,
    request: RegistrantChangeRequest,
    changes: Sequence[RegistrantChange],
    now: datetime,
    *,
    notify: bool = True,
) -> None:
    """The changes were applied now (their roles point at the new registrant): the lock
    (cor-2024), the events, the notices (``notify``: not yet sent for this request)."""
    for change in changes:
        change.state, change.applied_at, change.updated_at = ChangeState.APPLIED, now, now
    if request.policy is Policy.COR_2024 and request.fields:
        await _lock(session, actor, changes, now + rules().transfer_lock)
        for party in Party if notify else ():
            _mail(session, request, party, MailKind.APPLIED)
    await _emit(session, actor, catalogue.DOMAIN_REGISTRANT_CHANGE_APPLIED, changes)


async def _lock(
    session: AsyncSession, actor: Actor, changes: Sequence[RegistrantChange], until: datetime
) -> None:
    """The 60-day transfer lock on each domain whose registrant did not opt out; a new
    change restarts it."""
    if not rules().transfer_lock:
        return
    by_domain = {change.domain_id: change for change in changes}
    locked = await domains_repository.set_transfer_lock(
        session, changes[0].account_id, list(by_domain), until
    )
    for domain in locked:
        by_domain[domain.id].transfer_lock_until = until
    await emit_many(
        session,
        actor,
        catalogue.DOMAIN_TRANSFER_LOCK_ADDED,
        [lock_payload(d, lock="registrant_change", action="added") for d in locked],
    )


async def _apply_confirmed(
    session: AsyncSession, actor: Actor, request: RegistrantChangeRequest
) -> None:
    """Both parties confirmed: the pending changes point their domains at the new registrant,
    unless a dispute hold came meanwhile (refused, nothing written)."""
    now = utcnow()
    changes = list(await repository.of_request(session, request.id, state=ChangeState.PENDING))
    domains = await domains_repository.lock_many(
        session, request.account_id, [c.domain_id for c in changes]
    )
    held = [domain.name for domain in domains if domain.dispute_hold]
    if held:
        raise dispute_hold.refusal(held, request.fields)
    by_id = {domain.id: domain for domain in domains}
    new = {
        c.new_contact_id: await contacts.get_contact(
            session, request.account_id, contacts.ContactRef(id=c.new_contact_id), lock="key_share"
        )
        for c in changes
    }
    live = [change for change in changes if change.domain_id in by_id]
    for change in live:
        domain = by_id[change.domain_id]
        await roles.assign_roles(
            session, actor, domain, {"registrant": new[change.new_contact_id]}, decided=True
        )
    gone = [change for change in changes if change.domain_id not in by_id]
    for change in gone:  # deleted meanwhile: nothing left to change
        change.state, change.ended_at, change.updated_at = ChangeState.CANCELLED, now, now
    request.state = ChangeState.APPLIED
    await _applied(session, actor, request, live, now)


# --- links ----------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(session: AsyncSession, request: RegistrantChangeRequest, party: Party) -> str:
    """A party's link secret: 256 random bits, kept only as its SHA-256, valid until the
    request expires."""
    token = secrets.token_urlsafe(32)
    session.add(
        RegistrantChangeToken(
            token_hash=token_hash(token),
            request_id=request.id,
            account_id=request.account_id,
            party=party,
            created_at=utcnow(),
            expires_at=request.expires_at or utcnow(),
        )
    )
    return token


class TokenGone(NotFound):
    """A link that was valid once: used, expired, or its change ended (the page says which)."""

    code = "registrant_change_token_gone"


@dataclass(frozen=True)
class Confirmation:
    request: RegistrantChangeRequest
    party: Party
    domains: list[str]


async def by_token(session: AsyncSession, token: str, *, lock: bool = False) -> Confirmation:
    """What a party's link confirms; NotFound (unknown) or TokenGone."""
    found = await repository.by_token_hash(session, token_hash(token), lock=lock)
    if found is None:
        raise NotFound(
            "This confirmation link is not known", code="registrant_change_token_unknown"
        )
    row, request = found
    if request.state is not ChangeState.PENDING:
        raise TokenGone(f"This change of registrant is {request.state.value} already")
    if _confirmed_at(request, row.party) is not None:
        raise TokenGone("This change of registrant is confirmed already: the link has been used")
    if row.expires_at <= utcnow():
        raise TokenGone("This confirmation link has expired", code="registrant_change_link_expired")
    changes = await repository.of_request(session, request.id, state=ChangeState.PENDING)
    return Confirmation(request, row.party, [change.domain_name for change in changes])


async def confirm_by_token(session: AsyncSession, token: str) -> Confirmation:
    """A party confirmed through its mailed link; with both confirmed, the change applies."""
    # The new registrant before the request, as an edit of it (which may replace the request)
    # locks them: the two queue instead of deadlocking.
    peek = await by_token(session, token)
    if pending := await repository.of_request(session, peek.request.id, state=ChangeState.PENDING):
        new_party = contacts.ContactRef(id=pending[0].new_contact_id)
        await contacts.find_contact(session, peek.request.account_id, new_party, lock="key_share")
    confirmation = await by_token(session, token, lock=True)
    request = confirmation.request
    actor = Actor(request.account_id, None, "web")
    _confirm(request, confirmation.party, "link", utcnow())
    changes = await repository.of_request(session, request.id, state=ChangeState.PENDING)
    if confirmation.party is Party.NEW and changes:
        # The new registrant answered a mail to its address: that verifies the address too
        # (ICANN's RAA asks for an affirmative response from it), so no second mail asks.
        new = await contacts.find_contact(
            session, request.account_id, contacts.ContactRef(id=changes[0].new_contact_id)
        )
        if new is not None and new.email_normalized == request.new_email.casefold():
            await verification.verify_contact_email(
                session, actor, new, method=VerificationMethod.LINK
            )
    await _emit(
        session,
        actor,
        catalogue.DOMAIN_REGISTRANT_CHANGE_CONFIRMED,
        changes,
        request=request,
        confirmed_by=f"{confirmation.party.value}:link",
    )
    if request.prior_confirmed_at is not None and request.new_confirmed_at is not None:
        await _apply_confirmed(session, actor, request)
    await session.flush()
    return confirmation


# --- cancelling, expiring, the worker's deadlines -------------------------------------------


async def cancel(session: AsyncSession, actor: Actor, change_id: int | str) -> RegistrantChange:
    """Cancels a pending change (its domain keeps the registrant it has now)."""
    found = await get_change(session, actor.account_id, change_id)
    # The request first, as a confirmation locks it: the two queue instead of deadlocking.
    request = await repository.request_by_id(session, found.request_id, lock=True)
    change = await get_change(session, actor.account_id, found.id, lock=True)
    if change.state is not ChangeState.PENDING:
        raise Conflict(
            f"Registrant change {change.id} is {change.state.value}: only a pending one can be "
            "cancelled",
            code="registrant_change_not_pending",
        )
    now = utcnow()
    change.state, change.ended_at, change.updated_at = ChangeState.CANCELLED, now, now
    await session.flush()
    if request is not None and not await repository.of_request(
        session, request.id, state=ChangeState.PENDING
    ):
        request.state, request.ended_at = ChangeState.CANCELLED, now
    await _emit(session, actor, catalogue.DOMAIN_REGISTRANT_CHANGE_CANCELLED, [change])
    return change


async def run_due(session: AsyncSession, *, limit: int) -> int:
    """One round of deadlines: expiries, locks ending, cord-2026 notices (up to ``limit`` of
    each, claimed so concurrent workers take different ones)."""
    now = utcnow()
    handled = 0
    for request in await repository.claim_expired(session, now, limit=limit):
        changes = await repository.of_request(session, request.id, state=ChangeState.PENDING)
        for change in changes:
            change.state, change.ended_at, change.updated_at = ChangeState.EXPIRED, now, now
        request.state, request.ended_at = ChangeState.EXPIRED, now
        actor = Actor(request.account_id, None, "worker")
        await _emit(session, actor, catalogue.DOMAIN_REGISTRANT_CHANGE_EXPIRED, changes)
        for party in Party:
            _mail(session, request, party, MailKind.EXPIRED)
        handled += 1
    for request in await repository.claim_notices(session, now, limit=limit):
        request.notified_at = now
        for party in await _notice_parties(session, request):
            _mail(session, request, party, MailKind.NOTICE)
        handled += 1
    ending: dict[int, list[RegistrantChange]] = {}
    for change in await repository.claim_locks_ending(session, now, limit=limit):
        change.lock_released_at = now
        ending.setdefault(change.account_id, []).append(change)
        handled += 1
    for account_id, changes in ending.items():
        domains = await domains_repository.settings_by_ids(
            session, account_id, [change.domain_id for change in changes]
        )
        by_id = {domain.id: domain for domain in domains}
        removed = [
            lock_payload(by_id[change.domain_id], lock="registrant_change", action="removed")
            for change in changes
            # A newer change restarted the lock: that one's end removes it.
            if change.domain_id in by_id
            and by_id[change.domain_id].transfer_lock_until == change.transfer_lock_until
        ]
        actor = Actor(account_id, None, "worker")
        await emit_many(session, actor, catalogue.DOMAIN_TRANSFER_LOCK_REMOVED, removed)
    return handled


async def _notice_parties(session: AsyncSession, request: RegistrantChangeRequest) -> list[Party]:
    """cord-2026: the registrant, unless it opted out; the prior address when the email
    changed (the prior holder of the address is told, whatever the new one chose)."""
    parties = []
    changes = await repository.of_request(session, request.id)
    new_contact = changes[0].new_contact_id if changes else None
    if new_contact is None or await repository.notice_opt_out(session, new_contact) is None:
        parties.append(Party.NEW)
    if request.prior_email.casefold() != request.new_email.casefold():
        parties.append(Party.PRIOR)
    return parties


def _mail(
    session: AsyncSession, request: RegistrantChangeRequest, party: Party, kind: MailKind
) -> None:
    to = request.prior_email if party is Party.PRIOR else request.new_email
    if not to:
        return
    session.add(
        RegistrantChangeMail(
            account_id=request.account_id,
            request_id=request.id,
            party=party,
            kind=kind,
            to_email=to,
        )
    )


# --- events ---------------------------------------------------------------------------------


def payload(
    change: RegistrantChange,
    domain: DomainState,
    registrant: dict[str, Any],
    *,
    expires_at: datetime | None = None,
    confirmed_by: str | None = None,
) -> catalogue.RegistrantChangeEvent:
    applied = change.state is ChangeState.APPLIED
    event = catalogue.RegistrantChangeEvent(
        **settings_payload(domain),  # type: ignore[typeddict-item]  # a DomainChanged in full
        registrant_change_id=change.id,
        policy=change.policy.value,
        state=change.state.value,
        prior_contact=change.prior_handle,
        new_contact=change.new_handle,
        fields=list(change.fields),
        requested_at=catalogue.timestamp(change.created_at),
        registrant_id=change.new_contact_id if applied else change.prior_contact_id,
        registrant=registrant,
    )
    if change.state is ChangeState.PENDING and expires_at is not None:
        event["confirm_by"] = catalogue.timestamp(expires_at)
    if change.applied_at is not None:
        event["applied_at"] = catalogue.timestamp(change.applied_at)
    if change.transfer_lock_until is not None:
        event["transfer_lock_until"] = catalogue.timestamp(change.transfer_lock_until)
    if confirmed_by is not None:
        event["confirmed_by"] = confirmed_by
    return event


async def _emit(
    session: AsyncSession,
    actor: Actor,
    event: catalogue.EventType[catalogue.RegistrantChangeEvent],
    changes: Sequence[RegistrantChange],
    *,
    request: RegistrantChangeRequest | None = None,
    confirmed_by: str | None = None,
    domains: Sequence[DomainSettings] | None = None,
) -> None:
    """One event per change, with its domain's settings (read now unless ``domains`` has
    them) and the new registrant (a domain deleted meanwhile has its own domain.deleted)."""
    if not changes:
        return
    account_id = changes[0].account_id
    found = domains
    if found is None:
        ids = [c.domain_id for c in changes]
        found = await domains_repository.settings_by_ids(session, account_id, ids)
    by_id = {domain.id: domain for domain in found}
    registrants = {}
    for contact_id in {change.new_contact_id for change in changes}:
        contact = await contacts.find_contact(
            session, account_id, contacts.ContactRef(id=contact_id)
        )
        registrants[contact_id] = {
            "id": contact_id,
            **(contacts.snapshot(contact) if contact else {}),
        }
    expires_at = request.expires_at if request is not None else None
    payloads = [
        payload(
            change,
            by_id[change.domain_id],
            registrants[change.new_contact_id],
            expires_at=expires_at,
            confirmed_by=confirmed_by,
        )
        for change in changes
        if change.domain_id in by_id
    ]
    await emit_many(session, actor, event, payloads)


# --- reading --------------------------------------------------------------------------------


def not_found(change_id: int | str) -> NotFound:
    return NotFound(
        f"Registrant change `{change_id}` not found", code="registrant_change_not_found"
    )


async def get_change(
    session: AsyncSession, account_id: int, change_id: int | str, *, lock: bool = False
) -> RegistrantChange:
    number = int(change_id) if str(change_id).isdigit() and len(str(change_id)) < 10 else None
    found = number and await repository.by_id(session, account_id, number, lock=lock)
    if not found:
        raise not_found(change_id)
    return found


async def list_changes(
    session: AsyncSession, account_id: int, where: ChangeFilter, request: PageRequest
) -> Page[RegistrantChange]:
    items, total = await repository.page(session, account_id, where, request)
    return Page(items=list(items), total=total, request=request)


async def pending_for_domains(
    session: AsyncSession, account_id: int, domain_ids: Sequence[int]
) -> dict[int, RegistrantChange]:
    """Domain id -> its pending change (a page of domains in one query)."""
    return await repository.pending_for_domains(session, account_id, list(domain_ids))


async def requests_of(
    session: AsyncSession, changes: Sequence[RegistrantChange]
) -> dict[int, RegistrantChangeRequest]:
    """Request id -> the request of each of the changes (a page in one query)."""
    return await repository.requests_by_ids(session, {change.request_id for change in changes})


# --- Designated Agents and notice opt-outs --------------------------------------------------


async def add_agent(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    email: str,
    parties: str,
    authorized_at: datetime | None,
) -> DesignatedAgent:
    """Records a Designated Agent's authorisation (who, when, for which parties)."""
    errors = ErrorCollector()
    if not name.strip():
        errors.add("name", "blank", "can't be blank")
    if "@" not in email.strip()[1:-1]:
        errors.add("email", "invalid", "must be an email address")
    if parties not in {p.value for p in AgentParties}:
        errors.add("parties", "invalid", "must be prior, new or both")
    if authorized_at is not None and authorized_at > utcnow():
        errors.add("authorized_at", "invalid", "can't be in the future")
    errors.raise_if_any()
    agent = DesignatedAgent(
        account_id=actor.account_id,
        name=name.strip(),
        email=email.strip(),
        parties=AgentParties(parties),
        authorized_at=authorized_at or utcnow(),
        recorded_by=actor_label(actor),
        created_at=utcnow(),
    )
    session.add(agent)
    await session.flush()
    return agent


async def list_agents(session: AsyncSession, account_id: int) -> list[DesignatedAgent]:
    return list(await repository.agents(session, account_id))


async def revoke_agent(session: AsyncSession, actor: Actor, agent_id: int | str) -> None:
    number = int(agent_id) if str(agent_id).isdigit() and len(str(agent_id)) < 10 else None
    agent = number and await repository.agent_by_id(session, actor.account_id, number, lock=True)
    if not agent or agent.revoked_at is not None:
        raise NotFound(
            f"Designated agent `{agent_id}` not found", code="designated_agent_not_found"
        )
    agent.revoked_at = utcnow()


async def set_notices(
    session: AsyncSession, actor: Actor, contact: Contact, *, enabled: bool
) -> NoticeOptOut | None:
    """cord-2026's change notices for a registrant: on (the default) or off, kept with time."""
    found = await repository.notice_opt_out(session, contact.id)
    if enabled and found is not None:
        await session.delete(found)
        return None
    if not enabled and found is None:
        found = NoticeOptOut(
            contact_id=contact.id,
            account_id=actor.account_id,
            opted_out_at=utcnow(),
            opted_out_by=actor_label(actor),
        )
        session.add(found)
        await session.flush()
    return found


async def notices_opted_out(session: AsyncSession, contact: Contact) -> NoticeOptOut | None:
    return await repository.notice_opt_out(session, contact.id)
