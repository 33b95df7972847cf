"""Ledger tables. Posted entries, postings and the journal log are append-only: database
triggers (see the migration) refuse UPDATE and DELETE except the single pending → posted |
voided transition, so immutability does not rest on application code alone."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from autoledger.db.base import Base, CreatedAtMixin, IdMixin, JSONType
from autoledger.ledger.chain import GENESIS_HASH


class Ledger(IdMixin, CreatedAtMixin, Base):
    """A book. Its row also holds the head of the journal log (last sequence and hash),
    advanced only under a row lock by the journal writer."""

    __tablename__ = "ledgers"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    base_currency: Mapped[str] = mapped_column(String(16))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class TenantAsset(IdMixin, CreatedAtMixin, Base):
    """A tenant-defined asset (``USDC`` scale 6, ``POINTS`` scale 0)."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(16))
    scale: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))


class Account(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("ledger_id", "code"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    asset: Mapped[str | None] = mapped_column(String(16))
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, default=False)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean, default=False)
    balance_limit: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="active")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)


class Balance(Base):
    """Running totals per account and asset; ``version`` grows with every change."""

    __tablename__ = "balances"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    asset: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class JournalEntry(IdMixin, Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint("ledger_id", "seq"),
        UniqueConstraint("ledger_id", "client_id"),
        UniqueConstraint("reverses_id"),
        Index("ix_journal_entries_ledger_id_effective_date", "ledger_id", "effective_date"),
        Index("ix_journal_entries_tenant_id_source", "tenant_id", "source_type", "source_id"),
        Index("ix_journal_entries_status_expires_at", "status", "expires_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column()
    description: Mapped[str] = mapped_column(String(1000), default="")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("journal_entries.id"))
    expires_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()


class Posting(Base):
    """One leg of an entry. ``amount`` is what was asked for (held, when pending);
    ``posted_amount`` is what counts in posted balances (set once, on posting)."""

    __tablename__ = "postings"
    __table_args__ = (
        Index(
            "ix_postings_account_id_asset_effective_date_seq",
            "account_id",
            "asset",
            "effective_date",
            "seq",
        ),
    )

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    asset: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(6))
    amount: Mapped[int] = mapped_column(BigInteger)
    posted_amount: Mapped[int | None] = mapped_column(BigInteger)
    effective_date: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(BigInteger)


class JournalLogRecord(Base):
    """The hash chain: one record per ledger action (create, post, void) in commit order.
    ``hash = sha256(prev_hash || digest)`` where ``digest`` covers the canonical action."""

    __tablename__ = "journal_log"

    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))
    recorded_at: Mapped[datetime] = mapped_column()
    digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Period(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "periods"
    __table_args__ = (UniqueConstraint("ledger_id", "start_date"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by: Mapped[str | None] = mapped_column(String(200))
    # Checklist items a close waived (ADR 0018), across every close of the period: each
    # ``{code, reason, acknowledged_by, acknowledged_at, evidence}``; never cleared.
    acknowledgements: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    reopened_at: Mapped[datetime | None] = mapped_column()
    reopened_by: Mapped[str | None] = mapped_column(String(200))
    reopen_reason: Mapped[str | None] = mapped_column(String(1000))


class AccountDayTotal(Base):
    """Posted debits and credits per account, asset and effective date, kept by the journal
    in the transaction that books them (a posted entry, or a hold when it is posted).

    Invariant: for every key, ``debits``/``credits`` equal the sums of ``posted_amount`` of
    the postings on that account, asset and date by direction. Reports read these rows (and
    the monthly ones below) instead of scanning postings; a back-dated entry lands in the
    bucket of its own effective date.
    """

    __tablename__ = "account_day_totals"
    __table_args__ = (Index("ix_account_day_totals_ledger_id_day", "ledger_id", "day"),)

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    asset: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id"))
    debits: Mapped[int] = mapped_column(BigInteger, default=0)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)


class AccountMonthTotal(Base):
    """The same totals per calendar month (``month`` is its first day): an as-of report
    reads at most one row per account and month plus the days of one partial month."""

    __tablename__ = "account_month_totals"
    __table_args__ = (Index("ix_account_month_totals_ledger_id_month", "ledger_id", "month"),)

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    asset: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id"))
    debits: Mapped[int] = mapped_column(BigInteger, default=0)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
