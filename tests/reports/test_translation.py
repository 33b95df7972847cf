"""Statements in a reporting currency (pure): for random ledgers booked in several assets of
different scales and random rates (direct, inverse and cross through the dollar), the
converted balance sheet balances exactly — assets = liabilities + equity + earnings +
translation adjustment — each line is its assets' amounts converted once and summed, and the
current year's earnings are the income statement's."""

import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoledger.fx.rates import Rate, RateMissing, RateTable, convert
from autoledger.ledger.types import AccountType
from autoledger.reports import statements
from autoledger.reports.periods import fiscal_year_start
from autoledger.reports.statements import TRANSLATION_ADJUSTMENT, AccountInfo, Chart, Column
from autoledger.reports.translation import Translator, balance_sheet_nets
from tests.reports.test_statements import BANK, CHART, lines, total

SCALES = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}
FIRST_DAY = date(2025, 1, 1)
DAYS = 540
RATE_EVERY = 4  # days between publications: a closing rate is never older than a week

entries = st.lists(
    st.tuples(
        st.integers(0, DAYS - 1),
        st.sampled_from(CHART),
        st.sampled_from(CHART),
        st.integers(1, 10**9),
        st.sampled_from(sorted(SCALES)),
    ),
    min_size=1,
    max_size=40,
)
# Per foreign asset, rates against the dollar cycled over the publication days.
rate_values = st.lists(
    st.decimals(Decimal("0.0005"), Decimal("500"), places=6), min_size=1, max_size=6
)


def rate_table(values: dict[str, list[Decimal]]) -> RateTable:
    rates = []
    for asset, cycle in values.items():
        for i, day in enumerate(range(-8, DAYS, RATE_EVERY)):
            rate = cycle[i % len(cycle)]
            published = FIRST_DAY + timedelta(days=day)
            # Some pairs are published the other way round: the table inverts them.
            if asset == "KWD":
                rates.append(Rate("USD", asset, published, Decimal(1) / rate))
            else:
                rates.append(Rate(asset, "USD", published, rate))
    return RateTable(rates)


def by_asset(
    booked: list[tuple[int, AccountInfo, AccountInfo, int, str]], start: date | None, end: date
) -> dict[str, dict[uuid.UUID, int]]:
    out: dict[str, dict[uuid.UUID, int]] = defaultdict(lambda: defaultdict(int))
    for offset, debit, credit, amount, asset in booked:
        day = FIRST_DAY + timedelta(days=offset)
        if (start is None or day >= start) and day <= end:
            out[asset][debit.id] += amount
            out[asset][credit.id] -= amount
    return {a: dict(n) for a, n in out.items()}


@settings(max_examples=150, deadline=None)
@given(
    booked=entries,
    eur=rate_values,
    jpy=rate_values,
    kwd=rate_values,
    currency=st.sampled_from(sorted(SCALES)),
    end_offset=st.integers(0, DAYS - 1),
    fiscal_month=st.integers(1, 12),
)
def test_the_converted_balance_sheet_balances_exactly(
    booked: list[tuple[int, AccountInfo, AccountInfo, int, str]],
    eur: list[Decimal],
    jpy: list[Decimal],
    kwd: list[Decimal],
    currency: str,
    end_offset: int,
    fiscal_month: int,
) -> None:
    table = rate_table({"EUR": eur, "JPY": jpy, "KWD": kwd})
    chart = Chart(CHART)
    end = FIRST_DAY + timedelta(days=end_offset)
    year = fiscal_year_start(end, fiscal_month)
    balances, fiscal_year = by_asset(booked, None, end), by_asset(booked, year, end)
    pl = chart.of_type(AccountType.REVENUE, AccountType.EXPENSE)
    tr = Translator(table, currency, SCALES[currency], SCALES)
    converted, current = balance_sheet_nets(tr, balances, fiscal_year, pl, end, year)
    column = [Column("current", end.isoformat(), None, end)]
    report = statements.balance_sheet(chart, [converted], [current], column, None, translated=True)

    assert report.checks == {"balanced": True}
    sections = {s.key: s.total for s in report.sections}
    assert total(report, "Total assets") == sections["assets"]
    assert sections["assets"] == [sections["liabilities"][0] + sections["equity"][0]]
    equity = lines(report, "equity")
    adjustment = equity[TRANSLATION_ADJUSTMENT]
    # The adjustment is what the conversion made of zero: Σ of every converted net.
    assert adjustment == [sum(converted.values())]

    # A line is each asset's amount converted once at the closing rate, then summed.
    bank = sum(
        convert(
            nets.get(BANK.id, 0),
            table.closing(asset, currency, end).rate,
            SCALES[asset],
            SCALES[currency],
        )
        for asset, nets in balances.items()
        if nets.get(BANK.id, 0)
    )
    assert converted.get(BANK.id, 0) == bank

    # The current year's earnings are the income statement of the fiscal year to date.
    movements = tr.convert(fiscal_year, tr.average(year, end))
    income = statements.income_statement(chart, [movements], column, None)
    assert equity["Current-year earnings"] == total(income, "Net income")

    # At one rate for everything (the trial balance), only rounding is left to adjust.
    trial = statements.trial_balance(
        chart, [tr.convert(balances, tr.closing(end))], column, None, translated=True
    )
    assert trial.checks == {"balanced": True}
    assert {(r.method, r.quote) for r in tr.used} <= {("average", currency), ("closing", currency)}


def test_in_the_books_own_currency_there_is_nothing_to_adjust() -> None:
    chart = Chart(CHART)
    booked = [(10, BANK, CHART[-3], 12_345, "USD"), (40, CHART[-1], BANK, 345, "USD")]
    end = FIRST_DAY + timedelta(days=60)
    tr = Translator(RateTable([]), "USD", 2, SCALES)
    converted, current = balance_sheet_nets(
        tr,
        by_asset(booked, None, end),
        by_asset(booked, FIRST_DAY, end),
        chart.of_type(AccountType.REVENUE, AccountType.EXPENSE),
        end,
        FIRST_DAY,
    )
    column = [Column("current", end.isoformat(), None, end)]
    report = statements.balance_sheet(chart, [converted], [current], column, None, translated=True)
    assert lines(report, "equity")[TRANSLATION_ADJUSTMENT] == [0]
    assert lines(report, "assets")["1110"] == [12_000]
    assert tr.used == []


def test_a_foreign_amount_without_a_rate_is_refused_with_the_pair() -> None:
    tr = Translator(RateTable([]), "USD", 2, SCALES)
    with pytest.raises(RateMissing, match="EUR/USD"):
        tr.convert({"EUR": {BANK.id: 100}}, tr.closing(FIRST_DAY))
    assert tr.convert({"EUR": {BANK.id: 0}}, tr.closing(FIRST_DAY)) == {}
