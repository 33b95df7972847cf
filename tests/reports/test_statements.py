"""Statements from balances (pure): roll-ups, depth, signs, comparison columns, and the
properties of random ledgers — the balance sheet balances, the trial balance's columns are
equal, and both cash-flow methods add up to the change in cash."""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from autoledger.ledger.types import AccountType
from autoledger.reports import statements
from autoledger.reports.statements import AccountInfo, Chart, Column, Line, Report

A, L, E, R, X = (
    AccountType.ASSET,
    AccountType.LIABILITY,
    AccountType.EQUITY,
    AccountType.REVENUE,
    AccountType.EXPENSE,
)


def account(
    code: str, type_: AccountType, parent: AccountInfo | None = None, activity: str | None = None
) -> AccountInfo:
    return AccountInfo(
        uuid.uuid4(), code, f"Account {code}", type_, parent.id if parent else None, activity
    )


ASSETS = account("1000", A)
CASH = account("1100", A, ASSETS)
BANK = account("1110", A, CASH)
SAVINGS = account("1120", A, CASH)
RECEIVABLE = account("1200", A, ASSETS)
FIXED = account("1500", A, ASSETS, "investing")
EQUIPMENT = account("1520", A, FIXED)
DEPRECIATION = account("1590", A, FIXED)
PAYABLE = account("2100", L)
LOAN = account("2700", L, activity="financing")
CAPITAL = account("3100", E)
SALES = account("4100", R)
RENT = account("6100", X)
CHART = [
    ASSETS,
    CASH,
    BANK,
    SAVINGS,
    RECEIVABLE,
    FIXED,
    EQUIPMENT,
    DEPRECIATION,
    PAYABLE,
    LOAN,
    CAPITAL,
    SALES,
    RENT,
]
CASH_IDS = {BANK.id, SAVINGS.id}


@dataclass(frozen=True)
class Entry:
    day: date
    debit: AccountInfo
    credit: AccountInfo
    amount: int


def nets(entries: list[Entry], start: date | None, end: date) -> dict[uuid.UUID, int]:
    out: dict[uuid.UUID, int] = defaultdict(int)
    for e in entries:
        if (start is None or e.day >= start) and e.day <= end:
            out[e.debit.id] += e.amount
            out[e.credit.id] -= e.amount
    return dict(out)


def counterparts(entries: list[Entry], start: date, end: date) -> dict[uuid.UUID, int]:
    out: dict[uuid.UUID, int] = defaultdict(int)
    for e in entries:
        if start <= e.day <= end and (e.debit.id in CASH_IDS or e.credit.id in CASH_IDS):
            if e.debit.id not in CASH_IDS:
                out[e.debit.id] += e.amount
            if e.credit.id not in CASH_IDS:
                out[e.credit.id] -= e.amount
    return dict(out)


def col(end: date, start: date | None = None, key: str = "current") -> Column:
    return Column(key, end.isoformat(), start, end)


def lines(report: Report, section: str) -> dict[str, list[int]]:
    found = next(s for s in report.sections if s.key == section)
    return {line.code or line.label: line.amounts for line in found.lines}


def total(report: Report, label: str) -> list[int]:
    line: Line = next(t for t in report.totals if t.label == label)
    return line.amounts


BOOKS = [
    Entry(date(2025, 3, 1), BANK, CAPITAL, 100_000),
    Entry(date(2025, 6, 1), BANK, SALES, 30_000),  # last year's profit, never closed
    Entry(date(2026, 1, 5), EQUIPMENT, BANK, 24_000),
    Entry(date(2026, 1, 31), RENT, DEPRECIATION, 1_000),  # depreciation booked to rent here
    Entry(date(2026, 2, 1), RECEIVABLE, SALES, 50_000),
    Entry(date(2026, 2, 20), BANK, RECEIVABLE, 20_000),
    Entry(date(2026, 2, 25), SAVINGS, BANK, 10_000),  # a transfer between cash accounts
    Entry(date(2026, 3, 1), RENT, PAYABLE, 3_000),
    Entry(date(2026, 3, 2), BANK, LOAN, 40_000),
]


def test_balance_sheet_rolls_up_and_balances_with_earnings() -> None:
    end = date(2026, 3, 31)
    report = statements.balance_sheet(
        Chart(CHART),
        [nets(BOOKS, None, end)],
        [nets(BOOKS, date(2026, 1, 1), end)],
        [col(end)],
        None,
    )
    assets = lines(report, "assets")
    assert assets["1110"] == [100_000 + 30_000 - 24_000 + 20_000 - 10_000 + 40_000]
    assert assets["1120"] == [10_000]
    assert assets["1100"] == [assets["1110"][0] + 10_000]  # parent = sum of children
    assert assets["1590"] == [-1_000]  # a contra asset shows against its section
    assert assets["1500"] == [23_000]
    assert assets["1000"] == [assets["1100"][0] + 30_000 + 23_000]
    equity = lines(report, "equity")
    assert equity["3100"] == [100_000]
    assert equity["Prior years' earnings (not closed)"] == [30_000]
    assert equity["Current-year earnings"] == [50_000 - 1_000 - 3_000]
    assert report.checks == {"balanced": True}
    assert total(report, "Total assets") == total(report, "Total liabilities and equity")


def test_depth_hides_children_but_keeps_totals() -> None:
    end = date(2026, 3, 31)
    full = statements.balance_sheet(Chart(CHART), [nets(BOOKS, None, end)], [{}], [col(end)], None)
    top = statements.balance_sheet(Chart(CHART), [nets(BOOKS, None, end)], [{}], [col(end)], 1)
    assert set(lines(top, "assets")) == {"1000"}
    assert top.sections[0].total == full.sections[0].total
    two = statements.balance_sheet(Chart(CHART), [nets(BOOKS, None, end)], [{}], [col(end)], 2)
    assert set(lines(two, "assets")) == {"1000", "1100", "1200", "1500"}


def test_income_statement_signs_and_comparison_columns() -> None:
    march, february = (date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 2, 1), date(2026, 2, 28))
    report = statements.income_statement(
        Chart(CHART),
        [nets(BOOKS, *march), nets(BOOKS, *february)],
        [col(march[1], march[0]), col(february[1], february[0], "previous_period")],
        None,
    )
    assert lines(report, "revenue") == {"4100": [0, 50_000]}
    assert lines(report, "expenses") == {"6100": [3_000, 0]}
    assert total(report, "Net income") == [-3_000, 50_000]
    assert [c.key for c in report.columns] == ["current", "previous_period"]


def test_trial_balance_splits_sides_and_folds_by_depth() -> None:
    end = date(2026, 3, 31)
    report = statements.trial_balance(Chart(CHART), [nets(BOOKS, None, end)], [col(end)], None)
    rows = lines(report, "accounts")
    assert rows["4100"] == [0, 80_000]
    assert rows["1590"] == [0, 1_000]
    assert report.checks == {"balanced": True}
    folded = statements.trial_balance(Chart(CHART), [nets(BOOKS, None, end)], [col(end)], 1)
    rows = lines(folded, "accounts")
    assert set(rows) == {"1000", "2100", "2700", "3100", "4100", "6100"}
    # Folding nets a contra account against its parent: still balanced, smaller totals.
    assert rows["1000"] == [156_000 + 10_000 + 30_000 + 24_000 - 1_000, 0]
    assert folded.checks == {"balanced": True}
    assert folded.sections[0].total == [a - 1_000 for a in report.sections[0].total]
    assert [c.key for c in report.columns] == ["current.debit", "current.credit"]


def test_cash_flow_by_both_methods_for_a_quarter() -> None:
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    movement = nets(BOOKS, start, end)
    opening_nets = nets(BOOKS, None, start - timedelta(days=1))
    opening = [sum(opening_nets.get(a, 0) for a in CASH_IDS)]
    indirect = statements.cash_flow_indirect(
        Chart(CHART), CASH_IDS, [movement], opening, [col(end, start)], None
    )
    assert lines(indirect, "operating")["Net income"] == [46_000]
    assert lines(indirect, "operating")["1200"] == [-30_000]  # receivable grew
    assert lines(indirect, "operating")["2100"] == [3_000]
    assert lines(indirect, "investing") == {"1520": [-24_000], "1590": [1_000]}
    assert lines(indirect, "financing") == {"2700": [40_000]}
    change = sum(movement.get(a, 0) for a in CASH_IDS)
    assert total(indirect, "Net change in cash") == [change] == [36_000]
    assert total(indirect, "Cash at end of period") == [opening[0] + change]
    assert indirect.checks == {"reconciles": True}

    direct = statements.cash_flow_direct(
        Chart(CHART),
        CASH_IDS,
        [counterparts(BOOKS, start, end)],
        [change],
        opening,
        [col(end, start)],
        None,
    )
    assert lines(direct, "operating") == {"1200": [20_000]}  # collected from customers
    assert lines(direct, "investing") == {"1520": [-24_000]}
    assert lines(direct, "financing") == {"2700": [40_000]}
    assert direct.checks == {"reconciles": True}
    # Folded to the top level, investing shows under the fixed-asset parent.
    folded = statements.cash_flow_direct(
        Chart(CHART),
        CASH_IDS,
        [counterparts(BOOKS, start, end)],
        [change],
        opening,
        [col(end, start)],
        2,
    )
    assert lines(folded, "investing") == {"1500": [-24_000]}


def test_a_parent_of_another_type_does_not_roll_up_its_child() -> None:
    odd = account("1999", L, ASSETS)
    books = [Entry(date(2026, 1, 1), BANK, odd, 500)]
    report = statements.balance_sheet(
        Chart([*CHART, odd]),
        [nets(books, None, date(2026, 1, 31))],
        [{}],
        [col(date(2026, 1, 31))],
        None,
    )
    assert lines(report, "liabilities") == {"1999": [500]}
    assert lines(report, "assets")["1000"] == [500]


ACCOUNTS = st.sampled_from(CHART)
ENTRIES = st.lists(
    st.builds(
        Entry,
        st.dates(date(2024, 1, 1), date(2026, 12, 31)),
        ACCOUNTS,
        ACCOUNTS,
        st.integers(1, 10**9),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ENTRIES, st.dates(date(2024, 1, 1), date(2026, 12, 31)), st.integers(1, 12))
def test_random_ledgers_balance_and_cash_reconciles(
    entries: list[Entry], end: date, fiscal_month: int
) -> None:
    from autoledger.reports.periods import fiscal_year_start

    chart = Chart(CHART)
    fy = fiscal_year_start(end, fiscal_month)
    balances = nets(entries, None, end)
    bs = statements.balance_sheet(chart, [balances], [nets(entries, fy, end)], [col(end)], None)
    assets, liabilities, equity = (s.total[0] for s in bs.sections)
    assert assets - liabilities - equity == 0  # equity includes the year's earnings
    assert bs.checks["balanced"]
    tb = statements.trial_balance(chart, [balances], [col(end)], None)
    assert tb.checks["balanced"]

    movement = nets(entries, fy, end)
    opening_nets = nets(entries, None, fy - timedelta(days=1))
    opening = [sum(opening_nets.get(a, 0) for a in CASH_IDS)]
    change = sum(movement.get(a, 0) for a in CASH_IDS)
    closing = sum(balances.get(a, 0) for a in CASH_IDS)
    for report in (
        statements.cash_flow_indirect(chart, CASH_IDS, [movement], opening, [col(end, fy)], None),
        statements.cash_flow_direct(
            chart,
            CASH_IDS,
            [counterparts(entries, fy, end)],
            [change],
            opening,
            [col(end, fy)],
            2,
        ),
    ):
        assert sum(s.total[0] for s in report.sections) == change
        assert total(report, "Cash at end of period") == [closing]
        assert report.checks["reconciles"]


@given(st.integers(-(2**63), 2**63 - 1), st.integers(0, 12))
def test_the_report_formatter_agrees_with_format_amount(minor: int, scale: int) -> None:
    from autoledger.kit.money import format_amount
    from autoledger.reports.presenter import amount_formatter

    assert amount_formatter(scale)(minor) == format_amount(minor, scale)
