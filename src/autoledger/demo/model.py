"""What the simulator produces and every writer reads: plain, immutable data.

Amounts are integers in minor units of the account's currency (``12345`` = 123.45 USD);
positive is money in (a credit on the bank statement), negative is money out.
"""

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class BankAccount:
    id: str  # stable within a generated company, e.g. "operating"
    name: str  # "Operating account"
    bank_name: str  # "First Valley Bank"
    currency: str  # ISO 4217
    iban: str  # a valid IBAN (mod-97), also used as the account number in OFX/MT940
    bic: str  # 8 or 11 characters
    gl_account: str  # the ledger account code this bank account maps to, e.g. "1110"
    csv_layout: str  # "signed" | "debit_credit" | "european" (see writers)


@dataclass(frozen=True, slots=True)
class StatementLine:
    id: str  # unique, stable bank transaction id (FITID in OFX, AcctSvcrRef in CAMT)
    booking_date: date
    value_date: date
    amount: int  # minor units; > 0 money in, < 0 money out, never 0
    description: str  # the bank descriptor as the bank prints it ("SQ *BLUE BOTTLE 0423")
    counterparty: str | None = None  # name as the bank reports it, when it does
    reference: str | None = None  # end-to-end / remittance reference, when any
    counterparty_iban: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    account: BankAccount
    number: int  # statement sequence number for this account (1, 2, ...)
    start: date  # first day covered (inclusive)
    end: date  # last day covered (inclusive)
    opening_balance: int  # booked balance at the start of ``start``
    closing_balance: int  # opening + sum(lines)
    lines: tuple[StatementLine, ...] = field(default_factory=tuple)
