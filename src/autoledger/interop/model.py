"""A journal as read from a Beancount or hledger/ledger-cli file, before it meets a ledger.

Numbers are ``Decimal`` here, exactly as written: this is the edge where text becomes money.
The planner (:mod:`autoledger.interop.planner`) turns them into minor units once the scale of
every asset is known. Every item keeps the line it came from, so that every problem is
reported where the user can fix it.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # the journal cannot be imported as it is
    IGNORED = "ignored"  # read, understood, and deliberately not stored (no effect on balances)


@dataclass(frozen=True, slots=True)
class Problem:
    """One line of the import report."""

    line: int
    severity: Severity
    message: str
    directive: str = ""

    def render(self, source: str = "") -> str:
        where = f"{source}:{self.line}" if source else f"line {self.line}"
        return f"{where}: {self.severity.value}: {self.message}"


@dataclass(frozen=True, slots=True)
class Amount:
    number: Decimal
    commodity: str


@dataclass(frozen=True, slots=True)
class JournalPosting:
    """A posting as written. ``amount`` None means the file left it for the reader to infer
    (already resolved by Beancount's loader; resolved by our parser for ledger journals).
    ``price`` and ``cost`` are per unit; ``weight`` is what the posting is worth in the
    transaction's balancing commodity (units times cost, else units times price, else the units)."""

    line: int
    account: str
    amount: Amount | None
    price: Amount | None = None
    cost: Amount | None = None
    weight: Amount | None = None
    assertion: Amount | None = None
    assertion_inclusive: bool = False  # hledger ``=*``: subaccounts count
    assertion_sole: bool = False  # hledger ``==``: no other commodity in the account


@dataclass(slots=True)
class JournalTransaction:
    line: int
    date: date
    flag: str  # "*" cleared, "!" pending, "" unmarked
    description: str
    postings: list[JournalPosting]
    code: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    balanced_by_source: bool = False  # Beancount's loader has checked the weights balance


@dataclass(frozen=True, slots=True)
class JournalBalance:
    """A Beancount ``balance`` directive: the account (with its subaccounts) holds ``amount``
    at the start of ``date``, within ``tolerance``."""

    line: int
    date: date
    account: str
    amount: Amount
    tolerance: Decimal


@dataclass(slots=True)
class JournalAccount:
    line: int
    name: str
    opened: date | None = None
    closed: date | None = None
    currencies: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JournalCommodity:
    line: int
    symbol: str
    scale: int | None  # from a display format such as ``commodity 1,000.00 USD``
    name: str = ""


@dataclass(frozen=True, slots=True)
class JournalPrice:
    line: int
    date: date
    commodity: str
    price: Amount


@dataclass(frozen=True, slots=True)
class RootNames:
    """The top-level account names that give an account its type."""

    assets: str = "Assets"
    liabilities: str = "Liabilities"
    equity: str = "Equity"
    income: str = "Income"
    expenses: str = "Expenses"


@dataclass(slots=True)
class Journal:
    source: str
    title: str = ""
    operating_currency: str | None = None
    roots: RootNames = field(default_factory=RootNames)
    accounts: dict[str, JournalAccount] = field(default_factory=dict)
    commodities: dict[str, JournalCommodity] = field(default_factory=dict)
    transactions: list[JournalTransaction] = field(default_factory=list)
    balances: list[JournalBalance] = field(default_factory=list)
    prices: list[JournalPrice] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]
