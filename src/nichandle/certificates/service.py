"""The rules of certificates: each names the contact it was issued to, which then can't be
deleted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from nichandle.accounts.service import Actor
from nichandle.certificates import repository
from nichandle.certificates.models import Certificate, CertificateState
from nichandle.contacts import service as contacts
from nichandle.contacts.models import Contact
from nichandle.contacts.service import ContactRef
from nichandle.db.base import parse_id, utcnow
from nichandle.domains import limits, names
from nichandle.errors import ErrorCollector, NotFound
from nichandle.events import catalogue
from nichandle.events.service import emit
from nichandle.history.service import ContactChange
from nichandle.paging import Page, PageRequest


async def add_certificate(
    session: AsyncSession,
    actor: Actor,
    *,
    common_name: str,
    contact_handle: str | None,
    state: CertificateState = CertificateState.ISSUED,
    expires_at: datetime | None = None,
) -> Certificate:
    """Records a certificate and the contact it was issued to (the default if none given)."""
    errors = ErrorCollector()
    try:
        cn = names.to_ascii(common_name.removeprefix("*.")) if common_name else ""
        cn = f"*.{cn}" if common_name.startswith("*.") else cn
    except names.InvalidName as exc:
        errors.add("common_name", "invalid", str(exc))
        cn = ""
    if not common_name:
        errors.add("common_name", "blank", "can't be blank")
    contact: Contact | None = None
    if contact_handle:
        contact = await contacts.find_contact(
            session, actor.account_id, ContactRef(handle=contact_handle), lock="key_share"
        )
        if contact is None:
            errors.add("contact", "not_found", f"contact `{contact_handle}` not found")
    else:
        contact = await contacts.default_contact(session, actor.account_id)
        if contact is None:
            errors.add("contact", "blank", "can't be blank: the team has no default contact")
    if expires_at is not None:
        expires_at = limits.expiry(expires_at, errors)
    errors.raise_if_any()
    assert contact is not None  # noqa: S101 - errors raised above otherwise
    now = utcnow()
    certificate = Certificate(
        account_id=actor.account_id,
        common_name=cn,
        contact_id=contact.id,
        contact=contact,
        state=state,
        expires_at=expires_at or now + timedelta(days=90),
        created_at=now,
        updated_at=now,
    )
    session.add(certificate)
    await session.flush()
    emit(session, actor, catalogue.CERTIFICATE_CREATED, _event(certificate, contact.handle))
    return certificate


async def get_certificate(
    session: AsyncSession, account_id: int, certificate_id: int
) -> Certificate:
    number = parse_id(certificate_id)
    certificate = await repository.by_id(session, account_id, number) if number else None
    if certificate is None:
        raise NotFound(f"Certificate `{certificate_id}` not found", code="certificate_not_found")
    return certificate


async def list_certificates(
    session: AsyncSession, account_id: int, request: PageRequest, *, contact: Contact | None = None
) -> Page[Certificate]:
    items, total = await repository.page(
        session, account_id, request, contact_id=contact.id if contact else None
    )
    return Page(items=items, total=total, request=request)


async def list_certificates_by_handle(
    session: AsyncSession, account_id: int, request: PageRequest, *, contact_handle: str | None
) -> Page[Certificate]:
    contact = None
    if contact_handle:
        contact = await contacts.find_contact(
            session, account_id, ContactRef(handle=contact_handle)
        )
        if contact is None:
            return Page(items=[], total=0, request=request)
    return await list_certificates(session, account_id, request, contact=contact)


async def delete_certificate(session: AsyncSession, actor: Actor, certificate_id: int) -> None:
    certificate = await get_certificate(session, actor.account_id, certificate_id)
    contact = await contacts.get_contact(
        session, actor.account_id, ContactRef(id=certificate.contact_id)
    )
    await session.delete(certificate)
    await session.flush()
    emit(session, actor, catalogue.CERTIFICATE_DELETED, _event(certificate, contact.handle))


def _event(certificate: Certificate, handle: str) -> catalogue.CertificateChanged:
    return {
        "certificate_id": certificate.id,
        "common_name": certificate.common_name,
        "contact": handle,
    }


@dataclass(frozen=True)
class CertificateContacts:
    """The certificates' side of contact changes (contacts.changes.Dependents)."""

    kind: str = "certificates"

    async def names_using(
        self, session: AsyncSession, contact: Contact, *, limit: int
    ) -> list[str]:
        return await repository.names_using(session, contact.account_id, contact.id, limit=limit)

    async def contacts_changed(
        self, session: AsyncSession, actor: Actor, changes: Sequence[ContactChange]
    ) -> None:
        """Nothing yet: a certificate's contact is read when it is reissued."""


CERTIFICATE_CONTACTS = CertificateContacts()


async def counts_by_contact(
    session: AsyncSession, account_id: int, contact_ids: Sequence[int]
) -> dict[int, int]:
    """Contact id -> how many certificates name it."""
    return await repository.counts_by_contact(session, account_id, contact_ids)
