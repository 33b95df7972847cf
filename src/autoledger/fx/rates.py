"""Exchange rates and conversion, exact. Pure: no I/O (ADR 0017).

A :class:`Rate` says ``1 base = rate quote`` on a day. A :class:`RateTable` answers
``closing(base, quote, day)`` — the latest rate published on or before the day, no older than
``max_age_days`` — directly, by the inverse of the opposite pair, or across one pivot
currency (the ECB publishes EUR against the rest; USD→GBP is EUR→GBP / EUR→USD on the same
publication day); and ``average(base, quote, start, end)``, the mean of the rates of the
publication days in the period. Rates are :class:`~decimal.Decimal`; a conversion of minor
units rounds once, half to even, at the end.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from autoledger.kit.errors import InvalidRequest

MAX_AGE_DAYS = 7  # a closing rate may be this old (weekends, holidays), no older
PRECISION = 28


class RateMissing(InvalidRequest):
    code = "fx.rate_missing"
    title = "No exchange rate"


@dataclass(frozen=True, slots=True)
class Rate:
    base: str
    quote: str
    day: date
    rate: Decimal  # 1 base = rate quote, > 0


@dataclass(frozen=True, slots=True)
class Quote:
    """A rate the table found, and the day it was published."""

    rate: Decimal
    day: date
    via: str | None = None  # the pivot currency of a cross rate


class RateTable:
    def __init__(self, rates: Iterable[Rate], *, max_age_days: int = MAX_AGE_DAYS) -> None:
        series: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)
        for r in rates:
            if r.rate <= 0:
                raise ValueError(f"rate {r.base}/{r.quote} on {r.day} is not positive")
            series[(r.base, r.quote)][r.day] = r.rate
        self._days = {pair: sorted(points) for pair, points in series.items()}
        self._rates = {pair: [series[pair][d] for d in days] for pair, days in self._days.items()}
        self._partners: dict[str, set[str]] = defaultdict(set)
        for base, quote in self._days:
            self._partners[base].add(quote)
            self._partners[quote].add(base)
        self.max_age = timedelta(days=max_age_days)

    def closing(self, base: str, quote: str, day: date) -> Quote:
        """``1 base = ? quote`` as of the end of ``day``; :class:`RateMissing` if unknown."""
        if base == quote:
            return Quote(Decimal(1), day)
        found = self._pair(base, quote, day)
        if found is not None:
            return found
        crosses = []
        for pivot in sorted(self._partners[base] & self._partners[quote]):
            left, right = self._pair(pivot, base, day), self._pair(pivot, quote, day)
            if left is not None and right is not None:
                with localcontext() as ctx:
                    ctx.prec = PRECISION
                    rate = right.rate / left.rate
                crosses.append(Quote(rate, min(left.day, right.day), pivot))
        if crosses:  # the freshest cross; pivots in name order break a tie
            return max(crosses, key=lambda q: q.day)
        since = day - min(self.max_age, day - date.min)
        raise RateMissing(
            f"no {base}/{quote} rate published between {since.isoformat()} and {day.isoformat()}"
        )

    def average(self, base: str, quote: str, start: date, end: date) -> Quote:
        """The mean of the closing rates of the publication days from ``start`` to ``end``."""
        if base == quote:
            return Quote(Decimal(1), end)
        days = sorted(
            {
                d
                for pair in self._related(base, quote)
                for d in self._days[pair]
                if start <= d <= end
            }
        )
        values = []
        for day in days:
            try:
                values.append(self.closing(base, quote, day).rate)
            except RateMissing:
                continue
        if not values:
            raise RateMissing(
                f"no {base}/{quote} rate published between {start.isoformat()} and"
                f" {end.isoformat()}"
            )
        with localcontext() as ctx:
            ctx.prec = PRECISION
            mean = sum(values, Decimal(0)) / len(values)
        return Quote(mean, end)

    def _related(self, base: str, quote: str) -> list[tuple[str, str]]:
        wanted = {base, quote}
        return [pair for pair in self._days if wanted & set(pair)]

    def _pair(self, base: str, quote: str, day: date) -> Quote | None:
        direct = self._latest((base, quote), day)
        inverse = self._latest((quote, base), day)
        if direct is not None and (inverse is None or direct[0] >= inverse[0]):
            return Quote(direct[1], direct[0])
        if inverse is None:
            return None
        with localcontext() as ctx:
            ctx.prec = PRECISION
            return Quote(Decimal(1) / inverse[1], inverse[0])

    def _latest(self, pair: tuple[str, str], day: date) -> tuple[date, Decimal] | None:
        days = self._days.get(pair)
        if not days:
            return None
        n = bisect_right(days, day)
        if n == 0 or day - days[n - 1] > self.max_age:
            return None
        return days[n - 1], self._rates[pair][n - 1]


def convert(minor: int, rate: Decimal, from_scale: int, to_scale: int) -> int:
    """``minor`` units of one asset in minor units of another at ``rate``, rounded half to
    even once."""
    with localcontext() as ctx:
        ctx.prec = PRECISION + 20
        exact = Decimal(minor) * rate * (Decimal(10) ** (to_scale - from_scale))
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def parse_rate(text: str) -> Decimal:
    """A rate as written (``1.0876``, ``136``): positive, plain decimal, at most 12 places."""
    value = text.strip()
    whole, _, fraction = value.partition(".")
    if (
        not value.isascii()
        or not whole.isdigit()
        or (fraction and not fraction.isdigit())
        or len(fraction) > 12
        or len(whole) > 15
    ):
        raise ValueError(f"{text!r} is not a rate (a positive decimal, at most 12 places)")
    rate = Decimal(value)
    if rate <= 0:
        raise ValueError(f"{text!r} is not a positive rate")
    return rate
