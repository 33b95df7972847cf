"""Rates, pure: closing rates direct, inverse and across a pivot, no staler than a week;
averages over publication days; conversion rounding once, half to even; the revaluation of a
trading account is the value of what it holds."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoledger.fx import ecb
from autoledger.fx.rates import Rate, RateMissing, RateTable, convert, parse_rate
from autoledger.fx.revaluation import Position, revalue

FIXTURES = Path(__file__).parent.parent / "fixtures" / "fx"
D = date(2026, 1, 5)  # a Monday


def table() -> RateTable:
    return RateTable(
        [
            Rate("EUR", "USD", D, Decimal("1.1000")),
            Rate("EUR", "USD", D + timedelta(days=1), Decimal("1.1200")),
            Rate("EUR", "GBP", D, Decimal("0.8500")),
            Rate("EUR", "GBP", D + timedelta(days=1), Decimal("0.8400")),
            Rate("EUR", "JPY", D, Decimal("160")),
        ]
    )


def test_direct_inverse_and_cross_rates() -> None:
    rates = table()
    assert rates.closing("EUR", "USD", D).rate == Decimal("1.1000")
    assert rates.closing("USD", "EUR", D).rate == Decimal(1) / Decimal("1.1")
    cross = rates.closing("USD", "GBP", D + timedelta(days=1))
    assert cross.via == "EUR"
    assert cross.rate == Decimal("0.84") / Decimal("1.12")
    assert rates.closing("USD", "USD", D).rate == 1


def test_a_closing_rate_carries_over_a_weekend_but_not_beyond_a_week() -> None:
    rates = table()
    saturday = D + timedelta(days=5)
    assert rates.closing("EUR", "USD", saturday).day == D + timedelta(days=1)
    with pytest.raises(RateMissing, match="EUR/USD"):
        rates.closing("EUR", "USD", D + timedelta(days=9))
    with pytest.raises(RateMissing):
        rates.closing("EUR", "USD", D - timedelta(days=1))  # nothing published before
    with pytest.raises(RateMissing, match="EUR/CHF"):
        rates.closing("EUR", "CHF", D)


def test_the_average_is_over_the_publication_days() -> None:
    rates = table()
    average = rates.average("EUR", "USD", D - timedelta(days=3), D + timedelta(days=3))
    assert average.rate == Decimal("1.11")
    cross = rates.average("USD", "GBP", D, D + timedelta(days=1))
    assert cross.rate == (Decimal("0.85") / Decimal("1.1") + Decimal("0.84") / Decimal("1.12")) / 2
    with pytest.raises(RateMissing):
        rates.average("EUR", "USD", D + timedelta(days=20), D + timedelta(days=25))


def test_conversion_rounds_once_half_to_even_across_scales() -> None:
    assert convert(100_00, Decimal("1.1"), 2, 2) == 110_00
    assert convert(1, Decimal("0.5"), 2, 2) == 0  # 0.5 -> 0
    assert convert(3, Decimal("0.5"), 2, 2) == 2  # 1.5 -> 2
    assert convert(100_00, Decimal("160"), 2, 0) == 16_000  # EUR cents to whole yen
    assert convert(-100_00, Decimal("1.12345"), 2, 2) == -112_34


@given(
    minor=st.integers(-(10**15), 10**15),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(100_000), places=6),
)
def test_conversion_is_within_half_a_unit_of_the_exact_value(minor: int, rate: Decimal) -> None:
    exact = Decimal(minor) * rate
    assert abs(Decimal(convert(minor, rate, 2, 2)) - exact) <= Decimal("0.5")


def test_rates_are_plain_positive_decimals() -> None:
    assert parse_rate("136") == Decimal(136)
    assert parse_rate(" 1.0876 ") == Decimal("1.0876")
    for bad in ("0", "-1.2", "1e3", "1,08", "", "abc", "1.1234567890123", "١٢"):
        with pytest.raises(ValueError, match="rate"):
            parse_rate(bad)


def test_the_trading_account_is_worth_what_it_holds_at_closing_rates() -> None:
    # bought 100.00 EUR for 110.00 USD; the euro rose to 1.12: 2.00 USD unrealized gain
    held = {"EUR": Position("EUR", -100_00, 2), "USD": Position("USD", 110_00, 2)}
    result = revalue(held, base="USD", base_scale=2, as_of=D + timedelta(days=1), rates=table())
    assert [(v.asset, v.value) for v in result.valuations] == [("EUR", -112_00), ("USD", 110_00)]
    assert result.value == -2_00  # a credit: a gain


def test_ecb_history_and_daily_files_read_alike() -> None:
    history = ecb.parse((FIXTURES / "eurofxref-hist-head.csv").read_text())
    daily = ecb.parse((FIXTURES / "eurofxref.csv").read_text())
    assert history.problems == []
    assert daily.problems == []
    assert daily.skipped == []
    assert {"CYP", "SIT", "BGN", "HRK"} <= set(history.skipped)
    latest = {r.quote: r.rate for r in history.rates if r.day == date(2026, 10, 30)}
    assert {r.quote: r.rate for r in daily.rates} == latest
    assert latest["USD"] == Decimal("1.1172")
    assert latest["ISK"] == Decimal(136)
    assert {r.base for r in history.rates} == {"EUR"}
    assert len({r.day for r in history.rates}) == 65


def test_a_bad_cell_is_reported_with_its_line_and_column() -> None:
    parsed = ecb.parse("Date,USD,JPY,\n2026-01-02,1.0876,abc,\n2026-13-01,1.1,160,\n")
    assert [(p.line, p.column) for p in parsed.problems] == [(2, "JPY"), (3, "Date")]
    with pytest.raises(ecb.EcbFileError, match="Date"):
        ecb.parse("Day,USD\n")
    with pytest.raises(ecb.EcbFileError, match="not a currency code"):
        ecb.parse("Date,US Dollar\n")


def test_the_first_days_of_the_calendar_are_no_overflow() -> None:
    with pytest.raises(RateMissing, match="0001-01-01 and 0001-01-02"):
        table().closing("EUR", "USD", date(1, 1, 2))
