"""Reports in a reporting currency through the API, on SQLite and PostgreSQL: a USD ledger
with a euro bank account and euro sales, converted at the tenant's rates — the balance sheet
at closing rates with the translation adjustment, the income statement at the average rate,
the cash flow with the effect of exchange rates on cash, every rate listed, comparison
columns at their own rates, and a missing rate named."""

import httpx
import pytest

from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import assert_problem
from tests.conftest import TenantKeys
from tests.reports.test_reports_api import Company, section, totals

# EUR -> USD, published on these days (2026-02-28 is a Saturday: Friday's rate closes it).
RATES = (
    ("2026-01-15", "1.10"),
    ("2026-01-30", "1.15"),
    ("2026-02-15", "1.20"),
    ("2026-02-27", "1.25"),
)


class Books(Company):
    async def book(self, day: str, debit: str, credit: str, amount: str, asset: str) -> None:
        response = await self.client.post(
            f"/v1/ledgers/{self.ledger_id}/entries",
            json={
                "postings": [
                    {"account": debit, "direction": "debit", "amount": amount, "asset": asset},
                    {"account": credit, "direction": "credit", "amount": amount, "asset": asset},
                ],
                "effective_date": day,
            },
            headers=self.tenant.headers(Role.ACCOUNTANT),
        )
        assert response.status_code == 201, response.text


@pytest.fixture
async def books(client: httpx.AsyncClient, tenant: TenantKeys) -> Books:
    created = await client.post(
        "/v1/ledgers",
        json={"name": "Export Co", "base_currency": "USD", "chart_template": "small_business"},
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    ledger = Books(client, tenant, created.json()["id"])
    for code, name, type_ in (
        ("1131", "Euro account", "asset"),
        ("4150", "Export sales", "revenue"),
    ):
        account = await client.post(
            f"/v1/ledgers/{ledger.ledger_id}/accounts",
            json={"code": code, "name": name, "type": type_, "asset": "EUR"},
            headers=tenant.headers(),
        )
        assert account.status_code == 201, account.text
    for gl_account, currency in (("1110", "USD"), ("1131", "EUR")):
        bank = await client.post(
            "/v1/bank-accounts",
            json={
                "ledger_id": ledger.ledger_id,
                "gl_account": gl_account,
                "name": f"Bank {currency}",
                "currency": currency,
            },
            headers=tenant.headers(),
        )
        assert bank.status_code == 201, bank.text
    rates = await client.put(
        "/v1/fx-rates",
        json={
            "rates": [
                {"base": "EUR", "quote": "USD", "date": day, "rate": rate} for day, rate in RATES
            ]
        },
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert rates.status_code == 200, rates.text
    await ledger.book("2026-01-05", "1110", "3100", "5000.00", "USD")  # capital, in dollars
    await ledger.book("2026-01-15", "1131", "4150", "1000.00", "EUR")  # sold in euros
    await ledger.book("2026-02-15", "1131", "4150", "500.00", "EUR")
    return ledger


async def test_the_balance_sheet_converts_at_closing_rates_and_balances_by_the_adjustment(
    books: Books,
) -> None:
    as_booked = await books.json("balance-sheet", as_of="2026-02-28")
    assert as_booked["other_assets"] == ["EUR"]
    assert as_booked["translation"] is None

    report = await books.json(
        "balance-sheet",
        **{"from": "2026-02-01"},
        as_of="2026-02-28",
        compare="previous_period",
        currency="USD",
    )
    assert report["asset"] == "USD"
    assert report["other_assets"] == []
    assert [c["end"] for c in report["columns"]] == ["2026-02-28", "2026-01-31"]
    assets = section(report, "assets")
    assert assets["1110"] == ["5000.00", "5000.00"]
    assert assets["1131"] == ["1875.00", "1150.00"]  # 1,500 EUR x 1.25; 1,000 EUR x 1.15
    equity = section(report, "equity")
    assert equity["3100"] == ["5000.00", "5000.00"]
    # The fiscal year's sales at its average rate: (1.10+1.15+1.20+1.25)/4 and (1.10+1.15)/2.
    assert equity["Current-year earnings"] == ["1762.50", "1125.00"]
    assert equity["Cumulative translation adjustment"] == ["112.50", "25.00"]
    assert totals(report) == {
        "Total assets": ["6875.00", "6150.00"],
        "Total liabilities and equity": ["6875.00", "6150.00"],
    }
    assert report["checks"] == {"balanced": True}

    translation = report["translation"]
    assert translation["currency"] == "USD"
    assert "closing rate" in translation["policy"]
    assert "average rate of the fiscal year" in translation["policy"]
    used = {(r["method"], r["start"], r["date"]): r for r in translation["rates"]}
    assert set(used) == {
        ("closing", None, "2026-02-27"),
        ("average", "2026-01-01", "2026-02-28"),
        ("closing", None, "2026-01-30"),
        ("average", "2026-01-01", "2026-01-31"),
    }
    assert {(r["base"], r["quote"]) for r in translation["rates"]} == {("EUR", "USD")}
    assert used[("closing", None, "2026-02-27")]["rate"] == "1.25"
    assert used[("average", "2026-01-01", "2026-02-28")]["rate"] == "1.175"


async def test_the_trial_balance_converts_every_account_at_the_closing_rate(
    books: Books,
) -> None:
    report = await books.json("trial-balance", as_of="2026-02-28", currency="USD")
    accounts = section(report, "accounts")
    assert accounts["1131"] == ["1875.00", "0.00"]
    assert accounts["4150"] == ["0.00", "1875.00"]
    assert "Cumulative translation adjustment" not in accounts  # one rate: nothing to adjust
    assert report["checks"] == {"balanced": True}
    assert [r["method"] for r in report["translation"]["rates"]] == ["closing"]
    page = await books.report("trial-balance", as_of="2026-02-28", currency="USD", format="html")
    assert "USD (translated: Every account at the closing rate" in page.text
    assert '<td class="amount">1875.00</td>' in page.text


async def test_the_income_statement_converts_each_period_at_its_average_rate(
    books: Books,
) -> None:
    report = await books.json(
        "income-statement",
        **{"from": "2026-02-01", "to": "2026-02-28"},
        compare="previous_period",
        currency="USD",
    )
    # 500 EUR x (1.20+1.25)/2; 1,000 EUR x (1.10+1.15)/2
    assert section(report, "revenue")["4150"] == ["612.50", "1125.00"]
    assert totals(report)["Net income"] == ["612.50", "1125.00"]
    assert [(r["method"], r["start"], r["date"]) for r in report["translation"]["rates"]] == [
        ("average", "2026-02-01", "2026-02-28"),
        ("average", "2026-01-01", "2026-01-31"),
    ]
    assert "average rate" in report["translation"]["policy"]


@pytest.mark.parametrize("method", ["indirect", "direct"])
async def test_the_cash_flow_shows_the_effect_of_exchange_rates_on_cash(
    books: Books, method: str
) -> None:
    report = await books.json(
        "cash-flow", **{"from": "2026-01-01", "to": "2026-02-28"}, method=method, currency="USD"
    )
    assert totals(report) == {
        "Net change in cash": ["6762.50"],  # sales 1,762.50 at the average + capital 5,000
        "Effect of exchange rate changes on cash": ["112.50"],
        "Cash at beginning of period": ["0.00"],
        "Cash at end of period": ["6875.00"],  # 5,000 + 1,500 EUR at 1.25
    }
    assert report["checks"] == {"reconciles": True}


async def test_a_missing_rate_names_the_pair_and_asset_excludes_currency(books: Books) -> None:
    missing = await books.report("balance-sheet", as_of="2026-02-28", currency="GBP")
    assert_problem(missing, 422, "fx.rate_missing")
    assert "/GBP" in missing.json()["detail"]
    # Before the first euro was booked no euro rate is needed, so none is asked for.
    dollars_only = await books.json("balance-sheet", as_of="2026-01-10", currency="USD")
    assert dollars_only["translation"]["rates"] == []
    assert dollars_only["checks"] == {"balanced": True}
    both = await books.report("balance-sheet", asset="EUR", currency="USD")
    assert_problem(both, 422, "request.invalid")
    unknown = await books.report("balance-sheet", currency="XYZ")
    assert_problem(unknown, 422, "ledger.unknown_asset")
