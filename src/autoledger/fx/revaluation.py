"""Unrealized FX revaluation by the trading-account method. Pure: no I/O (ADR 0017).

Every exchange of one currency for another is booked balanced per asset through a currency
trading account (the small-business chart's 3900, "Currency conversion (FX trading)"): the
euros in, the dollars out. The trading account then holds, per currency, the opposite of what
the books hold in it, so its value in the base currency at today's rates is exactly the
unrealized gain (negative: a credit) or loss (positive: a debit) of every open position.

At a period's end the revaluation entry moves that value into profit and loss — the trading
account is credited its value and the gain/loss account debited it, in the base currency —
and the next day the entry is reversed, so the next period starts from the books' own units
and revalues from scratch. Values are signed as debits: positive is a debit balance.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from autoledger.fx.rates import Quote, RateTable, convert


@dataclass(frozen=True, slots=True)
class Position:
    asset: str
    balance: int  # minor units of ``asset``, debit positive
    scale: int


@dataclass(frozen=True, slots=True)
class Valuation:
    asset: str
    balance: int
    scale: int
    rate: Quote
    value: int  # minor units of the base currency, debit positive


@dataclass(frozen=True, slots=True)
class Revaluation:
    as_of: date
    base: str
    valuations: tuple[Valuation, ...]

    @property
    def value(self) -> int:
        """The trading account's value in the base currency: a loss when positive."""
        return sum(v.value for v in self.valuations)


def revalue(
    positions: Mapping[str, Position], *, base: str, base_scale: int, as_of: date, rates: RateTable
) -> Revaluation:
    """Each position of the trading account at the closing rate of ``as_of``
    (:class:`~autoledger.fx.rates.RateMissing` names the first currency without one)."""
    valuations = []
    for asset in sorted(positions):
        position = positions[asset]
        quote = rates.closing(asset, base, as_of)
        valuations.append(
            Valuation(
                asset=asset,
                balance=position.balance,
                scale=position.scale,
                rate=quote,
                value=convert(position.balance, quote.rate, position.scale, base_scale),
            )
        )
    return Revaluation(as_of, base, tuple(valuations))
