"""The period close's API contract (ADR 0018)."""

import uuid
from datetime import date
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from autoledger.kit.schemas import RequestModel, ResponseModel
from autoledger.ledger.schemas import EntryOut

ItemCode = Literal["bank_reconciliation", "review_queue", "suspense", "fx_revaluation"]
# ``suspense`` is missing on purpose: a suspense balance cannot be waived.
Acknowledgeable = Literal["bank_reconciliation", "review_queue", "fx_revaluation"]
NEEDS_REASON = frozenset({"bank_reconciliation", "fx_revaluation"})


class ChecklistItemOut(ResponseModel):
    code: ItemCode
    title: str
    passed: bool
    acknowledgeable: bool
    reason_required: bool
    evidence: dict[str, Any]


class ChecklistOut(ResponseModel):
    ledger_id: uuid.UUID
    period_id: uuid.UUID
    period_end: date
    passed: bool
    failing: list[ItemCode]
    items: list[ChecklistItemOut]


class PeriodClose(RequestModel):
    acknowledge: list[Acknowledgeable] = Field(
        default_factory=list,
        max_length=3,
        description="Failing checklist items to close over (suspense never)",
    )
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Why; required to acknowledge bank_reconciliation or fx_revaluation",
    )

    @model_validator(mode="after")
    def _reason_when_required(self) -> Self:
        needing = sorted(NEEDS_REASON.intersection(self.acknowledge))
        if needing and self.reason is None:
            raise ValueError(f"acknowledging {', '.join(needing)} requires a reason")
        return self


class PeriodReopen(RequestModel):
    reason: str | None = Field(default=None, min_length=1, max_length=1000)


class ClosingEntriesOut(ResponseModel):
    ledger_id: uuid.UUID
    period_id: uuid.UUID
    fiscal_year_start: date
    fiscal_year_end: date
    retained_earnings_account_id: uuid.UUID
    booked_entry_id: uuid.UUID | None = Field(description="The entry this request booked")
    entries: list[EntryOut] = Field(description="Every closing entry of the year end")
