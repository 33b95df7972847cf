"""Open items: what the books say is still owed, materialized from ledger facts (ADR 0012).

An account marked open-item managed (``open_item_accounts``) turns each posting with a
reference into an **open item**; later postings with the same reference and the opposite
direction, and accepted matches, are its **settlements**. Amounts are signed as the bank
amount that would settle the item (ADR 0012, decision 2): a receivable or clearing item is
positive, a payable negative; ``open_amount`` and every settlement carry the item's sign, and
``0 <= open_amount * sign <= amount * sign`` holds at all times.

Matches and what people taught the matcher (ADR 0012, decisions 5 and 6).

A **match** is a candidate the engine kept for a line: ``suggested`` (waiting for a person),
``reconciled`` (booked: automatically or accepted), ``rejected``, ``superseded`` (a later
run or decision replaced the suggestion) or ``unreconciled`` (its settlement was reversed).
Its lines and item allocations are rows of their own. ``reconciled_lines`` holds one row per
bank line while a match reconciles it: the unique key that makes reconciling a line twice
impossible, whatever races. Reviews leave **feedback** (score, right or wrong) for the
calibration, **rejections** (a pair never proposed again) and **aliases**.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from autoledger.db.base import Base, CreatedAtMixin, IdMixin, JSONType


class OpenItemAccount(IdMixin, CreatedAtMixin, Base):
    """A ledger account whose referenced postings are open items: ``receivable``,
    ``payable`` or ``clearing`` (a processor's or any other transit account)."""

    __tablename__ = "open_item_accounts"
    __table_args__ = (UniqueConstraint("ledger_id", "account_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))


class OpenItem(IdMixin, CreatedAtMixin, Base):
    """One posting that is still (or was) owed: ``open | partially_settled | settled |
    cancelled``. Unique per posting, so a redelivered event cannot make a second item."""

    __tablename__ = "open_items"
    __table_args__ = (
        UniqueConstraint("entry_id", "posting_index"),
        Index("ix_open_items_tenant_id_ledger_id_status", "tenant_id", "ledger_id", "status"),
        Index("ix_open_items_tenant_id_ledger_id_reference", "tenant_id", "ledger_id", "reference"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    entry_id: Mapped[uuid.UUID] = mapped_column()
    posting_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(200))
    counterparty: Mapped[str | None] = mapped_column(String(200))
    counterparty_id: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[date | None] = mapped_column(Date)
    issued: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    open_amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column()


class OpenItemSettlement(IdMixin, CreatedAtMixin, Base):
    """What settled part of an item: a posting of another entry (``ledger``) or the
    allocation of an accepted match (``reconciliation``). A reversal of the settling entry
    marks it ``reversed_by_entry_id`` and gives its amount back to the item."""

    __tablename__ = "open_item_settlements"
    __table_args__ = (Index("ix_open_item_settlements_entry_id", "entry_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    open_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("open_items.id", ondelete="CASCADE"), index=True
    )
    entry_id: Mapped[uuid.UUID] = mapped_column()
    posting_index: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))
    match_id: Mapped[uuid.UUID | None] = mapped_column()
    reversed_by_entry_id: Mapped[uuid.UUID | None] = mapped_column()


class ReconcileSettings(IdMixin, CreatedAtMixin, Base):
    """A ledger's matching policy (a ledger without a row uses the defaults)."""

    __tablename__ = "reconcile_settings"
    __table_args__ = (UniqueConstraint("ledger_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    auto_reconcile: Mapped[bool] = mapped_column(Boolean, default=True)
    #: run the matcher over a bank account's new lines when a statement import commits
    run_on_import: Mapped[bool] = mapped_column(Boolean, default=True)
    target_precision: Mapped[float] = mapped_column(Float, default=0.995)
    tolerances: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: write-off purpose -> ledger account id or code
    writeoff_accounts: Mapped[dict[str, str]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column()


class ReconcileMatch(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "reconcile_matches"
    __table_args__ = (
        Index("ix_reconcile_matches_bank_status", "tenant_id", "bank_account_id", "status"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    bank_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_accounts.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)  # 1 = the engine's choice for its lines
    kind: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    auto: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(BigInteger)  # the lines' amounts, signed
    features: Mapped[dict[str, float]] = mapped_column(JSONType)
    explanation: Mapped[list[str]] = mapped_column(JSONType)
    #: [{"purpose", "amount", "account"}]
    writeoffs: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    entry_id: Mapped[uuid.UUID | None] = mapped_column()
    reversal_entry_id: Mapped[uuid.UUID | None] = mapped_column()
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column()


class ReconcileMatchLine(Base):
    __tablename__ = "reconcile_match_lines"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    match_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reconcile_matches.id", ondelete="CASCADE"), primary_key=True
    )
    bank_transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_transactions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)


class ReconcileMatchItem(Base):
    __tablename__ = "reconcile_match_items"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    match_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reconcile_matches.id", ondelete="CASCADE"), primary_key=True
    )
    open_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("open_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)


class ReconciledLine(Base):
    """A bank line a match reconciles, while it does."""

    __tablename__ = "reconciled_lines"

    bank_transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_transactions.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    match_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reconcile_matches.id", ondelete="CASCADE"), index=True
    )


class ReconcileRejection(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "reconcile_rejections"
    __table_args__ = (UniqueConstraint("bank_transaction_id", "open_item_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledgers.id", ondelete="CASCADE"), index=True
    )
    bank_transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_transactions.id", ondelete="CASCADE")
    )
    open_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("open_items.id", ondelete="CASCADE"))


class ReconcileFeedback(IdMixin, CreatedAtMixin, Base):
    """A reviewed match: its raw score and whether it was right (calibration data)."""

    __tablename__ = "reconcile_feedback"
    __table_args__ = (UniqueConstraint("match_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledgers.id", ondelete="CASCADE"), index=True
    )
    match_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reconcile_matches.id", ondelete="CASCADE")
    )
    score: Mapped[float] = mapped_column(Float)
    correct: Mapped[bool] = mapped_column(Boolean)


class ReconcileAlias(IdMixin, CreatedAtMixin, Base):
    """The bank's name for a payer (party key) -> the counterparty of its items."""

    __tablename__ = "reconcile_aliases"
    __table_args__ = (UniqueConstraint("ledger_id", "alias"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(200))
    party: Mapped[str] = mapped_column(String(200))
    confirmations: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column()


class BankReconciliation(IdMixin, CreatedAtMixin, Base):
    """A bank account reconciled to a statement date: the report as it stood when a person
    signed it off. While it is ``reconciled``, the account's lines booked on or before
    ``statement_date`` are locked (no match is made, accepted, rejected or undone there);
    ``reopened`` (admin) lifts the lock and keeps the record."""

    __tablename__ = "bank_reconciliations"
    __table_args__ = (
        Index("ix_bank_reconciliations_account", "tenant_id", "bank_account_id", "statement_date"),
        Index(
            "uq_bank_reconciliations_active",
            "bank_account_id",
            "statement_date",
            unique=True,
            postgresql_where=text("status = 'reconciled'"),
            sqlite_where=text("status = 'reconciled'"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    bank_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_accounts.id", ondelete="CASCADE")
    )
    statement_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(16))
    statement_balance: Mapped[int] = mapped_column(BigInteger)
    ledger_balance: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reconciled_by: Mapped[str] = mapped_column(String(200))
    reopened_by: Mapped[str | None] = mapped_column(String(200))
    reopened_at: Mapped[datetime | None] = mapped_column()


TABLES = (
    OpenItemAccount,
    OpenItem,
    OpenItemSettlement,
    ReconcileSettings,
    ReconcileMatch,
    ReconcileMatchLine,
    ReconcileMatchItem,
    ReconciledLine,
    ReconcileRejection,
    ReconcileFeedback,
    ReconcileAlias,
    BankReconciliation,
)
