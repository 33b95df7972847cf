"""Reading Beancount through its own loader: its errors become per-line problems."""

from decimal import Decimal
from pathlib import Path

from autoledger.interop.beancount_io import read_beancount
from autoledger.interop.model import Amount, Severity
from autoledger.interop.planner import plan_import


def test_loader_errors_name_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "broken.beancount"
    path.write_text(
        'option "operating_currency" "USD"\n'
        "2025-01-01 open Assets:Cash USD\n"
        "2025-01-01 open Expenses:Food\n"
        '2025-01-02 * "Unbalanced"\n'
        "  Assets:Cash  -10.00 USD\n"
        "  Expenses:Food  9.00 USD\n"
        "2025-01-03 balance Assets:Cash  5.00 USD\n"
        '2025-01-04 * "Unknown account"\n'
        "  Assets:Nowhere  1.00 USD\n"
        "  Expenses:Food  -1.00 USD\n"
    )
    plan = plan_import(read_beancount(path), {})
    lines = sorted({p.line for p in plan.errors})
    assert lines == [4, 7, 8], [p.render() for p in plan.errors]
    messages = [p.render() for p in plan.errors]
    assert any(m.startswith("line 7: error: Balance failed for 'Assets:Cash'") for m in messages)
    assert any(m.startswith("line 8: error:") and "Assets:Nowhere" in m for m in messages)


def test_costs_prices_pads_and_descriptive_directives(tmp_path: Path) -> None:
    path = tmp_path / "fine.beancount"
    path.write_text(
        'option "operating_currency" "USD"\n'
        "2025-01-01 open Assets:Cash USD\n"
        "2025-01-01 open Assets:Broker:VTI VTI\n"
        "2025-01-01 open Equity:Opening\n"
        "2025-01-01 open Income:Gains\n"
        "2025-01-01 pad Assets:Cash Equity:Opening\n"
        "2025-01-02 balance Assets:Cash  5000.00 USD\n"
        '2025-01-02 event "location" "Paris"\n'
        '2025-01-03 * "Buy" #invest\n'
        "  Assets:Broker:VTI  10 VTI {200.00 USD}\n"
        "  Assets:Cash  -2000.00 USD\n"
        '2025-01-04 * "Sell"\n'
        "  Assets:Broker:VTI  -4 VTI {200.00 USD} @ 250.00 USD\n"
        "  Assets:Cash  1000.00 USD\n"
        "  Income:Gains  -200.00 USD\n"
        "2025-01-05 price VTI 251.00 USD\n"
        "2025-01-06 balance Assets:Cash  4000.00 USD\n"
    )
    journal = read_beancount(path)
    assert journal.errors == []
    pad, buy, sell = journal.transactions
    assert pad.postings[0].amount == Amount(Decimal("5000.00"), "USD")  # the loader's padding
    assert buy.metadata["tags"] == "invest"
    assert sell.postings[0].price == Amount(Decimal("250.00"), "USD")
    plan = plan_import(journal, {})
    assert plan.errors == []
    assert plan.assertions_checked == 2
    assert {(p.line, p.directive) for p in plan.problems if p.severity is Severity.IGNORED} == {
        (6, "pad"),
        (8, "event"),
        (16, "price"),
    }
    sale = plan.entries[-1]
    assert sale.metadata["cost_0"] == "VTI 200.00 USD"
    assert sale.metadata["price_0"] == "VTI 250.00 USD"
    assert [(p.account, p.asset, p.amount) for p in sale.postings] == [
        ("Assets:Broker:VTI", "VTI", -4),
        ("Assets:Cash", "USD", 100000),
        ("Income:Gains", "USD", -20000),
        ("Equity:Conversion:USD-VTI:USD", "USD", -80000),  # the cost basis leaves
        ("Equity:Conversion:USD-VTI:VTI", "VTI", 4),
    ]
    accounts = {a.name: a for a in plan.accounts}
    assert accounts["Assets:Broker:VTI"].asset == "VTI"  # open's single currency
