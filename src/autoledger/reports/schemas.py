"""The reports' API contract. Amounts are decimal strings in the report's asset, like every
other amount of the API; a report covers one asset (``other_assets`` names the rest)."""

import uuid
from datetime import date
from typing import Literal

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
