"""Reporting periods and their comparisons (pure)."""

from datetime import date

import pytest

from autoledger.reports.errors import InvalidPeriod
from autoledger.reports.periods import Compare, Period, comparison, fiscal_year_start, resolve


@pytest.mark.parametrize(
    ("period", "compare", "expected"),
    [
        # whole months compare with the same number of months before
        (
            Period(date(2026, 3, 1), date(2026, 3, 31)),
            Compare.PREVIOUS_PERIOD,
            Period(date(2026, 2, 1), date(2026, 2, 28)),
        ),
        (
            Period(date(2026, 4, 1), date(2026, 6, 30)),
            Compare.PREVIOUS_PERIOD,
            Period(date(2026, 1, 1), date(2026, 3, 31)),
        ),
        (
            Period(date(2026, 1, 1), date(2026, 10, 31)),
            Compare.PREVIOUS_PERIOD,
            Period(date(2025, 3, 1), date(2025, 12, 31)),
        ),
        # other periods by days
        (
            Period(date(2026, 3, 10), date(2026, 3, 19)),
            Compare.PREVIOUS_PERIOD,
            Period(date(2026, 2, 28), date(2026, 3, 9)),
        ),
        (
            Period(date(2024, 2, 29), date(2024, 3, 15)),
            Compare.PREVIOUS_YEAR,
            Period(date(2023, 2, 28), date(2023, 3, 15)),
        ),
        (
            Period(date(2026, 1, 1), date(2026, 12, 31)),
            Compare.PREVIOUS_YEAR,
            Period(date(2025, 1, 1), date(2025, 12, 31)),
        ),
    ],
)
def test_comparison_periods(period: Period, compare: Compare, expected: Period) -> None:
    assert comparison(period, compare) == expected


def test_fiscal_year_start_follows_the_start_month() -> None:
    assert fiscal_year_start(date(2026, 11, 24)) == date(2026, 1, 1)
    assert fiscal_year_start(date(2026, 3, 31), 4) == date(2025, 4, 1)
    assert fiscal_year_start(date(2026, 4, 1), 4) == date(2026, 4, 1)


def test_resolve_defaults_and_aliases() -> None:
    today = date(2026, 11, 24)
    assert resolve(as_of=None, date_from=None, date_to=None, today=today) == Period(
        date(2026, 1, 1), today
    )
    assert resolve(
        as_of=date(2026, 5, 31), date_from=None, date_to=date(2026, 5, 31), today=today
    ) == Period(date(2026, 1, 1), date(2026, 5, 31))
    assert resolve(
        as_of=None, date_from=date(2026, 5, 1), date_to=None, today=today, fiscal_start_month=7
    ) == Period(date(2026, 5, 1), today)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"as_of": date(2026, 5, 1), "date_to": date(2026, 5, 2), "date_from": None},
        {"as_of": None, "date_to": date(2026, 5, 1), "date_from": date(2026, 5, 2)},
        {"as_of": None, "date_to": date(2026, 5, 1), "date_from": date(1800, 1, 1)},
        {"as_of": date(9999, 12, 30), "date_to": None, "date_from": date(9999, 12, 15)},
    ],
)
def test_invalid_periods_are_refused(kwargs: dict[str, date | None]) -> None:
    with pytest.raises(InvalidPeriod) as caught:
        resolve(today=date(2026, 11, 24), **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == "reports.invalid_period"
