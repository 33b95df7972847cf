"""Reports in a reporting currency: per-asset nets turned into one currency. Pure: the rates
come in as a :class:`~autoledger.fx.rates.RateTable` (ADR 0015, decision 12).

Each account's amount in each asset is converted once, rounded half to even
(:func:`~autoledger.fx.rates.convert`), and only then summed: a report's lines add up
exactly, and the same books and rates give the same figures whatever the order. A rate is
looked up only for an asset that has a non-zero amount in the column, so a currency the
books no longer hold needs no rate. Every rate looked up is recorded once, in the order of
first use, for the response to list.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from autoledger.fx.rates import RateTable, convert

ByAsset = Mapping[str, Mapping[uuid.UUID, int]]
"""Nets of one column, per asset, then per account (minor units of that asset)."""
RateOf = Callable[[str], Decimal]

CLOSING = "closing"
AVERAGE = "average"


@dataclass(frozen=True, slots=True)
class RateUsed:
    base: str  # the booked asset
    quote: str  # the reporting currency
    rate: Decimal  # 1 base = rate quote
    day: date  # closing: the publication day; average: the period's last day
    method: str  # closing | average
    start: date | None = None  # average: the period's first day
    via: str | None = None  # a cross rate's pivot currency


class Translator:
    """Converts into ``currency`` (at ``scale``) with the rates of ``table``; ``scales``
    gives each booked asset's scale."""

    def __init__(
        self, table: RateTable, currency: str, scale: int, scales: Mapping[str, int]
    ) -> None:
        self.table = table
        self.currency = currency
        self.scale = scale
        self.scales = scales
        self._used: dict[tuple[str, str, date | None, date], RateUsed] = {}

    @property
    def used(self) -> list[RateUsed]:
        return list(self._used.values())

    def closing(self, day: date) -> RateOf:
        """The closing rate of ``day`` (the latest published on or before it)."""

        def rate(asset: str) -> Decimal:
            key = (asset, CLOSING, None, day)
            if key not in self._used:
                found = self.table.closing(asset, self.currency, day)
                self._used[key] = RateUsed(
                    asset, self.currency, found.rate, found.day, CLOSING, None, found.via
                )
            return self._used[key].rate

        return rate

    def average(self, start: date, end: date) -> RateOf:
        """The mean of the closing rates of the publication days from ``start`` to ``end``."""

        def rate(asset: str) -> Decimal:
            key = (asset, AVERAGE, start, end)
            if key not in self._used:
                found = self.table.average(asset, self.currency, start, end)
                self._used[key] = RateUsed(asset, self.currency, found.rate, end, AVERAGE, start)
            return self._used[key].rate

        return rate

    def convert(
        self, nets: ByAsset, rate: RateOf, accounts: Collection[uuid.UUID] | None = None
    ) -> dict[uuid.UUID, int]:
        """Per account, Σ over assets of its amount converted at ``rate`` (each amount
        rounded once); only ``accounts`` when given."""
        out: dict[uuid.UUID, int] = defaultdict(int)
        for asset, amounts in nets.items():
            found = None
            for account_id, amount in amounts.items():
                if not amount or (accounts is not None and account_id not in accounts):
                    continue
                if asset == self.currency:
                    out[account_id] += amount
                    continue
                if found is None:
                    found = rate(asset)
                out[account_id] += convert(amount, found, self.scales[asset], self.scale)
        return dict(out)


def balance_sheet_nets(
    tr: Translator,
    balances: ByAsset,
    fiscal_year: ByAsset,
    profit_and_loss: Collection[uuid.UUID],
    end: date,
    year_start: date,
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
    """One balance-sheet column in the reporting currency: balances at ``end`` and the
    fiscal year's movements (those of the revenue and expense accounts ``profit_and_loss``).

    Balance-sheet accounts and the earlier years' profit and loss at ``end``'s closing rate;
    the year's profit and loss at the average rate of ``year_start``..``end``, so the current
    year's earnings are the income statement's. The converted nets no longer sum to zero:
    that sum is the translation adjustment (``statements.balance_sheet``)."""
    at_end, average = tr.closing(end), tr.average(year_start, end)
    pl = set(profit_and_loss)
    others = {a for nets in balances.values() for a in nets} - pl
    current = tr.convert(fiscal_year, average, pl)
    earlier = tr.convert(subtract(balances, fiscal_year, pl), at_end)
    return add(tr.convert(balances, at_end, others), earlier, current), current


def subtract(
    left: ByAsset, right: ByAsset, accounts: Collection[uuid.UUID]
) -> dict[str, dict[uuid.UUID, int]]:
    """``left - right`` per asset and account, for ``accounts`` only."""
    wanted = set(accounts)
    out: dict[str, dict[uuid.UUID, int]] = defaultdict(dict)
    for asset in set(left) | set(right):
        mine, theirs = left.get(asset, {}), right.get(asset, {})
        for account_id in (set(mine) | set(theirs)) & wanted:
            value = mine.get(account_id, 0) - theirs.get(account_id, 0)
            if value:
                out[asset][account_id] = value
    return dict(out)


def add(*nets: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, int]:
    out: dict[uuid.UUID, int] = defaultdict(int)
    for net in nets:
        for account_id, value in net.items():
            out[account_id] += value
    return dict(out)
