"""AR/AP aging from open items: pure bucketing, no I/O.

An item's age is the number of days its due date (its issue date when it has none) lies
before the report date: not yet due or due that day is ``current``, then 1-30, 31-60,
61-90 and over 90 days past due. Amounts are what is owed, positive: a receivable's open
amount as is, a payable's (negative as a bank amount, ADR 0012) turned.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


@dataclass(frozen=True, slots=True)
class AgingItem:
    id: uuid.UUID
    reference: str
    counterparty: str | None
    issued: date
    due_date: date | None
    open_amount: int
    """Open at the report date, signed as the bank amount that would settle it."""


@dataclass(slots=True)
class AgingRow:
    counterparty: str
    buckets: list[int]
    total: int
    items: int


@dataclass(slots=True)
class AgingReport:
    kind: str
    as_of: date
    rows: list[AgingRow] = field(default_factory=list)
    totals: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: int = 0


def bucket(as_of: date, item: AgingItem) -> int:
    overdue = (as_of - (item.due_date or item.issued)).days
    if overdue <= 0:
        return 0
    if overdue <= 30:
        return 1
    if overdue <= 60:
        return 2
    if overdue <= 90:
        return 3
    return 4


def aging(kind: str, as_of: date, items: Iterable[AgingItem]) -> AgingReport:
    """One row per counterparty (by name, items without one under "(none)"), largest
    total first, then the totals per bucket."""
    sign = -1 if kind == "payable" else 1
    per: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        if item.issued > as_of or item.open_amount == 0:
            continue
        name = item.counterparty or "(none)"
        per[name][bucket(as_of, item)] += sign * item.open_amount
        counts[name] += 1
    report = AgingReport(kind, as_of)
    for name, values in sorted(per.items(), key=lambda kv: (-sum(kv[1]), kv[0])):
        report.rows.append(AgingRow(name, values, sum(values), counts[name]))
        report.totals = [t + v for t, v in zip(report.totals, values, strict=True)]
    report.total = sum(report.totals)
    return report
