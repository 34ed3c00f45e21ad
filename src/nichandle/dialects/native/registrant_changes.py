"""The native change-of-registrant API, /api/v1: the changes (list, read, cancel), the
Designated Agents who may approve them, and a registrant's cord-2026 notice opt-out.
docs/registrant-change.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from nichandle.contacts import service as contacts
from nichandle.dialects.deps import ReadSession, SettingsDep, WriteSession
from nichandle.dialects.native.routes import ERRORS, TOO_LARGE, ActorDep, registrant_change_reads
from nichandle.dialects.native.schemas import (
    Links,
    PageMeta,
    RegistrantChangeRead,
    WireDatetime,
    page_links,
)
from nichandle.domains import service as domains
from nichandle.paging import MAX_PER_PAGE, page_request
from nichandle.registrant_changes import service
from nichandle.registrant_changes.models import (
    ChangeState,
    DesignatedAgent,
)
from nichandle.registrant_changes.repository import ChangeFilter

router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["registrant changes"])


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class RegistrantChangeEnvelope(BaseModel):
    data: RegistrantChangeRead


class RegistrantChangePage(BaseModel):
    data: list[RegistrantChangeRead]
    links: Links
    meta: PageMeta


@router.get(
    "/registrant-changes",
    response_model=RegistrantChangePage,
    operation_id="listRegistrantChanges",
)
async def list_registrant_changes(
    request: Request,
    session: ReadSession,
    actor: ActorDep,
    settings: SettingsDep,
    domain: str | None = None,
    contact: Annotated[str | None, Query(description="the prior or the new registrant")] = None,
    state: ChangeState | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 30,
) -> RegistrantChangePage:
    """The team's changes of registrant, newest first."""
    domain_id = contact_id = None
    if domain is not None:
        domain_id = (await domains.get_domain_model(session, actor.account_id, domain)).id
    if contact is not None:
        contact_id = (await contacts.get_contact(session, actor.account_id, contact)).id
    states = (state,) if state is not None else ()
    where = ChangeFilter(domain_id=domain_id, contact_id=contact_id, states=states)
    result = await service.list_changes(
        session, actor.account_id, where, page_request(page, per_page)
    )
    links, meta = page_links(request.url, result, settings.public_url)
    return RegistrantChangePage(
        data=await registrant_change_reads(session, result.items), links=links, meta=meta
    )


@router.get(
    "/registrant-changes/{change_id}",
    response_model=RegistrantChangeEnvelope,
    operation_id="getRegistrantChange",
)
async def get_registrant_change(
    change_id: str, session: ReadSession, actor: ActorDep
) -> RegistrantChangeEnvelope:
    change = await service.get_change(session, actor.account_id, change_id)
    [read] = await registrant_change_reads(session, [change])
    return RegistrantChangeEnvelope(data=read)


@router.delete(
    "/registrant-changes/{change_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="cancelRegistrantChange",
)
async def cancel_registrant_change(
    change_id: str, session: WriteSession, actor: ActorDep
) -> Response:
    """Cancel a pending change; its domain keeps the registrant it shows now."""
    await service.cancel(session, actor, change_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- Designated Agents ----------------------------------------------------------------------


class AgentCreate(_Input):
    name: str = Field(max_length=255)
    email: str = Field(max_length=320)
    parties: Literal["prior", "new", "both"]
    authorized_at: WireDatetime | None = Field(
        default=None, description="When the registrant gave the authorisation (default: now)"
    )


class AgentRead(BaseModel):
    id: int
    name: str
    email: str
    parties: str
    authorized_at: datetime
    recorded_by: str
    revoked_at: datetime | None

    @classmethod
    def of(cls, agent: DesignatedAgent) -> AgentRead:
        return cls(
            id=agent.id,
            name=agent.name,
            email=agent.email,
            parties=agent.parties.value,
            authorized_at=agent.authorized_at,
            recorded_by=agent.recorded_by,
            revoked_at=agent.revoked_at,
        )


class AgentEnvelope(BaseModel):
    data: AgentRead


class AgentList(BaseModel):
    data: list[AgentRead]


@router.post(
    "/designated-agents",
    response_model=AgentEnvelope,
    status_code=status.HTTP_201_CREATED,
    operation_id="createDesignatedAgent",
    responses=TOO_LARGE,
)
async def create_designated_agent(
    body: AgentCreate, session: WriteSession, actor: ActorDep
) -> AgentEnvelope:
    """Record a Designated Agent's authorisation: changes of registrant of the parties it
    covers need no confirmation link (both: applied at once)."""
    agent = await service.add_agent(
        session,
        actor,
        name=body.name,
        email=body.email,
        parties=body.parties,
        authorized_at=body.authorized_at,
    )
    return AgentEnvelope(data=AgentRead.of(agent))


@router.get("/designated-agents", response_model=AgentList, operation_id="listDesignatedAgents")
async def list_designated_agents(session: ReadSession, actor: ActorDep) -> AgentList:
    """Every authorisation recorded, revoked ones included, by id."""
    return AgentList(
        data=[AgentRead.of(a) for a in await service.list_agents(session, actor.account_id)]
    )


@router.delete(
    "/designated-agents/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="revokeDesignatedAgent",
)
async def revoke_designated_agent(
    agent_id: str, session: WriteSession, actor: ActorDep
) -> Response:
    """Revoke an authorisation (kept, with when it ended)."""
    await service.revoke_agent(session, actor, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- cord-2026 notices ----------------------------------------------------------------------


class NoticesUpdate(_Input):
    enabled: bool


class NoticesRead(BaseModel):
    enabled: bool
    opted_out_at: datetime | None
    opted_out_by: str | None


class NoticesEnvelope(BaseModel):
    data: NoticesRead


def _notices(opt_out: object) -> NoticesEnvelope:
    at = getattr(opt_out, "opted_out_at", None)
    by = getattr(opt_out, "opted_out_by", None)
    return NoticesEnvelope(
        data=NoticesRead(enabled=opt_out is None, opted_out_at=at, opted_out_by=by)
    )


@router.get(
    "/contacts/{handle}/registrant-change-notices",
    response_model=NoticesEnvelope,
    operation_id="getRegistrantChangeNotices",
)
async def get_notices(handle: str, session: ReadSession, actor: ActorDep) -> NoticesEnvelope:
    """Whether the registrant gets cord-2026's notices of changes (on unless opted out)."""
    contact = await contacts.get_contact(session, actor.account_id, handle)
    return _notices(await service.notices_opted_out(session, contact))


@router.put(
    "/contacts/{handle}/registrant-change-notices",
    response_model=NoticesEnvelope,
    operation_id="setRegistrantChangeNotices",
    responses=TOO_LARGE,
)
async def set_notices(
    handle: str, body: NoticesUpdate, session: WriteSession, actor: ActorDep
) -> NoticesEnvelope:
    """Opt the registrant out of cord-2026's notices (kept with time and who), or back in."""
    contact = await contacts.get_contact(session, actor.account_id, handle, lock="key_share")
    return _notices(await service.set_notices(session, actor, contact, enabled=body.enabled))
