"""The banking API contract. Amounts travel as decimal strings in the account's currency;
account numbers are sensitive (``****1234`` unless the caller may reveal)."""

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from autoledger.kit.schemas import RequestModel, ResponseModel
from autoledger.kit.sensitive import SensitiveStr

ImportStatus = Literal["queued", "processing", "completed", "failed"]
PROFILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,99}$"


class BankAccountCreate(RequestModel):
    ledger_id: uuid.UUID
    gl_account: str = Field(
        min_length=1, max_length=64, description="The ledger account (id or code) it books to"
    )
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    institution: str | None = Field(default=None, max_length=200)
    account_number: str | None = Field(
        default=None,
        min_length=4,
        max_length=64,
        description="IBAN or the bank's account number; stored encrypted, shown masked",
    )


class BankAccountOut(ResponseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    gl_account_id: uuid.UUID
    name: str
    currency: str
    institution: str | None
    account_number: SensitiveStr | None
    csv_profile: dict[str, Any] | None
    created_at: datetime


class CsvProfileIn(RequestModel):
    spec: dict[str, Any] = Field(description="A CSV profile as an import report shows it")


class CsvProfileOut(ResponseModel):
    name: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RejectedLine(ResponseModel):
    line: int
    field: str
    reason: str


class StatementCheck(ResponseModel):
    index: int
    statement_id: str | None
    opening_balance: str | None
    closing_balance: str | None
    opening_date: date | None = Field(default=None, description="as the statement gives it")
    closing_date: date | None = Field(default=None, description="as the statement gives it")
    first_line: date | None = Field(default=None, description="its first line's booking date")
    last_line: date | None = Field(default=None, description="its last line's booking date")
    lines_sum: str
    lines: int
    balanced: bool | None = Field(description="null when the file gives no balances to check")


class ImportCounts(ResponseModel):
    total: int
    new: int
    duplicate: int
    rejected: int


class ImportFailure(ResponseModel):
    code: str
    detail: str


class ImportOut(ResponseModel):
    id: uuid.UUID
    bank_account_id: uuid.UUID
    status: ImportStatus
    format: str
    filename: str | None
    size_bytes: int
    sha256: str
    skip_invalid: bool
    accept_unbalanced: bool
    profile_name: str | None
    profile: dict[str, Any] | None
    counts: ImportCounts
    processed_lines: int
    statements: list[StatementCheck]
    rejected: list[RejectedLine]
    rejected_truncated: bool
    warnings: list[str]
    error: ImportFailure | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BankTransactionOut(ResponseModel):
    id: uuid.UUID
    bank_account_id: uuid.UUID
    import_id: uuid.UUID
    line: int
    booking_date: date
    value_date: date | None
    amount: str
    currency: str
    description: str
    counterparty_name: str | None
    counterparty_account: SensitiveStr | None
    bank_reference: str | None
    end_to_end_id: str | None
    transaction_code: str | None
    running_balance: str | None
    extra: dict[str, str]
    raw: str | None = Field(default=None, description="The record as the file had it")


class BankTransactionPage(ResponseModel):
    data: list[BankTransactionOut]
    next_cursor: str | None
