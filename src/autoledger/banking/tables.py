"""Bank accounts, CSV profiles, statement imports and the bank transactions they produced.

Bank transactions are facts reported by a bank: once imported they are never changed (what
later work learns about a line, such as its category or its match, lives in its own tables).
A line is unique per bank account by ``dedup_key`` (see :mod:`autoledger.banking.dedup`),
which is what makes re-importing a file, or an overlapping one, add nothing twice.
"""

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
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from autoledger.db.base import Base, CreatedAtMixin, IdMixin, JSONType


class BankAccount(IdMixin, CreatedAtMixin, Base):
    """An account at a bank, booked in the ledger on ``gl_account_id``.

    The full account number (IBAN or local number) is stored only encrypted
    (``account_number_enc``); ``account_number_index`` is its blind index, so a statement
    file naming the account finds it without decrypting anything; ``account_number_last4``
    is what lists show. ``csv_profile`` is how the last CSV of this bank was read.
    """

    __tablename__ = "bank_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "account_number_index"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id"))
    gl_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    institution: Mapped[str | None] = mapped_column(String(200))
    account_number_enc: Mapped[str | None] = mapped_column(Text)
    account_number_index: Mapped[str | None] = mapped_column(String(64))
    account_number_last4: Mapped[str | None] = mapped_column(String(4))
    csv_profile: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column()


class CsvProfileRecord(IdMixin, CreatedAtMixin, Base):
    """A named way of reading a bank's CSV files, given explicitly on import."""

    __tablename__ = "bank_csv_profiles"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column()


class StatementImport(IdMixin, CreatedAtMixin, Base):
    """One uploaded file and what became of it.

    ``queued`` → ``processing`` (leased by one worker) → ``completed`` | ``failed``. The
    file itself is kept in the object store under ``storage_key`` (its SHA-256), and every
    line it produced points back here. A failed import wrote no line (one transaction).
    """

    __tablename__ = "bank_imports"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    bank_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_accounts.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    skip_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    accept_unbalanced: Mapped[bool] = mapped_column(Boolean, default=False)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    profile_name: Mapped[str | None] = mapped_column(String(100))
    lines_total: Mapped[int] = mapped_column(Integer, default=0)
    lines_new: Mapped[int] = mapped_column(Integer, default=0)
    lines_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    lines_rejected: Mapped[int] = mapped_column(Integer, default=0)
    progress_lines: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    # The worker's claim scans queued (and lease-expired processing) imports only.
    __table_args__ = (Index("ix_bank_imports_status_created", "status", "created_at"),)


class BankTransactionRecord(IdMixin, CreatedAtMixin, Base):
    """One booked bank line, normalized (see ``banking.statement.BankTransaction``)."""

    __tablename__ = "bank_transactions"
    __table_args__ = (
        UniqueConstraint("bank_account_id", "dedup_key"),
        Index("ix_bank_transactions_account_date", "bank_account_id", "booking_date", "id"),
    )

    # Only the account is a foreign key: a line's tenant and import are its account's and
    # its import's by construction (one import writes them, for its own account, in one
    # transaction), and every other key or index would cost each of 100,000 imported lines a
    # lookup. Every read goes through the account; row-level security filters within it.
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    bank_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_accounts.id", ondelete="CASCADE")
    )
    import_id: Mapped[uuid.UUID] = mapped_column()
    line_no: Mapped[int] = mapped_column(Integer)
    statement_index: Mapped[int] = mapped_column(Integer)
    booking_date: Mapped[date] = mapped_column(Date)
    value_date: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text)
    counterparty_name: Mapped[str | None] = mapped_column(String(500))
    counterparty_account_enc: Mapped[str | None] = mapped_column(Text)
    # the account's mask (last four characters), which the line's event carries
    counterparty_account_masked: Mapped[str | None] = mapped_column(String(40))
    bank_reference: Mapped[str | None] = mapped_column(String(200))
    end_to_end_id: Mapped[str | None] = mapped_column(String(200))
    transaction_code: Mapped[str | None] = mapped_column(String(100))
    running_balance: Mapped[int | None] = mapped_column(BigInteger)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    raw: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(String(32))
