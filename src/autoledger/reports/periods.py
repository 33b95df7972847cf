"""Reporting periods and their comparison columns. Pure date arithmetic, no I/O.

A report covers ``[start, end]`` (both inclusive). Point-in-time reports (trial balance,
balance sheet) show balances at ``end``; period reports (income statement, cash flow) show
the movement within the period. A comparison is another period:

- ``previous_period``: the period just before, of the same length — counted in whole
  months when the period is whole months (so March compares with February, a quarter with
  the quarter before, a fiscal year to date with the whole of the year before), in days
  otherwise;
- ``previous_year``: the same dates one year earlier (29 February becomes the 28th).
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from autoledger.kit.errors import FieldError
from autoledger.reports.errors import InvalidPeriod

EARLIEST = date(1900, 1, 1)
LATEST = date(9998, 12, 31)  # room for the month and day arithmetic around a period


class Compare(StrEnum):
    PREVIOUS_PERIOD = "previous_period"
    PREVIOUS_YEAR = "previous_year"


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise InvalidPeriod(
                f"the period starts ({self.start}) after it ends ({self.end})",
                errors=[FieldError("from", "after to")],
            )


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def fiscal_year_start(day: date, start_month: int = 1) -> date:
    """The first day of the fiscal year (starting in ``start_month``) that contains ``day``."""
    year = day.year if day.month >= start_month else day.year - 1
    return date(year, start_month, 1)


def _whole_months(period: Period) -> int | None:
    if period.start.day != 1 or period.end != month_end(period.end):
        return None
    return (period.end.year - period.start.year) * 12 + period.end.month - period.start.month + 1


def _earlier(period: Period, start: date, end: date) -> Period:
    if start < EARLIEST:
        raise InvalidPeriod(
            f"the comparison of {period.start}..{period.end} would start before {EARLIEST}"
        )
    return Period(start, end)


def comparison(period: Period, compare: Compare) -> Period:
    if compare is Compare.PREVIOUS_YEAR:
        return _earlier(period, add_months(period.start, -12), add_months(period.end, -12))
    months = _whole_months(period)
    if months is not None:
        start = add_months(period.start, -months)
        return _earlier(period, start, period.start - timedelta(days=1))
    days = (period.end - period.start).days + 1
    return _earlier(period, period.start - timedelta(days=days), period.start - timedelta(days=1))


def resolve(
    *,
    as_of: date | None,
    date_from: date | None,
    date_to: date | None,
    today: date,
    fiscal_start_month: int = 1,
) -> Period:
    """The period a request names: ``to`` (or ``as_of``, its alias; both must agree when
    both are given; default today) and ``from`` (default: the start of the fiscal year)."""
    if as_of is not None and date_to is not None and as_of != date_to:
        raise InvalidPeriod(
            "as_of and to name the same date; give one of them",
            errors=[FieldError("as_of", "differs from to")],
        )
    end = as_of or date_to or today
    start = date_from or fiscal_year_start(end, fiscal_start_month)
    if start < EARLIEST:
        raise InvalidPeriod(
            f"periods start on or after {EARLIEST}", errors=[FieldError("from", "too early")]
        )
    if end > LATEST:
        raise InvalidPeriod(
            f"periods end on or before {LATEST}", errors=[FieldError("to", "too late")]
        )
    return Period(start, end)
