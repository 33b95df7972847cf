"""The open-items API contract. Amounts are decimal strings at the asset's scale, signed as
the bank amount that would settle the item (ADR 0012): receivable and clearing items
positive, payable items negative."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from autoledger.kit.schemas import RequestModel, ResponseModel

AccountRole = Literal["receivable", "payable", "clearing"]
OpenItemStatus = Literal["open", "partially_settled", "settled", "cancelled"]
SettlementSource = Literal["ledger", "reconciliation"]
#: an account's code or id (a UUID matches it too)
ACCOUNT_REF = r"^[A-Za-z0-9][A-Za-z0-9.\-_]{0,63}$"


class OpenItemAccountIn(RequestModel):
    role: AccountRole


class OpenItemAccountOut(ResponseModel):
    ledger_id: uuid.UUID
    account_id: uuid.UUID
    code: str
    name: str
    role: AccountRole
    created_at: datetime


class SettlementOut(ResponseModel):
    id: uuid.UUID
    entry_id: uuid.UUID
    posting_index: int | None
    amount: str
    source: SettlementSource
    match_id: uuid.UUID | None
    reversed_by_entry_id: uuid.UUID | None = Field(
        description="The entry that reversed the settling entry; its amount is open again"
    )
    created_at: datetime


class OpenItemOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    account_id: uuid.UUID
    entry_id: uuid.UUID
    posting_index: int
    kind: str
    reference: str
    counterparty: str | None
    counterparty_id: str | None
    due_date: date | None
    issued: date
    currency: str
    amount: str = Field(description="Signed: what a bank line settling it in full would show")
    open_amount: str = Field(description="What is still open, with the sign of the amount")
    status: OpenItemStatus
    created_at: datetime
    updated_at: datetime


class OpenItemDetailOut(OpenItemOut):
    settlements: list[SettlementOut]


# --- runs and matches ------------------------------------------------------------------

MatchStatus = Literal["suggested", "reconciled", "rejected", "superseded", "unreconciled"]
MatchKind = Literal["one_to_one", "one_to_many", "many_to_one", "partial"]


class RunOut(ResponseModel):
    bank_account_id: uuid.UUID
    lines: int  # unreconciled lines considered
    open_items: int
    matches: int  # kept: the engine's choices and the alternatives
    auto_reconciled: int
    suggested_lines: int
    unmatched_lines: int
    threshold: float | None
    policy_source: Literal["none", "prior", "feedback"]
    stats: dict[str, int]


class MatchLineOut(ResponseModel):
    bank_transaction_id: uuid.UUID
    amount: str


class AllocationOut(ResponseModel):
    open_item_id: uuid.UUID
    amount: str


class WriteOffOut(ResponseModel):
    purpose: Literal["discount", "rounding", "bank_fee", "fx_difference"]
    amount: str


class MatchOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    bank_account_id: uuid.UUID
    status: MatchStatus
    rank: int
    kind: MatchKind
    method: Literal["exact_key", "scored"]
    auto: bool
    score: float
    confidence: float
    currency: str
    total: str
    lines: list[MatchLineOut]
    allocations: list[AllocationOut]
    writeoffs: list[WriteOffOut]
    explanation: list[str]
    features: dict[str, float]
    entry_id: uuid.UUID | None
    reversal_entry_id: uuid.UUID | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
