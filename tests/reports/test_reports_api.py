"""Reports through the API on SQLite and PostgreSQL: a small company's books posted through
the ledger, then every report read back as JSON, CSV, HTML and XLSX, with comparison
columns, roll-ups, a back-dated entry, aging from open items, and problem+json errors."""

import asyncio
import csv
import io
import zipfile
from typing import Any

import httpx
import pytest

from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import assert_problem
from tests.conftest import TenantKeys

WAIT_SECONDS = 60.0


class Company:
    def __init__(self, client: httpx.AsyncClient, tenant: TenantKeys, ledger_id: str) -> None:
        self.client, self.tenant, self.ledger_id = client, tenant, ledger_id

    async def post(
        self, day: str, debit: str, credit: str, amount: str, **metadata: str
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/ledgers/{self.ledger_id}/entries",
            json={
                "postings": [
                    {"account": debit, "direction": "debit", "amount": amount, "asset": "USD"},
                    {"account": credit, "direction": "credit", "amount": amount, "asset": "USD"},
                ],
                "effective_date": day,
                "metadata": metadata,
            },
            headers=self.tenant.headers(Role.ACCOUNTANT),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def classify(self, code: str, activity: str) -> None:
        accounts = await self.client.get(
            f"/v1/ledgers/{self.ledger_id}/accounts",
            params={"limit": "1000"},
            headers=self.tenant.headers(),
        )
        [account] = [a for a in accounts.json()["data"] if a["code"] == code]
        response = await self.client.patch(
            f"/v1/accounts/{account['id']}",
            json={"metadata": {"cash_flow_activity": activity}},
            headers=self.tenant.headers(),
        )
        assert response.status_code == 200, response.text

    async def report(self, name: str, role: Role = Role.VIEWER, **params: str) -> httpx.Response:
        return await self.client.get(
            f"/v1/ledgers/{self.ledger_id}/reports/{name}",
            params=params,
            headers=self.tenant.headers(role),
        )

    async def json(self, name: str, **params: str) -> dict[str, Any]:
        response = await self.report(name, **params)
        assert response.status_code == 200, response.text
        return dict(response.json())


def section(report: dict[str, Any], key: str) -> dict[str, list[str]]:
    found = next(s for s in report["sections"] if s["key"] == key)
    return {line["code"] or line["label"]: line["amounts"] for line in found["lines"]}


def totals(report: dict[str, Any]) -> dict[str, list[str]]:
    return {line["label"]: line["amounts"] for line in report["totals"]}


@pytest.fixture
async def company(client: httpx.AsyncClient, tenant: TenantKeys) -> Company:
    response = await client.post(
        "/v1/ledgers",
        json={
            "name": "Acme <Books> & Co",
            "base_currency": "USD",
            "chart_template": "small_business",
        },
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    books = Company(client, tenant, response.json()["id"])
    bank = await client.post(
        "/v1/bank-accounts",
        json={
            "ledger_id": books.ledger_id,
            "gl_account": "1110",
            "name": "Operating",
            "currency": "USD",
        },
        headers=tenant.headers(),
    )
    assert bank.status_code == 201, bank.text
    await books.post("2025-02-01", "1110", "3100", "50000.00")  # owner's capital
    await books.post("2025-07-01", "1110", "4200", "8000.00")  # last year's revenue
    await books.post("2026-01-10", "1520", "1110", "12000.00")  # equipment bought
    await books.post("2026-02-03", "1200", "4100", "9000.00")  # invoice
    await books.post("2026-02-20", "1110", "1200", "4000.00")  # part of it collected
    await books.post("2026-03-01", "6100", "2100", "1500.00")  # rent billed
    await books.post("2026-03-15", "1110", "2720", "20000.00")  # term loan
    return books


async def test_balance_sheet_balances_with_current_year_earnings(company: Company) -> None:
    report = await company.json("balance-sheet", as_of="2026-03-31", compare="previous_year")
    assert [c["key"] for c in report["columns"]] == ["current", "previous_year"]
    assert [c["end"] for c in report["columns"]] == ["2026-03-31", "2025-03-31"]
    assets = section(report, "assets")
    assert assets["1110"] == ["70000.00", "50000.00"]
    assert assets["1100"] == ["70000.00", "50000.00"]  # the parent rolls its children up
    assert assets["1200"] == ["5000.00", "0.00"]
    assert assets["1000"] == ["87000.00", "50000.00"]
    equity = section(report, "equity")
    assert equity["Prior years' earnings (not closed)"] == ["8000.00", "0.00"]
    assert equity["Current-year earnings"] == ["7500.00", "0.00"]
    assert section(report, "liabilities")["2000"] == ["21500.00", "0.00"]
    assert totals(report) == {
        "Total assets": ["87000.00", "50000.00"],
        "Total liabilities and equity": ["87000.00", "50000.00"],
    }
    assert report["checks"] == {"balanced": True}
    assert report["asset"] == "USD"
    assert report["other_assets"] == []

    shallow = await company.json("balance-sheet", as_of="2026-03-31", depth="1")
    assert set(section(shallow, "assets")) == {"1000"}


async def test_income_statement_with_previous_period(company: Company) -> None:
    report = await company.json(
        "income-statement", **{"from": "2026-03-01", "to": "2026-03-31"}, compare="previous_period"
    )
    assert [(c["start"], c["end"]) for c in report["columns"]] == [
        ("2026-03-01", "2026-03-31"),
        ("2026-02-01", "2026-02-28"),
    ]
    assert section(report, "revenue")["4100"] == ["0.00", "9000.00"]
    assert section(report, "expenses")["6100"] == ["1500.00", "0.00"]
    assert totals(report)["Net income"] == ["-1500.00", "9000.00"]


async def test_a_back_dated_entry_lands_in_its_own_period(company: Company) -> None:
    before = await company.json("trial-balance", as_of="2026-01-31")
    await company.post("2026-01-20", "6400", "1110", "300.00")  # booked late, dated January
    after = await company.json("trial-balance", as_of="2026-01-31")
    assert section(after, "accounts")["6400"] == ["300.00", "0.00"]
    assert "6400" not in section(before, "accounts")
    assert after["checks"] == {"balanced": True}
    march = await company.json("income-statement", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert "6400" not in section(march, "expenses")


async def test_cash_flow_direct_and_indirect_agree(company: Company) -> None:
    # Without a classification every account but equity is operating; the chart's fixed
    # assets and loans are classified through their parents' metadata.
    params = {"from": "2026-01-01", "to": "2026-03-31"}
    unclassified = await company.json("cash-flow", method="direct", **params)
    assert section(unclassified, "operating") == {
        "1200": ["4000.00"],
        "1520": ["-12000.00"],
        "2720": ["20000.00"],
    }
    await company.classify("1500", "investing")
    await company.classify("2700", "financing")
    indirect = await company.json("cash-flow", **params)
    direct = await company.json("cash-flow", method="direct", **params)
    for report in (indirect, direct):
        assert totals(report)["Net change in cash"] == ["12000.00"]
        assert totals(report)["Cash at beginning of period"] == ["58000.00"]
        assert totals(report)["Cash at end of period"] == ["70000.00"]
        assert report["checks"] == {"reconciles": True}
    assert section(direct, "operating") == {"1200": ["4000.00"]}
    assert section(direct, "investing") == {"1520": ["-12000.00"]}
    assert section(direct, "financing") == {"2720": ["20000.00"]}
    assert section(indirect, "investing") == {"1520": ["-12000.00"]}
    assert section(indirect, "operating")["Net income"] == ["7500.00"]
    assert section(indirect, "operating")["1200"] == ["-5000.00"]


async def test_general_ledger_reuses_the_account_statement(company: Company) -> None:
    report = await company.json("general-ledger", **{"from": "2026-01-01", "to": "2026-03-31"})
    accounts = {a["code"]: a for a in report["accounts"]}
    bank = accounts["1110"]
    assert (bank["opening_balance"], bank["closing_balance"]) == ("58000.00", "70000.00")
    assert [line["running_balance"] for line in bank["lines"]] == [
        "46000.00",
        "50000.00",
        "70000.00",
    ]
    assert set(accounts) == {"1110", "1200", "1520", "2100", "2720", "4100", "6100"}
    one = await company.json("general-ledger", account="2100", **{"to": "2026-03-31"})
    assert [a["code"] for a in one["accounts"]] == ["2100"]
    missing = await company.report("general-ledger", account="0042")
    assert_problem(missing, 404, "reports.unknown_account")


async def test_downloads_as_csv_html_and_xlsx(company: Company) -> None:
    response = await company.report("trial-balance", as_of="2026-03-31", format="csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "trial-balance-2026-03-31.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["section", "code", "account", "2026-03-31 debit", "2026-03-31 credit"]
    assert ["accounts", "1110", "Operating bank account", "70000.00", "0.00"] in rows
    assert rows[-1][2:] == ["Total", "88500.00", "88500.00"]

    by_accept = await company.client.get(
        f"/v1/ledgers/{company.ledger_id}/reports/balance-sheet",
        params={"as_of": "2026-03-31"},
        headers={**company.tenant.headers(Role.VIEWER), "Accept": "text/html"},
    )
    assert by_accept.status_code == 200, by_accept.text
    assert by_accept.headers["content-type"].startswith("text/html")
    page = by_accept.text
    assert "<h1>Balance sheet</h1>" in page
    assert "Acme &lt;Books&gt; &amp; Co" in page
    assert "<Books>" not in page
    assert '<td class="amount">87000.00</td>' in page

    workbook = await company.report("income-statement", format="xlsx")
    assert workbook.status_code == 200, workbook.text
    with zipfile.ZipFile(io.BytesIO(workbook.content)) as archive:
        strings = archive.read("xl/sharedStrings.xml").decode()
    assert "Income statement" in strings
    assert "Product sales" in strings


async def test_aging_buckets_open_receivables(company: Company) -> None:
    marked = await company.client.put(
        f"/v1/ledgers/{company.ledger_id}/open-item-accounts/1200",
        json={"role": "receivable"},
        headers=company.tenant.headers(),
    )
    assert marked.status_code == 200, marked.text
    await company.post(
        "2026-01-05",
        "1200",
        "4100",
        "700.00",
        reference="INV-1",
        due_date="2026-02-04",
        counterparty="ACME Corp",
    )
    await company.post(
        "2026-03-01",
        "1200",
        "4100",
        "300.00",
        reference="INV-2",
        due_date="2026-03-31",
        counterparty="ACME Corp",
    )
    await company.post(
        "2026-03-10",
        "1200",
        "4100",
        "90.00",
        reference="INV-3",
        due_date="2026-03-20",
        counterparty="Beta LLC",
    )
    await company.post("2026-03-25", "1110", "1200", "200.00", reference="INV-1")
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        report = await company.json("aging", as_of="2026-03-31")
        if report["total"] == "890.00" or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert report["buckets"] == ["current", "1-30", "31-60", "61-90", "90+"]
    assert [(r["counterparty"], r["amounts"], r["total"]) for r in report["rows"]] == [
        ("ACME Corp", ["300.00", "0.00", "500.00", "0.00", "0.00"], "800.00"),
        ("Beta LLC", ["0.00", "90.00", "0.00", "0.00", "0.00"], "90.00"),
    ]
    # As of before the payment and the later invoices: INV-1 alone, 1-30 days late.
    earlier = await company.json("aging", as_of="2026-03-01")
    assert [(r["counterparty"], r["total"]) for r in earlier["rows"]] == [("ACME Corp", "1000.00")]
    payables = await company.json("aging", kind="payable", as_of="2026-03-31")
    assert payables["rows"] == []
    assert payables["total"] == "0.00"


async def test_errors_are_problems(company: Company, client: httpx.AsyncClient) -> None:
    backwards = await company.report(
        "income-statement", **{"from": "2026-03-02", "to": "2026-03-01"}
    )
    assert_problem(backwards, 422, "reports.invalid_period")
    clash = await company.report("balance-sheet", as_of="2026-03-01", to="2026-03-02")
    assert_problem(clash, 422, "reports.invalid_period")
    unknown = await client.get(
        "/v1/ledgers/00000000-0000-0000-0000-000000000000/reports/trial-balance",
        headers=company.tenant.headers(Role.VIEWER),
    )
    assert_problem(unknown, 404, "ledger.ledger_not_found")
    asset = await company.report("trial-balance", asset="NOPE")
    assert_problem(asset, 422, "ledger.unknown_asset")
    bad = await company.report("trial-balance", compare="sometime")
    assert_problem(bad, 422, "request.invalid")
