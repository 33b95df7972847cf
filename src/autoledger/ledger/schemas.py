"""The ledger's API contract. Amounts travel as decimal strings ("1234.50"); a JSON number
is refused (422 naming the field), because many clients have already turned it into a float."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictStr, StringConstraints, field_validator

from autoledger.kit.money import ASSET_CODE_PATTERN
from autoledger.kit.schemas import RequestModel, ResponseModel
from autoledger.ledger.domain import AccountStatus, EntryStatus, SourceType
from autoledger.ledger.types import AccountType, Direction

AssetCode = Annotated[str, StringConstraints(pattern=ASSET_CODE_PATTERN)]
AccountCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-_]{0,31}$")]
Amount = Annotated[StrictStr, Field(max_length=40, examples=["1234.50"])]
MetaKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MetaValue = Annotated[StrictStr, Field(max_length=500)]
Metadata = Annotated[dict[MetaKey, MetaValue], Field(max_length=50)]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class AssetCreate(RequestModel):
    code: AssetCode
    scale: int = Field(ge=0, le=12)
    name: str = Field(min_length=1, max_length=200)


class AssetOut(ResponseModel):
    code: str
    scale: int
    name: str
    created_at: datetime


class LedgerCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    base_currency: AssetCode
    chart_template: str | None = Field(default=None, description="e.g. `small_business`")
    metadata: Metadata = Field(default_factory=dict)


class LedgerOut(ResponseModel):
    id: uuid.UUID
    name: str
    base_currency: str
    metadata: dict[str, str]
    created_at: datetime
    head_seq: int
    head_hash: str


class AccountCreate(RequestModel):
    code: AccountCode
    name: str = Field(min_length=1, max_length=200)
    type: AccountType
    parent: str | None = Field(default=None, description="Parent account id or code")
    asset: AssetCode | None = Field(default=None, description="Omit for a multi-asset account")
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False
    balance_limit: Amount | None = Field(
        default=None, description="Allowed excess over the constraint"
    )
    metadata: Metadata = Field(default_factory=dict)


class AccountUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: AccountStatus | None = None
    metadata: Metadata | None = None


class AccountOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    code: str
    name: str
    type: AccountType
    normal_side: Direction
    parent_id: uuid.UUID | None
    asset: str | None
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    balance_limit: str | None
    status: AccountStatus
    metadata: dict[str, str]
    created_at: datetime


class AccountPage(ResponseModel):
    data: list[AccountOut]
    next_cursor: str | None


class ChartImportOut(ResponseModel):
    created: int
    accounts: list[AccountOut]


class Source(RequestModel):
    type: SourceType
    id: str | None = Field(default=None, max_length=200)


class PostingIn(RequestModel):
    account: str = Field(min_length=1, max_length=64, description="Account id or code")
    direction: Direction
    amount: Amount
    asset: AssetCode


class EntryCreate(RequestModel):
    id: ClientId | None = Field(
        default=None, description="Client id: a second entry with it returns the first"
    )
    postings: list[PostingIn] = Field(min_length=2, max_length=1000)
    effective_date: date | None = None
    description: str = Field(default="", max_length=1000)
    metadata: Metadata = Field(default_factory=dict)
    source: Source | None = None
    status: Literal["posted", "pending"] = "posted"
    expires_at: datetime | None = Field(
        default=None, description="Pending only: void automatically after"
    )


class EntryPost(RequestModel):
    amounts: list[Amount] | None = Field(
        default=None,
        description="Partial post: one amount per posting, in order; omit to post in full",
    )


class EntryReverse(RequestModel):
    id: ClientId | None = None
    effective_date: date | None = None
    description: str | None = Field(default=None, max_length=1000)


class PostingOut(ResponseModel):
    index: int
    account_id: uuid.UUID
    asset: str
    direction: Direction
    amount: str
    posted_amount: str | None


class SourceOut(ResponseModel):
    type: str
    id: str | None


class EntryOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    client_id: str | None
    seq: int
    status: EntryStatus
    effective_date: date
    recorded_at: datetime
    description: str
    metadata: dict[str, str]
    source: SourceOut
    actor: str
    reverses_id: uuid.UUID | None
    expires_at: datetime | None
    resolved_at: datetime | None
    postings: list[PostingOut]


class EntryPage(ResponseModel):
    data: list[EntryOut]
    next_cursor: str | None


class BatchCreate(RequestModel):
    entries: list[EntryCreate] = Field(min_length=1, max_length=10_000)
    atomic: bool = True


class BatchItemError(ResponseModel):
    code: str
    title: str
    detail: str


class BatchItem(ResponseModel):
    index: int
    status: Literal["created", "replayed", "failed"]
    entry: EntryOut | None = None
    error: BatchItemError | None = None


class BatchResult(ResponseModel):
    atomic: bool
    created: int
    replayed: int
    failed: int
    items: list[BatchItem]


class BalanceOut(ResponseModel):
    asset: str
    debits_posted: str
    credits_posted: str
    debits_pending: str
    credits_pending: str
    posted: str
    available: str
    version: int


class AccountBalanceOut(ResponseModel):
    account_id: uuid.UUID
    normal_side: Direction
    as_of: date | None
    balances: list[BalanceOut]
    rolled_up: list[BalanceOut]
    descendants: int


class StatementLineOut(ResponseModel):
    entry_id: uuid.UUID
    seq: int
    effective_date: date
    description: str
    direction: Direction
    amount: str
    running_balance: str


class StatementOut(ResponseModel):
    account_id: uuid.UUID
    asset: str
    normal_side: Direction
    opening_balance: str
    lines: list[StatementLineOut]
    next_cursor: str | None


class PeriodCreate(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    start_date: date
    end_date: date


class PeriodAcknowledgementOut(ResponseModel):
    """A failing close-checklist item a close went ahead with (ADR 0018)."""

    code: str
    reason: str | None
    acknowledged_by: str
    acknowledged_at: datetime
    evidence: dict[str, Any]


class PeriodOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    name: str
    start_date: date
    end_date: date
    status: Literal["open", "closed"]
    closed_at: datetime | None
    closed_by: str | None
    acknowledgements: list[PeriodAcknowledgementOut] = Field(
        default_factory=list, description="Every checklist item a close of this period waived"
    )
    reopened_at: datetime | None = None
    reopened_by: str | None = None
    reopen_reason: str | None = None

    @field_validator("acknowledgements", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class VerifyOut(ResponseModel):
    ledger_id: uuid.UUID
    ok: bool
    records_checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None
    first_broken_entry_id: uuid.UUID | None
    reason: str | None
