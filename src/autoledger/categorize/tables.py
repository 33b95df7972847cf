"""Categorization state: rules, one proposal per bank line, labelled feedback, model versions.

A bank line is a fact and never changes (``banking.tables``); what autoledger thinks of it
lives here. A proposal is created once per line (unique ``bank_transaction_id``); booking it,
automatically or by a reviewer, writes a journal entry through the ledger and records the
entry here. Every human decision is a label: the training data of the next model. Models are
versioned per ledger (its chart is what they predict), their artifacts stored with their
content hash; one version per ledger is the champion.
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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from autoledger.db.base import Base, CreatedAtMixin, IdMixin, JSONType


class CategorizationSettings(IdMixin, CreatedAtMixin, Base):
    """A ledger's auto-booking policy (a ledger without a row uses the defaults)."""

    __tablename__ = "categorization_settings"
    __table_args__ = (UniqueConstraint("ledger_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    auto_book: Mapped[bool] = mapped_column(Boolean, default=True)
    target_precision: Mapped[float] = mapped_column(Float, default=0.99)
    min_feedback: Mapped[int] = mapped_column(Integer, default=50)
    retrain_after: Mapped[int] = mapped_column(Integer, default=100)  # new labels
    updated_at: Mapped[datetime] = mapped_column()


class CategorizationRule(IdMixin, CreatedAtMixin, Base):
    """A rule a person wrote: conditions on a line, the account (and tags) to book it to."""

    __tablename__ = "categorization_rules"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledgers.id", ondelete="CASCADE"), index=True
    )
    priority: Mapped[int] = mapped_column(Integer)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONType)
    account_code: Mapped[str] = mapped_column(String(40))
    counterparty: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column()


class ProposalRecord(IdMixin, CreatedAtMixin, Base):
    """What autoledger proposes for one bank line, and what became of it.

    ``queued`` (waiting for a reviewer) | ``auto_booked`` | ``accepted`` | ``corrected``.
    ``entry_id`` is the journal entry that books the line now (a correction reverses the
    previous one, ``reversed_entry_ids``). ``impact`` is the absolute amount in minor units,
    what the review queue sorts by.
    """

    __tablename__ = "categorization_proposals"
    __table_args__ = (
        UniqueConstraint("bank_transaction_id"),
        Index("ix_categorization_proposals_queue", "ledger_id", "status", "impact"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    bank_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_accounts.id", ondelete="CASCADE")
    )
    bank_transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bank_transactions.id", ondelete="CASCADE")
    )
    booking_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    impact: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    top: Mapped[list[Any]] = mapped_column(JSONType)  # [[account code, probability], ...]
    confidence: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONType)
    model_version: Mapped[str | None] = mapped_column(String(80))
    account_code: Mapped[str | None] = mapped_column(String(40))  # as booked
    entry_id: Mapped[uuid.UUID | None] = mapped_column()
    reversed_entry_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    auto_booked: Mapped[bool] = mapped_column(Boolean)  # booked on its own when proposed
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class LabelRecord(IdMixin, CreatedAtMixin, Base):
    """A human decision on a line: the training data. ``facts`` is what the model sees of
        the line (``categorize.features.LineFacts``), kept here so training reads one table. Ids
    are UUIDv7, so "the labels since a model was trained" is an id range."""

    __tablename__ = "categorization_labels"
    __table_args__ = (Index("ix_categorization_labels_ledger_id_id", "ledger_id", "id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    proposal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("categorization_proposals.id", ondelete="CASCADE")
    )
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType)
    account_code: Mapped[str] = mapped_column(String(40))
    proposed_code: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(16))
    auto_booked: Mapped[bool] = mapped_column(Boolean)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column()


class ModelVersionRecord(IdMixin, CreatedAtMixin, Base):
    """A trained categorization model of a ledger: ``champion`` (the one in use, at most
    one), ``challenger`` (trained, not promoted) or ``retired``. The artifact is autoledger's
    own JSON format (never a pickle), addressed by its SHA-256."""

    __tablename__ = "ml_models"
    __table_args__ = (UniqueConstraint("ledger_id", "version"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    ledger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledgers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    calibrator: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONType)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    labels: Mapped[int] = mapped_column(Integer)
    # trained on the ledger's labels up to this one (label ids are UUIDv7: time-ordered)
    last_label_id: Mapped[uuid.UUID | None] = mapped_column()
    window_start: Mapped[datetime | None] = mapped_column()
    window_end: Mapped[datetime | None] = mapped_column()
    training_seconds: Mapped[float] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(Text)
    promoted_by: Mapped[str | None] = mapped_column(String(200))
    promoted_at: Mapped[datetime | None] = mapped_column()


TABLES = (
    CategorizationSettings,
    CategorizationRule,
    ProposalRecord,
    LabelRecord,
    ModelVersionRecord,
)
