"""Pending changes of registrant on the signed-in pages: what a domain's and a contact's page
show of them, and the domain page's Cancel (the native API's DELETE, as a form)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.dialects.deps import WriteSession
from nichandle.registrant_changes import service
from nichandle.registrant_changes.models import (
    Party,
    RegistrantChange,
    RegistrantChangeRequest,
)
from nichandle.web.pages import SignedInForm, redirect

router = APIRouter()


@dataclass(frozen=True)
class Confirmed:
    """One party of a change and whether (when, how) it confirmed."""

    party: Party
    name: str
    email: str
    at: datetime | None
    by: str  # "" while waiting; "the mailed link", "Designated Agent 3"


@dataclass(frozen=True)
class PendingChange:
    change: RegistrantChange
    fields: list[str]  # in words: "first name", "email"
    expires_at: datetime | None
    parties: list[Confirmed]


def _by(how: str | None) -> str:
    """A confirmation's "how" as stored (link, agent:ID), in words."""
    if not how:
        return ""
    if how.startswith("agent:"):
        return f"Designated Agent {how.removeprefix('agent:')}"
    return "the mailed link" if how == "link" else how


def _view(change: RegistrantChange, request: RegistrantChangeRequest | None) -> PendingChange:
    parties = []
    if request is not None:
        parties = [
            Confirmed(
                Party.PRIOR,
                request.prior_name,
                request.prior_email,
                request.prior_confirmed_at,
                _by(request.prior_confirmed_by),
            ),
            Confirmed(
                Party.NEW,
                request.new_name,
                request.new_email,
                request.new_confirmed_at,
                _by(request.new_confirmed_by),
            ),
        ]
    return PendingChange(
        change=change,
        fields=[field.replace("_", " ") for field in change.fields],
        expires_at=request.expires_at if request is not None else None,
        parties=parties,
    )


async def views(session: AsyncSession, changes: Sequence[RegistrantChange]) -> list[PendingChange]:
    """The changes with their parties' confirmations and expiry (their requests, one query)."""
    requests = await service.requests_of(session, changes)
    return [_view(change, requests.get(change.request_id)) for change in changes]


@router.post("/registrant-changes/{change_id}/cancel")
async def cancel(
    change_id: str, request: Request, web: SignedInForm, session: WriteSession
) -> Response:
    """Cancels a pending change of registrant; the domain keeps the registrant it has."""
    change = await service.cancel(session, web.actor, change_id)
    return redirect(request, f"/domains/{change.domain_name}", cancelled="1")
