"""The exchange-rate API contract: rates are decimal strings (``"1.0876"``: 1 base = 1.0876
quote), never floats; amounts are decimal strings at their asset's scale."""

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field, field_validator

from autoledger.fx.rates import parse_rate
from autoledger.kit.money import iso_currency
from autoledger.kit.schemas import RequestModel, ResponseModel

CURRENCY = r"^[A-Z][A-Z0-9]{2,15}$"


class RateIn(RequestModel):
    base: str = Field(pattern=CURRENCY)
    quote: str = Field(pattern=CURRENCY)
    date: dt.date
    rate: str = Field(description="1 base = rate quote: a positive decimal, at most 12 places")

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        return str(parse_rate(value))

    @field_validator("base", "quote")
    @classmethod
    def _currency(cls, value: str) -> str:
        if iso_currency(value) is None:
            raise ValueError(f"{value!r} is not an ISO 4217 currency")
        return value


class RatesIn(RequestModel):
    rates: list[RateIn] = Field(min_length=1, max_length=10_000)
    source: str = Field(default="api", min_length=1, max_length=100)


class RateOut(ResponseModel):
    base: str
    quote: str
    date: dt.date
    rate: str
    source: str
    updated_at: dt.datetime


class RatesWritten(ResponseModel):
    inserted: int
    updated: int
    unchanged: int


class RatesImportOut(ResponseModel):
    rates: int
    inserted: int
    updated: int
    unchanged: int
    first_date: dt.date | None
    last_date: dt.date | None
    skipped_columns: list[str] = Field(
        description="Currencies no longer in ISO 4217 (the euro's predecessors and members)"
    )


class QuoteOut(ResponseModel):
    base: str
    quote: str
    method: Literal["closing", "average"]
    rate: str
    date: dt.date = Field(description="closing: the publication day used; average: the period end")
    via: str | None = Field(description="The pivot currency of a cross rate")


class RevaluationIn(RequestModel):
    as_of: dt.date = Field(description="The period end; the reversal is effective the next day")
    trading_accounts: list[str] = Field(
        min_length=1,
        max_length=20,
        description="Multi-asset currency trading accounts (id or code) whose value is revalued",
    )
    gain_loss_account: str = Field(default="7200", description="Where the value is booked")


class PositionOut(ResponseModel):
    account_id: uuid.UUID
    asset: str
    balance: str
    rate: str
    rate_date: dt.date
    via: str | None
    value: str = Field(description="In the base currency, debit positive")


class RevaluationOut(ResponseModel):
    ledger_id: uuid.UUID
    as_of: dt.date
    base_currency: str
    positions: list[PositionOut]
    value: str = Field(description="Unrealized loss when positive, gain when negative")
    entry_id: uuid.UUID | None
    reversal_entry_id: uuid.UUID | None
