"""The reports' API contract. Amounts are decimal strings in the report's asset, like every
other amount of the API; a report covers one asset (``other_assets`` names the rest) or, with
a reporting currency, every asset converted (``translation`` states the policy and rates)."""

import datetime as dt
import uuid
from datetime import date
from typing import Literal

from pydantic import Field

from autoledger.kit.schemas import ResponseModel
from autoledger.ledger.schemas import StatementLineOut


class ColumnOut(ResponseModel):
    key: str
    label: str
    start: date | None
    end: date


class ReportLineOut(ResponseModel):
    kind: Literal["account", "item", "total"]
    label: str
    code: str | None
    account_id: uuid.UUID | None
    depth: int
    amounts: list[str]


class SectionOut(ResponseModel):
    key: str
    title: str
    lines: list[ReportLineOut]
    total: list[str]


class RateUsedOut(ResponseModel):
    base: str = Field(description="The booked asset")
    quote: str = Field(description="The reporting currency")
    rate: str = Field(description="1 base = rate quote")
    date: dt.date = Field(
        description="closing: the day the rate was published; average: the period's last day"
    )
    method: Literal["closing", "average"]
    start: dt.date | None = Field(description="average: the period's first day")
    via: str | None = Field(description="The pivot currency of a cross rate")


class TranslationOut(ResponseModel):
    """How the report was converted into its reporting currency."""

    currency: str
    policy: str
    rates: list[RateUsedOut]


class StatementReportOut(ResponseModel):
    kind: Literal["trial_balance", "balance_sheet", "income_statement", "cash_flow"]
    title: str
    ledger_id: uuid.UUID
    ledger_name: str
    asset: str
    start: date
    end: date
    columns: list[ColumnOut]
    sections: list[SectionOut]
    totals: list[ReportLineOut]
    checks: dict[str, bool]
    other_assets: list[str]
    translation: TranslationOut | None = Field(
        default=None, description="Set when `currency` converted every asset into one"
    )


class GeneralLedgerAccountOut(ResponseModel):
    account_id: uuid.UUID
    code: str
    name: str
    normal_side: Literal["debit", "credit"]
    opening_balance: str
    closing_balance: str
    lines: list[StatementLineOut]


class GeneralLedgerOut(ResponseModel):
    kind: Literal["general_ledger"] = "general_ledger"
    ledger_id: uuid.UUID
    ledger_name: str
    asset: str
    start: date
    end: date
    accounts: list[GeneralLedgerAccountOut]


class AgingRowOut(ResponseModel):
    counterparty: str
    amounts: list[str]
    total: str
    items: int


class AgingOut(ResponseModel):
    kind: Literal["aging"] = "aging"
    ledger_id: uuid.UUID
    ledger_name: str
    asset: str
    side: Literal["receivable", "payable"]
    as_of: date
    buckets: list[str]
    rows: list[AgingRowOut]
    totals: list[str]
    total: str
