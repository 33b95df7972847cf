"""Year-end closing entries through the close and on request, and the admin-only, audited
reopen: revenue and expense move into retained earnings with one entry effective the
year's last day, the balance sheet still balances, a reopen keeps the entry and a re-close
books a corrective one for what changed."""

from typing import Any

import httpx

from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import assert_problem
from tests.close.support import Books, books
from tests.conftest import TenantKeys


async def _year(b: Books) -> None:
    """Capital 1,000.00; revenue 300.00 + 80.00; expenses 120.00: net income 260.00."""
    await b.entry("2026-01-02", ("1110", "debit", "1000.00"), ("3100", "credit", "1000.00"))
    await b.entry("2026-03-01", ("1110", "debit", "300.00"), ("4200", "credit", "300.00"))
    await b.entry("2026-07-14", ("1200", "debit", "80.00"), ("4100", "credit", "80.00"))
    await b.entry("2026-06-01", ("6100", "debit", "120.00"), ("1110", "credit", "120.00"))


async def _closing_entries(b: Books) -> list[dict[str, Any]]:
    r = await b.client.get(
        f"/v1/ledgers/{b.ledger_id}/entries",
        params={"source_type": "system", "metadata[closing_entry]": "true"},
        headers=b.h(),
    )
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["data"]))


async def test_closing_the_last_period_of_the_year_moves_profit_and_loss_to_retained_earnings(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    b = await books(client, tenant)
    await _year(b)
    # December ends the (calendar) fiscal year
    december = await b.period("Dec 2026", "2026-12-01", "2026-12-31")
    closed = await b.close(december)
    assert closed.status_code == 200, closed.text

    [entry] = await _closing_entries(b)
    assert entry["effective_date"] == "2026-12-31"
    assert entry["source"] == {"type": "system", "id": "year-end-close:2026-12-31"}
    assert entry["client_id"] == "year-end-close:2026-12-31"
    assert entry["metadata"] == {"closing_entry": "true", "fiscal_year": "2026-01-01..2026-12-31"}
    ids = {code: await b.account_id(code) for code in ("3200", "4100", "4200", "6100")}
    legs = {(p["account_id"], p["direction"], p["amount"]) for p in entry["postings"]}
    assert legs == {
        (ids["4200"], "debit", "300.00"),
        (ids["4100"], "debit", "80.00"),
        (ids["6100"], "credit", "120.00"),
        (ids["3200"], "credit", "260.00"),
    }
    # profit and loss accounts are zero at the year end, retained earnings got net income
    for code in ("4100", "4200", "6100"):
        assert await b.balance(code, "2026-12-31") == {"EUR": "0.00"}
    assert await b.balance("3200", "2026-12-31") == {"EUR": "260.00"}
    assert await b.balance("4200", "2026-12-30") == {"EUR": "300.00"}

    sheet = await b.report("balance-sheet", as_of="2026-12-31")
    assert sheet["checks"]["balanced"] is True
    totals = {line["label"]: line["amounts"][0] for line in sheet["totals"]}
    assert totals == {"Total assets": "1260.00", "Total liabilities and equity": "1260.00"}
    # the income statement shows the year's activity, not its transfer to equity; so does
    # the cash flow's net income (ADR 0018)
    for params in (
        {"from": "2026-01-01", "to": "2026-12-31"},
        {"from": "2026-12-01", "to": "2026-12-31"},
    ):
        income = await b.report("income-statement", **params)
        totals = {line["label"]: line["amounts"][0] for line in income["totals"]}
        expected = "260.00" if params["from"] == "2026-01-01" else "0.00"
        assert totals == {"Net income": expected}, params
    flows = await b.report("cash-flow", **{"from": "2026-01-01", "to": "2026-12-31"})
    assert flows["checks"]["reconciles"] is True
    operating = next(x for x in flows["sections"] if x["key"] == "operating")
    assert (operating["lines"][0]["label"], operating["lines"][0]["amounts"]) == (
        "Net income",
        ["260.00"],
    )
    assert all(line["code"] != "3200" for x in flows["sections"] for line in x["lines"])
    # the closing entry is inside the closed period: nothing may change it now
    refused = await client.post(
        f"/v1/entries/{entry['id']}:reverse",
        json={"effective_date": "2026-12-31"},
        headers=b.h(Role.ACCOUNTANT),
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "ledger.period_closed"


async def test_closing_entries_on_request_are_idempotent_and_a_reclose_corrects(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    # a fiscal year from July to June
    b = await books(client, tenant, metadata={"fiscal_year_start_month": "7"})
    await b.entry("2026-05-02", ("1110", "debit", "500.00"), ("4200", "credit", "500.00"))
    await b.entry("2026-07-01", ("1110", "debit", "70.00"), ("4200", "credit", "70.00"))
    june = await b.period("Jun 2026", "2026-06-01", "2026-06-30")
    july = await b.period("Jul 2026", "2026-07-01", "2026-07-31")
    url = f"{b.period_url(june)}/closing-entries"

    not_year_end = await client.post(f"{b.period_url(july)}/closing-entries", headers=b.h())
    assert_problem(not_year_end, 409, "ledger.not_fiscal_year_end")
    accountant = await client.post(url, headers=b.h(Role.ACCOUNTANT))
    assert_problem(accountant, 403, "auth.insufficient_scope")

    first = await client.post(url, headers=b.h())
    assert first.status_code == 200, first.text
    result = first.json()
    assert result["fiscal_year_start"] == "2025-07-01"
    assert result["fiscal_year_end"] == "2026-06-30"
    assert result["retained_earnings_account_id"] == await b.account_id("3200")
    assert [e["id"] for e in result["entries"]] == [result["booked_entry_id"]]
    assert await b.balance("3200", "2026-06-30") == {"EUR": "500.00"}
    # July's revenue belongs to the next fiscal year
    assert await b.balance("4200", "2026-07-31") == {"EUR": "70.00"}

    again = await client.post(url, headers=b.h())
    assert again.status_code == 200, again.text
    assert again.json()["booked_entry_id"] is None
    assert again.json()["entries"] == result["entries"]

    # closing the period books nothing more: the year is closed already
    closed = await b.close(june)
    assert closed.status_code == 200, closed.text
    assert len(await _closing_entries(b)) == 1

    # reopen: admin only, with a reason, audited; the closing entry stays
    assert_problem(await b.reopen(june, role=Role.ACCOUNTANT), 403, "auth.insufficient_scope")
    reopened = await b.reopen(june, {"reason": "late supplier invoice"})
    assert reopened.status_code == 200, reopened.text
    period = reopened.json()
    assert period["status"] == "open"
    assert period["reopen_reason"] == "late supplier invoice"
    assert period["reopened_by"] == closed.json()["closed_by"]
    assert period["reopened_at"]
    audit = await client.get("/v1/audit", params={"target_id": june}, headers=b.h(Role.AUDITOR))
    assert audit.status_code == 200, audit.text
    records = audit.json()["data"]
    assert [r["action"] for r in records] == [
        "ledger.period.create",
        "close.closing_entries.book",
        "close.closing_entries.book",
        "ledger.period.close",
        "ledger.period.reopen",
    ]
    assert records[-1]["actor"] == period["reopened_by"]
    assert await b.balance("4200", "2026-06-30") == {"EUR": "0.00"}

    # an adjustment in the reopened year, then the re-close corrects
    await b.entry("2026-06-20", ("6300", "debit", "45.00"), ("2100", "credit", "45.00"))
    assert await b.balance("3200", "2026-06-30") == {"EUR": "500.00"}
    reclosed = await b.close(june)
    assert reclosed.status_code == 200, reclosed.text
    first_entry, corrective = await _closing_entries(b)
    assert first_entry["id"] == result["booked_entry_id"]
    assert corrective["client_id"] == "year-end-close:2026-06-30:2"
    assert corrective["source"]["id"] == "year-end-close:2026-06-30"
    assert await b.balance("3200", "2026-06-30") == {"EUR": "455.00"}
    assert await b.balance("6300", "2026-06-30") == {"EUR": "0.00"}
    sheet = await b.report("balance-sheet", as_of="2026-06-30")
    assert sheet["checks"]["balanced"] is True


async def test_closing_entries_need_a_retained_earnings_account_and_prefer_the_flagged_one(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    r = await client.post(
        "/v1/ledgers", json={"name": "Bare", "base_currency": "EUR"}, headers=tenant.headers()
    )
    b = Books(client, tenant, str(r.json()["id"]))
    await b.account("1000", "asset", asset="EUR")
    await b.account("4000", "revenue", asset="EUR")
    await b.entry("2026-05-01", ("1000", "debit", "9.00"), ("4000", "credit", "9.00"))
    year = await b.period("FY2026", "2026-01-01", "2026-12-31")
    refused = await b.close(year)
    assert_problem(refused, 409, "ledger.no_retained_earnings_account")
    listed = await client.get(f"/v1/ledgers/{b.ledger_id}/periods", headers=b.h())
    assert listed.json()[0]["status"] == "open"

    await b.account("3200", "equity", asset="EUR")
    await b.account("3300", "equity", asset="EUR", metadata={"retained_earnings": "true"})
    closed = await b.close(year)
    assert closed.status_code == 200, closed.text
    assert await b.balance("3300", "2026-12-31") == {"EUR": "9.00"}
    assert await b.balance("3200", "2026-12-31") == {}
