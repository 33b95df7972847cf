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


@dataclass(frozen=True, slots=True)
class Counterparty:
    """A vendor or customer, with the GL account its bills or invoices post to."""

    id: str  # "V0001", "C0001"
    role: str  # "vendor" | "customer"
    name: str  # legal name as on an invoice ("Blue Bottle Coffee Inc.")
    category: str  # "saas", "rent", "meals", ... (customers: "services", "subscription")
    gl_account: str  # true GL account code from the chart template
    city: str
    currency: str
    descriptors: tuple[str, ...]  # how banks print this name; "#" marks a reference number


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An issued invoice or a received bill: what the ledger knows before the bank does."""

    id: str  # "INV-00001" | "BILL-00001"
    kind: str  # "invoice" | "bill"
    counterparty_id: str
    amount: int  # minor units, always positive
    currency: str
    issue_date: date
    due_date: date
    reference: str  # the number printed on the document, e.g. "INV-00001"
    gl_account: str  # revenue (invoice) or expense (bill) account
    status: str  # at the end of the simulation: "open" | "partially_paid" | "paid"
    paid_amount: int  # settled by the end of the simulation
    #: the simulator's intent: "paid" | "partial" (the rest never comes) | "never_paid";
    #: an item meant to be paid may still be open when its payment falls after the period
    fate: str


@dataclass(frozen=True, slots=True)
class Match:
    """One item a bank line settles; a line's matches sum exactly to its amount.

    A settlement that does not pay its invoices or bill exactly carries, besides them at the
    amounts they settle, one ``writeoff`` whose id says why: ``bank_fee`` (an intermediary
    bank's fee deducted from a foreign payment), ``discount`` (early-payment discount),
    ``fx_difference`` (conversion slippage) or ``rounding`` (a few minor units). The items are
    settled in full; the write-off is what closes them.
    """

    kind: str  # invoice | bill | writeoff | payout | transfer | fx_conversion | charge | ...
    id: str
    amount: int  # signed like the line, in the line's currency


@dataclass(frozen=True, slots=True)
class LineTruth:
    line_id: str
    account_id: str
    gl_account: str  # the true contra account of the bank line
    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class Payout:
    """A processor payout and the charges, refunds, chargebacks and fees it bundles."""

    id: str
    amount: int
    currency: str
    initiated: date
    arrives: date
    line_ids: tuple[str, ...]  # processor clearing lines it settles


@dataclass(frozen=True, slots=True)
class Company:
    seed: int
    name: str
    currency: str  # base currency
    start: date
    months: int
    scale: int
    accounts: tuple[BankAccount, ...]
    counterparties: tuple[Counterparty, ...]
    statements: tuple[Statement, ...]  # per account per calendar month, chained
    open_items: tuple[OpenItem, ...]
    truths: tuple[LineTruth, ...]  # one per statement line
    payouts: tuple[Payout, ...]
    #: account id -> number of days each statement (after the first) re-covers from the
    #: previous month when exported, to exercise de-duplication
    overlap_days: dict[str, int] = field(default_factory=dict)
