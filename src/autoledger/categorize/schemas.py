"""The categorization API and event contract. Amounts are decimal strings in the line's
currency; probabilities are floats in [0, 1] (they are not money)."""

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from autoledger.kit.schemas import RequestModel, ResponseModel

ProposalStatus = Literal["queued", "auto_booked", "accepted", "corrected", "reconciled"]
ProposalSource = Literal["rule", "memory", "model", "prior", "none"]
ACCOUNT_CODE = Field(min_length=1, max_length=40, description="A ledger account code")


class Candidate(ResponseModel):
    account: str
    probability: float


class ProposalOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    bank_account_id: uuid.UUID
    bank_transaction_id: uuid.UUID
    booking_date: date
    amount: str
    currency: str
    description: str
    counterparty_name: str | None
    status: ProposalStatus
    top: list[Candidate]
    confidence: float
    source: ProposalSource
    explanation: dict[str, Any]
    model_version: str | None
    account: str | None = Field(description="The account the line is booked to, once booked")
    entry_id: uuid.UUID | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime


class Review(RequestModel):
    """Accept the proposal as it is, or correct it to ``account`` (optionally making a rule of
    the correction: lines whose description contains ``rule_contains`` get that account)."""

    action: Literal["accept", "correct"]
    account: str | None = Field(default=None, min_length=1, max_length=40)
    create_rule: bool = False
    rule_contains: str | None = Field(default=None, min_length=2, max_length=200)

    @model_validator(mode="after")
    def _account_for_corrections(self) -> "Review":
        if self.action == "correct" and self.account is None:
            raise ValueError("a correction names the account")
        if self.action == "accept" and (self.account is not None or self.create_rule):
            raise ValueError("an acceptance takes no account and makes no rule")
        return self


class BulkAccept(RequestModel):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class BulkAcceptOut(ResponseModel):
    accepted: list[ProposalOut]


class RuleIn(RequestModel):
    priority: int = Field(default=100, ge=0, le=1_000_000)
    account: str = ACCOUNT_CODE
    description_contains: str | None = Field(default=None, max_length=500)
    description_regex: str | None = Field(default=None, max_length=200)
    counterparty_contains: str | None = Field(default=None, max_length=500)
    counterparty_regex: str | None = Field(default=None, max_length=200)
    min_amount: str | None = Field(default=None, description="On the absolute amount")
    max_amount: str | None = Field(default=None, description="On the absolute amount")
    direction: Literal["in", "out"] | None = None
    bank_account_id: uuid.UUID | None = None
    counterparty: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=20)


class RuleOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    priority: int
    account: str
    conditions: dict[str, Any]
    counterparty: str | None
    tags: list[str]
    active: bool
    created_by: str
    created_at: datetime


class ModelOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    version: int
    status: Literal["champion", "challenger", "retired"]
    artifact_sha256: str
    labels: int
    window_start: datetime | None
    window_end: datetime | None
    metrics: dict[str, Any]
    thresholds: dict[str, Any]
    decision: str
    training_seconds: float
    promoted_by: str | None
    promoted_at: datetime | None
    created_at: datetime


class RetrainOut(ResponseModel):
    trained: ModelOut | None = Field(
        description="The version trained (champion if promoted); none without labels"
    )


class SettingsIn(RequestModel):
    auto_book: bool = True
    target_precision: float = Field(default=0.99, ge=0.5, le=0.9999)
    min_feedback: int = Field(default=50, ge=10, le=100_000)
    retrain_after: int = Field(default=100, ge=10, le=1_000_000)


class SettingsOut(ResponseModel):
    ledger_id: uuid.UUID
    auto_book: bool
    target_precision: float
    min_feedback: int
    retrain_after: int


class VersionStats(ResponseModel):
    model_version: str | None
    proposals: int
    auto_booked: int
    auto_corrected: int


class StatsOut(ResponseModel):
    ledger_id: uuid.UUID | None
    proposals: int
    auto_booked: int
    automation_rate: float | None
    auto_precision: float | None = Field(
        description="Share of auto-booked lines not corrected since (None before any)"
    )
    queued: int
    oldest_queued_at: datetime | None
    labels: int
    champion_version: int | None
    by_model_version: list[VersionStats]


class ProposalEvent(ResponseModel):
    """The payload of the bookkeeping proposal events."""

    id: uuid.UUID
    ledger_id: uuid.UUID
    bank_transaction_id: uuid.UUID
    status: ProposalStatus
    account: str | None
    top: list[Candidate]
    confidence: float
    source: ProposalSource
    model_version: str | None
    entry_id: uuid.UUID | None
    reviewed_by: str | None
