"""The period-close checklist (ADR 0018). Pure: facts gathered by the service in, items out.

Every item has a stable code, passes or fails, and carries its evidence. A close goes ahead
when every item passes or every failing one is acknowledged; only some items may be
acknowledged (:data:`ACKNOWLEDGEABLE`), some of those only with a reason
(:data:`REASON_REQUIRED`). A suspense balance is never waived: it is money the books cannot
place, and closing over it would lock wrong statements.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from autoledger.kit.money import format_amount


class Item(StrEnum):
    BANK_RECONCILIATION = "bank_reconciliation"
    REVIEW_QUEUE = "review_queue"
    SUSPENSE = "suspense"
    FX_REVALUATION = "fx_revaluation"


ACKNOWLEDGEABLE = frozenset({Item.BANK_RECONCILIATION, Item.REVIEW_QUEUE, Item.FX_REVALUATION})
REASON_REQUIRED = frozenset({Item.BANK_RECONCILIATION, Item.FX_REVALUATION})


@dataclass(frozen=True, slots=True)
class CheckItem:
    code: Item
    passed: bool
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def acknowledgeable(self) -> bool:
        return self.code in ACKNOWLEDGEABLE


@dataclass(frozen=True, slots=True)
class Checklist:
    period_end: date
    items: tuple[CheckItem, ...]

    @property
    def passed(self) -> bool:
        return all(i.passed for i in self.items)

    @property
    def failing(self) -> list[CheckItem]:
        return [i for i in self.items if not i.passed]

    def unacknowledged(self, acknowledged: Iterable[Item]) -> list[Item]:
        """Failing items ``acknowledged`` does not cover, in checklist order."""
        waived = set(acknowledged) & ACKNOWLEDGEABLE
        return [i.code for i in self.failing if i.code not in waived]


# --- facts --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BankFact:
    bank_account_id: str
    name: str
    currency: str
    in_use: bool  # a line or a posting on or before the period end
    reconciled_through: date | None


@dataclass(frozen=True, slots=True)
class QueueFact:
    currency: str
    count: int
    total: int  # Σ |amount|, minor units
    oldest: date
    scale: int


@dataclass(frozen=True, slots=True)
class Holding:
    account_id: str
    code: str
    asset: str
    balance: int  # debit positive, minor units
    scale: int


# --- items --------------------------------------------------------------------------------


def bank_item(end: date, banks: Iterable[BankFact]) -> CheckItem:
    """Every bank account in use by the period end is reconciled through it."""
    behind = [
        {
            "bank_account_id": b.bank_account_id,
            "name": b.name,
            "currency": b.currency,
            "reconciled_through": (
                None if b.reconciled_through is None else b.reconciled_through.isoformat()
            ),
        }
        for b in sorted(banks, key=lambda b: (b.name, b.bank_account_id))
        if b.in_use and (b.reconciled_through is None or b.reconciled_through < end)
    ]
    return CheckItem(
        Item.BANK_RECONCILIATION,
        not behind,
        "Every bank account is reconciled through the period end",
        {"not_reconciled": behind},
    )


def queue_item(queue: Iterable[QueueFact]) -> CheckItem:
    """No bank line booked on or before the period end waits for review."""
    waiting = sorted((q for q in queue if q.count), key=lambda q: q.currency)
    per_currency = [
        {
            "currency": q.currency,
            "count": q.count,
            "total": format_amount(q.total, q.scale),
            "oldest_booking_date": q.oldest.isoformat(),
        }
        for q in waiting
    ]
    count = sum(q.count for q in waiting)
    return CheckItem(
        Item.REVIEW_QUEUE,
        count == 0,
        "The review queue holds no line of the period or before",
        {"queued": count, "by_currency": per_currency},
    )


def suspense_item(accounts: Mapping[str, str], balances: Iterable[Holding]) -> CheckItem:
    """Every suspense account (``accounts``: id → code) is zero in every asset."""
    open_ = [
        {
            "account_id": h.account_id,
            "code": h.code,
            "asset": h.asset,
            "balance": format_amount(h.balance, h.scale),
        }
        for h in sorted(balances, key=lambda h: (h.code, h.asset))
        if h.balance
    ]
    return CheckItem(
        Item.SUSPENSE,
        not open_,
        "The suspense account is zero at the period end",
        {"suspense_accounts": sorted(accounts.values()), "balances": open_},
    )


def revaluation_item(
    end: date, base: str, holdings: Iterable[Holding], entry_id: str | None
) -> CheckItem:
    """When a multi-asset account holds a currency other than the base at the period end,
    the FX revaluation of that day is booked."""
    foreign = [
        {
            "account_id": h.account_id,
            "code": h.code,
            "asset": h.asset,
            "balance": format_amount(h.balance, h.scale),
        }
        for h in sorted(holdings, key=lambda h: (h.code, h.asset))
        if h.balance and h.asset != base
    ]
    return CheckItem(
        Item.FX_REVALUATION,
        not foreign or entry_id is not None,
        "Foreign-currency positions are revalued at the period end",
        {
            "required": bool(foreign),
            "as_of": end.isoformat(),
            "revaluation_entry_id": entry_id,
            "foreign_positions": foreign,
        },
    )
