"""The hledger / ledger-cli reader and the planner, without a database."""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from autoledger.interop.journal_parser import parse_journal
from autoledger.interop.model import Amount, Severity
from autoledger.interop.planner import account_code, plan_import
from autoledger.ledger.types import AccountType
from tests.interop.balances import Balances, hledger_balances
from tests.interop.conftest import run_hledger

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "journals"


def _plan_balances(text: str) -> Balances:
    plan = plan_import(parse_journal(text), {})
    assert plan.errors == []
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for entry in plan.entries:
        for leg in entry.postings:
            totals[(leg.account, leg.asset)] += leg.amount
    return {k: Decimal(v).scaleb(-plan.scales[k[1]]) for k, v in totals.items() if v}


def test_reads_amount_styles_prices_costs_and_tags() -> None:
    journal = parse_journal((FIXTURES / "multicurrency.journal").read_text())
    assert journal.errors == []
    opening, salary, dinner, buy, sell, *_ = journal.transactions
    assert (opening.code, opening.flag, opening.metadata["kind"]) == ("OB-1", "*", "opening")
    assert opening.postings[1].amount == Amount(Decimal("-5000.00"), "USD")  # elided, inferred
    assert salary.metadata["tags"] == "monthly"
    assert salary.postings[0].assertion == Amount(Decimal("8200.00"), "USD")
    assert dinner.flag == "!"
    assert dinner.postings[0].weight == Amount(Decimal("46.7500"), "USD")
    assert buy.postings[0].cost == Amount(Decimal("190.00"), "USD")
    assert sell.postings[0].weight == Amount(Decimal("-800.00"), "USD")  # @@: the exact total
    assert journal.commodities["AAPL"].scale == 4
    assert journal.commodities["EUR"].scale == 2
    assert [p.date for p in journal.prices] == [date(2025, 1, 1)] * 2


def test_conversions_keep_units_on_their_accounts_and_balance_each_asset() -> None:
    plan = plan_import(parse_journal((FIXTURES / "multicurrency.journal").read_text()), {})
    assert plan.errors == []
    assert plan.assertions_checked == 5
    dinner = plan.entries[2]
    assert [(p.account, p.asset, p.amount) for p in dinner.postings] == [
        ("Expenses:Food", "EUR", 4250),
        ("Liabilities:Visa", "USD", -4675),
        ("Equity:Conversion:EUR-USD:EUR", "EUR", -4250),
        ("Equity:Conversion:EUR-USD:USD", "USD", 4675),
    ]
    assert dinner.metadata["price_0"] == "EUR 1.10 USD"
    for entry in plan.entries:
        per_asset: dict[str, int] = defaultdict(int)
        for p in entry.postings:
            per_asset[p.asset] += p.amount
        assert set(per_asset.values()) == {0}, entry
    accounts = {a.name: a for a in plan.accounts}
    assert accounts["Liabilities:Visa"].type is AccountType.LIABILITY
    assert accounts["Liabilities:Visa"].parent == "Liabilities"
    assert accounts["Equity:Conversion:AAPL-USD:AAPL"].metadata["journal_role"] == "conversion"
    assert [a.code for a in plan.assets] == ["AAPL"]  # USD and EUR are ISO currencies


def test_balances_equal_hledger_infer_equity(hledger: str) -> None:
    """hledger's own reading of the fixture, account by account; conversion accounts are
    named differently there, so those are compared per asset."""
    path = FIXTURES / "multicurrency.journal"
    ours = _plan_balances(path.read_text())
    theirs = hledger_balances(
        run_hledger(hledger, "-f", str(path), "bal", "--flat", "-N", "--infer-equity", "-O", "csv")
    )

    def split(balances: Balances) -> tuple[Balances, dict[str, Decimal]]:
        plain = {k: v for k, v in balances.items() if not k[0].lower().startswith("equity:conv")}
        conversion: dict[str, Decimal] = defaultdict(Decimal)
        for (account, asset), value in balances.items():
            if (account, asset) not in plain:
                conversion[asset] += value
        return plain, dict(conversion)

    assert split(ours) == split(theirs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01 x\n  A:b  $-1,234.50\n  A:c\n", Amount(Decimal("-1234.50"), "USD")),
        ("2025-01-01 x\n  A:b  -$5\n  A:c\n", Amount(Decimal("-5"), "USD")),
        ("2025-01-01 x\n  A:b  EUR 7.25\n  A:c\n", Amount(Decimal("7.25"), "EUR")),
        ('2025-01-01 x\n  A:b  3 "ABC1"\n  A:c\n', Amount(Decimal("3"), "ABC1")),
        ("2025/01/01 x\n  A:b\t10 CHF ; note\n  A:c\n", Amount(Decimal("10"), "CHF")),
    ],
)
def test_amount_forms(text: str, expected: Amount) -> None:
    journal = parse_journal(text)
    assert journal.errors == []
    assert journal.transactions[0].postings[0].amount == expected


def test_unsupported_input_is_reported_line_by_line() -> None:
    plan = plan_import(parse_journal((FIXTURES / "unsupported.journal").read_text()), {})
    errors = {p.line: p.message for p in plan.problems if p.severity is Severity.ERROR}
    assert sorted(errors) == [2, 3, 6, 15, 18, 22, 26, 31]
    assert "include" in errors[2]
    assert "alias" in errors[3]
    assert "automated" in errors[6]
    assert "virtual posting" in errors[15]
    assert "more than one posting without an amount" in errors[18]
    assert "does not balance: USD is off by 0.01" in errors[22]
    assert "not a date" in errors[26]
    assert "balance assertion failed: Expenses:Food holds 11.00 USD" in errors[31]
    ignored = [p for p in plan.problems if p.severity is Severity.IGNORED]
    assert [(p.line, p.directive) for p in ignored] == [(4, "payee")]


def test_scale_and_symbol_problems_name_their_lines() -> None:
    plan = plan_import(
        parse_journal(
            "2025-01-01 x\n  Assets:a  1.005 USD\n  Assets:b\n"
            "2025-01-02 y\n  Assets:a  1 gold\n  Assets:b\n"
            "2025-01-03 z\n  Things:a  1 USD\n  Assets:b\n"
        ),
        {},
    )
    messages = {p.line: p.message for p in plan.errors}
    assert "more decimals than USD keeps (2)" in messages[2]
    assert "cannot be an asset code" in messages[5]
    assert "top level must be one of" in messages[8]


def test_a_tenant_asset_keeps_its_scale() -> None:
    plan = plan_import(parse_journal("2025-01-01 x\n  Assets:a  1.5 PTS\n  Assets:b\n"), {"PTS": 0})
    assert "more decimals than PTS keeps (0)" in plan.errors[0].message


def test_account_codes_fit_and_stay_unique() -> None:
    taken: set[str] = set()
    short = account_code("Assets:US:BofA:Checking", taken)
    assert short == "Assets.US.BofA.Checking"
    long_name = "Expenses:Taxes:Y2024:US:Federal:PreTax401k:Extra"
    code = account_code(long_name, taken)
    assert len(code) <= 32
    assert code == account_code(long_name, taken)  # stable
    assert account_code(long_name, {code}) != code
    assert account_code("Ausgaben:Bäckerei", set()) == "Ausgaben.B_ckerei"
