"""The open-items API contract. Amounts are decimal strings at the asset's scale, signed as
the bank amount that would settle the item (ADR 0012): receivable and clearing items
positive, payable items negative."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

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


# --- bank reconciliation reports (ADR 0012, decision 7) -------------------------------------

LineState = Literal["reconciled", "booked", "suggested", "unmatched"]


class ReportLineOut(ResponseModel):
    bank_transaction_id: uuid.UUID
    booking_date: date
    amount: str
    description: str
    counterparty: str | None
    state: LineState


class BookPostingOut(ResponseModel):
    entry_id: uuid.UUID
    posting_index: int
    effective_date: date
    amount: str = Field(description="Signed like a bank line: a debit on the bank account is +")
    description: str
    source_type: str
    reference: str | None


class ReportLines(ResponseModel):
    count: int
    total: str
    truncated: bool = Field(description="Only the first 500 are listed; count and total are all")
    items: list[ReportLineOut]


class ReportPostings(ResponseModel):
    count: int
    total: str
    truncated: bool = Field(description="Only the first 500 are listed; count and total are all")
    items: list[BookPostingOut]


class ReportPeriodOut(ResponseModel):
    """The lines booked by the bank from ``start`` to ``end`` and what became of them."""

    lines: int
    amount: str
    reconciled: int
    booked: int = Field(description="Booked by the bookkeeping loop, not by a match")
    suggested: int
    unmatched: int


class ReconciliationReportOut(ResponseModel):
    """statement_balance - ledger_balance = unbooked lines + unbooked opening balance
    - outstanding postings + unexplained."""

    bank_account_id: uuid.UUID
    ledger_id: uuid.UUID
    gl_account_id: uuid.UUID
    currency: str
    start: date | None
    end: date
    statement_balance: str | None = Field(description="null when no statement states one")
    statement_balance_source: str | None
    ledger_balance: str
    difference: str | None
    opening_balance: str | None = Field(description="What the account held before its first line")
    opening_booked_by: BookPostingOut | None
    unbooked_opening_balance: str
    unbooked_lines: ReportLines
    outstanding_postings: ReportPostings
    explained: str
    unexplained: str | None
    balanced: bool
    period: ReportPeriodOut
    reconciled_through: date | None


class BankReconciliationIn(RequestModel):
    statement_date: date
    statement_balance: str | None = Field(
        default=None,
        description="The statement's closing balance; default: the one the imported statements"
        " state, carried over the lines in between",
    )


class BankReconciliationOut(ResponseModel):
    id: uuid.UUID
    bank_account_id: uuid.UUID
    ledger_id: uuid.UUID
    statement_date: date
    currency: str
    statement_balance: str
    ledger_balance: str
    status: Literal["reconciled", "reopened"]
    reconciled_by: str
    created_at: datetime
    reopened_by: str | None
    reopened_at: datetime | None
    report: ReconciliationReportOut


# --- settings -------------------------------------------------------------------------------

WriteOffPurpose = Literal["discount", "rounding", "bank_fee", "fx_difference"]


class TolerancesIn(RequestModel):
    """Which differences are written off (see ``reconcile/tolerance.py``)."""

    rounding: int = Field(default=5, ge=0, le=1_000, description="Minor units either way")
    fee_max_units: int = Field(
        default=50, ge=0, le=10_000, description="A bank fee: whole currency units short"
    )
    fx_relative_bp: int = Field(
        default=50, ge=0, le=1_000, description="An FX difference, in basis points"
    )
    discount_rates_bp: list[Annotated[int, Field(ge=1, le=5_000)]] = Field(
        default=[100, 200, 300], max_length=10, description="Early-payment discount rates"
    )
    discount_days: int = Field(default=14, ge=0, le=365)


class ReconcileSettingsIn(RequestModel):
    auto_reconcile: bool = Field(default=True, description="Reconcile sure matches on their own")
    run_on_import: bool = Field(
        default=True, description="Run the matcher over a bank account after each import"
    )
    target_precision: float = Field(
        default=0.995, ge=0.9, le=0.9999, description="Precision the threshold must keep"
    )
    tolerances: TolerancesIn = Field(default_factory=TolerancesIn)
    writeoff_accounts: dict[WriteOffPurpose, str] = Field(
        default_factory=dict,
        description="Account (id or code) per write-off purpose; a purpose left out keeps the"
        " default (small-business chart: discount 4500, rounding 7200, bank_fee 6800,"
        " fx_difference 7200)",
    )


class ReconcileSettingsOut(ResponseModel):
    ledger_id: uuid.UUID
    auto_reconcile: bool
    run_on_import: bool
    target_precision: float
    tolerances: TolerancesIn
    writeoff_accounts: dict[WriteOffPurpose, str]
    updated_at: datetime | None
