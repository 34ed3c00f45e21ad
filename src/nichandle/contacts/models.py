"""Contacts (handles): the people and organisations behind domains and certificates."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import instance_dict

from nichandle.db.base import NO_ID_REUSE, Base, JSONVariant, UTCDateTime, utcnow

# What `query` searches: six fields, lower-cased, one per line. Validation refuses control
# characters in every field, so no field holds a newline and "contains" over this text is
# "contains" in one of the fields. Plain SQL that both databases evaluate alike.
SEARCH_TEXT_SQL = (
    "lower(first_name || '\n' || last_name || '\n' || coalesce(company_name, '') || '\n' "
    "|| email_normalized || '\n' || handle || '\n' || address_city)"
)
# SQLite's index of search_text (migration 0005): an FTS5 table with the trigram tokenizer, kept
# by triggers, never mapped. A needle shorter than a trigram has no entry in it.
SQLITE_SEARCH_INDEX = "contact_search"
TRIGRAM = 3
# contact_count keeps each account's total in this many rows (see ContactCount).
COUNT_SHARDS = 16


class Contact(Base):
    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("account_id", "handle", name="uq_contact_account_id_handle"),
        # Only contacts created without allow_duplicate carry dedup_fingerprint: this index is
        # what makes two identical creates racing each other end as one contact.
        UniqueConstraint(
            "account_id", "dedup_fingerprint", name="uq_contact_account_id_dedup_fingerprint"
        ),
        Index("ix_contact_account_id_id", "account_id", "id"),
        Index("ix_contact_account_id_fingerprint", "account_id", "fingerprint"),
        Index("ix_contact_account_id_email_normalized", "account_id", "email_normalized"),
        Index("ix_contact_account_id_parent_id", "account_id", "parent_id"),
        # Search (`query`): a trigram GIN index on PostgreSQL (pg_trgm, with btree_gin for
        # account_id), so "contains" reads the needle's trigram posting lists within the
        # account; a B-tree on SQLite, scanned instead of the rows (migration 0003).
        Index(
            "ix_contact_account_id_search_text",
            "account_id",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        # The same trigrams without account_id, for large accounts (migration 0004 says when
        # the planner takes which); PostgreSQL only.
        Index(
            "ix_contact_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        # One default contact per account. Each WHERE as its database renders `is_default`
        # in queries, so they can use the index (migration 0003).
        Index(
            "uq_contact_default",
            "account_id",
            unique=True,
            sqlite_where=text("is_default = 1"),
            postgresql_where=text("is_default"),
        ),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    handle: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(255))
    last_name: Mapped[str] = mapped_column(String(255))
    company_name: Mapped[str | None] = mapped_column(String(255))
    job_title: Mapped[str | None] = mapped_column(String(255))
    company_registration_number: Mapped[str | None] = mapped_column(String(255))
    company_trading_name: Mapped[str | None] = mapped_column(String(255))
    company_url: Mapped[str | None] = mapped_column(String(2048))
    vat_registration: Mapped[str | None] = mapped_column(String(64))
    address_street: Mapped[str] = mapped_column(String(255))
    address_house_number: Mapped[str | None] = mapped_column(String(64))
    address_line2: Mapped[str | None] = mapped_column(String(255))
    address_postal_code: Mapped[str] = mapped_column(String(32))
    address_city: Mapped[str] = mapped_column(String(255))
    address_state: Mapped[str | None] = mapped_column(String(255))
    address_country_code: Mapped[str] = mapped_column(String(2))
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str] = mapped_column(String(32))
    fax: Mapped[str | None] = mapped_column(String(32))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    extension_data: Mapped[dict[str, Any]] = mapped_column(JSONVariant, default=dict)
    # "metadata" is taken by SQLAlchemy's declarative base; the column keeps the name.
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSONVariant, default=dict)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fingerprint: Mapped[str] = mapped_column(String(64))
    dedup_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Computed by the database (stored on PostgreSQL, virtual on SQLite); never loaded.
    search_text: Mapped[str | None] = mapped_column(
        Text, Computed(SEARCH_TEXT_SQL), deferred=True, deferred_raiseload=True
    )

    parent: Mapped[Contact | None] = relationship(remote_side=[id], lazy="raise")

    def values_of(self, names: Iterable[str]) -> dict[str, Any]:
        """These attributes' values, the loaded ones read straight from the instance's dict:
        through the ORM's descriptors, 26 fields of 25 contacts (a page) cost 0.15 ms."""
        loaded = instance_dict(self)
        return {name: loaded[name] if name in loaded else getattr(self, name) for name in names}


class ContactCount(Base):
    """How many contacts an account has, so a page's total is exact without counting rows.

    Kept by triggers on ``contact`` (migration 0003), in the transaction of the insert or delete,
    whoever writes: services, the bulk import, cascades. The total is the sum of the account's
    rows; a contact counts in shard ``id % COUNT_SHARDS``, so concurrent creates in one account
    update different rows instead of queueing on one. Contacts never move between accounts.
    """

    __tablename__ = "contact_count"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    contacts: Mapped[int] = mapped_column(Integer)
