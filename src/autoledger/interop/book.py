"""A ledger as a plaintext journal sees it: named accounts, dated entries, signed minor units.

Both writers (Beancount and hledger) render the same :class:`Book`, so what they write is
the same set of numbers; the exporter builds it from the ledger's service.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from autoledger.ledger.types import AccountType

ROOTS = {
    AccountType.ASSET: "Assets",
    AccountType.LIABILITY: "Liabilities",
    AccountType.EQUITY: "Equity",
    AccountType.REVENUE: "Income",
    AccountType.EXPENSE: "Expenses",
}
_NOT_IN_COMPONENT = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class BookAccount:
    name: str
    type: AccountType
    opened: date
    closed: date | None = None
    asset: str | None = None


@dataclass(frozen=True, slots=True)
class BookPosting:
    account: str
    asset: str
    amount: int  # signed minor units, debit > 0


@dataclass(frozen=True, slots=True)
class BookEntry:
    date: date
    description: str
    postings: tuple[BookPosting, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    pending_flag: bool = False


@dataclass(slots=True)
class Book:
    title: str
    base_currency: str
    scales: dict[str, int]
    asset_names: dict[str, str]
    accounts: list[BookAccount]
    entries: list[BookEntry]
    as_of: date

    def balances(self) -> dict[tuple[str, str], int]:
        """Own balance per (account, asset) after every entry, zero ones included."""
        out: dict[tuple[str, str], int] = defaultdict(int)
        for entry in self.entries:
            for p in entry.postings:
                out[(p.account, p.asset)] += p.amount
        return dict(out)

    def first_use(self) -> dict[str, date]:
        out: dict[str, date] = {}
        for entry in self.entries:
            for p in entry.postings:
                if p.account not in out or entry.date < out[p.account]:
                    out[p.account] = entry.date
        return out


def component(code: str, name: str) -> str:
    """One ``:``-separated part of an account name for an account that never came from a
    journal: its code and name (``1110-Operating-cash``), valid in Beancount and hledger."""
    text = _NOT_IN_COMPONENT.sub("-", f"{code} {name}").strip("-") or "Account"
    return text[0].upper() + text[1:]
