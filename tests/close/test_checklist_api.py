"""The close checklist item by item, each failing and then passing, and the close it
guards: refused (409 listing the items), acknowledged where an item may be (stored with the
close: who, what, why), never for a suspense balance."""

from typing import Any

import httpx

from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import assert_problem
from tests.banking.support import bank_account as make_bank_account
from tests.banking.support import csv_statement, upload
from tests.categorize.test_bookkeeping_api import all_proposals, review
from tests.close.support import Books, books
from tests.conftest import TenantKeys

JAN = ("Jan 2026", "2026-01-01", "2026-01-31")


async def test_quiet_books_pass_every_item_and_close_without_acknowledgement(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    b = await books(client, tenant)
    await b.entry("2026-01-10", ("1110", "debit", "100.00"), ("4200", "credit", "100.00"))
    period = await b.period(*JAN)
    found = await b.checklist(period)
    assert found["passed"] is True
    assert found["failing"] == []
    assert found["period_end"] == "2026-01-31"
    assert [i["code"] for i in found["items"]] == [
        "bank_reconciliation",
        "review_queue",
        "suspense",
        "fx_revaluation",
    ]
    assert all(i["passed"] for i in found["items"])
    assert {i["code"]: i["acknowledgeable"] for i in found["items"]} == {
        "bank_reconciliation": True,
        "review_queue": True,
        "suspense": False,
        "fx_revaluation": True,
    }
    closed = await b.close(period)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["acknowledgements"] == []
    # January ends no fiscal year: no closing entry
    system = await client.get(
        f"/v1/ledgers/{b.ledger_id}/entries", params={"source_type": "system"}, headers=b.h()
    )
    assert system.json()["data"] == []


async def test_an_unreconciled_bank_account_fails_until_signed_off_through_the_period_end(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await make_bank_account(client, tenant)
    b = Books(client, tenant, setup.ledger_id)
    period = await b.period(*JAN)
    # a bank account nothing has happened on by the period end needs no reconciliation
    await b.entry("2026-02-03", ("1110", "debit", "40.00"), ("3100", "credit", "40.00"))
    assert (await b.item(period, "bank_reconciliation"))["passed"] is True

    await b.entry("2026-01-05", ("1110", "debit", "60.00"), ("3100", "credit", "60.00"))
    item = await b.item(period, "bank_reconciliation")
    assert item["passed"] is False
    assert item["evidence"]["not_reconciled"] == [
        {
            "bank_account_id": setup.bank_account_id,
            "name": "Operating",
            "currency": "EUR",
            "reconciled_through": None,
        }
    ]

    async def sign_off(day: str) -> None:
        # the ledger's postings are outstanding against a statement balance of zero
        r = await client.post(
            f"/v1/bank-accounts/{setup.bank_account_id}/reconciliations",
            json={"statement_date": day, "statement_balance": "0.00"},
            headers=b.h(),
        )
        assert r.status_code == 201, r.text

    await sign_off("2026-01-20")
    item = await b.item(period, "bank_reconciliation")
    assert item["passed"] is False
    assert item["evidence"]["not_reconciled"][0]["reconciled_through"] == "2026-01-20"

    await sign_off("2026-01-31")
    item = await b.item(period, "bank_reconciliation")
    assert item["passed"] is True
    assert item["evidence"]["not_reconciled"] == []


async def test_queued_proposals_of_the_period_fail_the_review_queue_until_reviewed(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await make_bank_account(client, tenant)
    b = Books(client, tenant, setup.ledger_id)
    settings = await client.put(
        f"/v1/ledgers/{b.ledger_id}/categorization-settings",
        json={"auto_book": False},
        headers=b.h(),
    )
    assert settings.status_code == 200, settings.text
    rows = [
        ("2026-01-03", "Coffee corner", "-2.50"),
        ("2026-01-10", "Customer payment", "5.00"),
        ("2026-02-02", "February rent", "-700.00"),
    ]
    uploaded = await upload(client, setup, csv_statement(rows), filename="jan.csv")
    assert uploaded.status_code in (201, 202), uploaded.text
    proposals = await all_proposals(client, setup, 3)
    assert {p["status"] for p in proposals.values()} == {"queued"}

    february = await b.period("Feb 2026", "2026-02-01", "2026-02-28")
    item = await b.item(february, "review_queue")
    assert item["passed"] is False
    assert item["evidence"]["queued"] == 3

    period = await b.period(*JAN)
    item = await b.item(period, "review_queue")
    assert item["passed"] is False
    assert item["evidence"] == {
        "queued": 2,
        "by_currency": [
            {"currency": "EUR", "count": 2, "total": "7.50", "oldest_booking_date": "2026-01-03"}
        ],
    }
    for description in ("Coffee corner", "Customer payment"):
        account = "6410" if description == "Coffee corner" else "4200"
        r = await review(
            client, tenant, proposals[description]["id"], action="correct", account=account
        )
        assert r.status_code == 200, r.text
    item = await b.item(period, "review_queue")
    assert item["passed"] is True
    assert item["evidence"] == {"queued": 0, "by_currency": []}
    assert (await b.item(february, "review_queue"))["evidence"]["queued"] == 1


async def test_a_suspense_balance_fails_and_cannot_be_acknowledged(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    b = await books(client, tenant)
    period = await b.period(*JAN)
    await b.entry("2026-01-12", ("9999", "debit", "50.00"), ("4900", "credit", "50.00"))
    item = await b.item(period, "suspense")
    assert item["passed"] is False
    assert item["evidence"]["suspense_accounts"] == ["9999"]
    assert [(x["code"], x["asset"], x["balance"]) for x in item["evidence"]["balances"]] == [
        ("9999", "EUR", "50.00")
    ]

    refused = await b.close(period)
    body = assert_problem(refused, 409, "ledger.close_checklist_failed")
    assert body["failing"] == ["suspense"]
    assert body["unacknowledged"] == ["suspense"]
    assert body["acknowledgeable"] == []
    waived = await b.close(period, {"acknowledge": ["suspense"], "reason": "later"})
    assert_problem(waived, 422, "request.invalid")
    periods = await client.get(f"/v1/ledgers/{b.ledger_id}/periods", headers=b.h())
    assert periods.json()[0]["status"] == "open"

    # cleared in February: still open at the January end
    await b.entry("2026-02-01", ("6100", "debit", "50.00"), ("9999", "credit", "50.00"))
    assert (await b.item(period, "suspense"))["passed"] is False
    await b.entry("2026-01-31", ("6100", "debit", "50.00"), ("9999", "credit", "50.00"))
    await b.entry("2026-02-01", ("9999", "debit", "50.00"), ("6100", "credit", "50.00"))
    assert (await b.item(period, "suspense"))["passed"] is True

    # an account flagged as suspense replaces 9999
    await b.account("1999", "asset", asset="EUR", metadata={"suspense": "true"})
    await b.entry("2026-01-20", ("1999", "debit", "3.00"), ("4900", "credit", "3.00"))
    item = await b.item(period, "suspense")
    assert item["passed"] is False
    assert item["evidence"]["suspense_accounts"] == ["1999"]
    assert [x["code"] for x in item["evidence"]["balances"]] == ["1999"]


async def _trading_books(client: httpx.AsyncClient, tenant: TenantKeys) -> Books:
    """EUR books that bought 110.00 USD for 100.00 EUR through a multi-asset trading
    account."""
    b = await books(client, tenant)
    await b.account("1140", "asset", asset="USD")
    await b.account("3950", "equity")
    await b.entry(
        "2026-01-15",
        ("1140", "debit", "110.00", "USD"),
        ("3950", "credit", "110.00", "USD"),
        ("3950", "debit", "100.00", "EUR"),
        ("1110", "credit", "100.00", "EUR"),
    )
    return b


async def test_foreign_currency_held_at_the_period_end_needs_the_revaluation_of_that_day(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    b = await _trading_books(client, tenant)
    period = await b.period(*JAN)
    item = await b.item(period, "fx_revaluation")
    assert item["passed"] is False
    assert item["evidence"]["required"] is True
    assert item["evidence"]["revaluation_entry_id"] is None
    assert [
        (p["code"], p["asset"], p["balance"]) for p in item["evidence"]["foreign_positions"]
    ] == [("3950", "USD", "-110.00")]
    # a revaluation of another day does not count
    rates = await client.put(
        "/v1/fx-rates",
        json={
            "rates": [
                {"base": "EUR", "quote": "USD", "date": day, "rate": "1.1234"}
                for day in ("2026-01-30", "2026-01-31")
            ]
        },
        headers=b.h(),
    )
    assert rates.status_code == 200, rates.text
    url = f"/v1/ledgers/{b.ledger_id}/fx-revaluations"
    other = await client.post(
        url, json={"as_of": "2026-01-30", "trading_accounts": ["3950"]}, headers=b.h()
    )
    assert other.status_code == 201, other.text
    assert (await b.item(period, "fx_revaluation"))["passed"] is False

    done = await client.post(
        url, json={"as_of": "2026-01-31", "trading_accounts": ["3950"]}, headers=b.h()
    )
    assert done.status_code == 201, done.text
    item = await b.item(period, "fx_revaluation")
    assert item["passed"] is True
    assert item["evidence"]["revaluation_entry_id"] == done.json()["entry_id"]

    # no foreign position at the end of December: nothing to revalue
    december = await b.period("Dec 2025", "2025-12-01", "2025-12-31")
    item = await b.item(december, "fx_revaluation")
    assert item["passed"] is True
    assert item["evidence"]["required"] is False


async def test_failing_items_are_acknowledged_with_who_what_and_why(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    b = await _trading_books(client, tenant)
    period = await b.period(*JAN)
    refused = await b.close(period)
    body = assert_problem(refused, 409, "ledger.close_checklist_failed")
    assert body["failing"] == ["fx_revaluation"]
    assert "fx_revaluation" in body["detail"]
    # acknowledging another item does not cover it
    partial = await b.close(period, {"acknowledge": ["review_queue"]})
    assert assert_problem(partial, 409, "ledger.close_checklist_failed")["unacknowledged"] == [
        "fx_revaluation"
    ]
    # an unrevalued position may be waived only with a reason
    assert_problem(
        await b.close(period, {"acknowledge": ["fx_revaluation"]}), 422, "request.invalid"
    )
    accountant = await b.close(
        period, {"acknowledge": ["fx_revaluation"], "reason": "immaterial"}, role=Role.ACCOUNTANT
    )
    assert_problem(accountant, 403, "auth.insufficient_scope")

    closed = await b.close(period, {"acknowledge": ["fx_revaluation"], "reason": "immaterial"})
    assert closed.status_code == 200, closed.text
    period_out: dict[str, Any] = closed.json()
    assert period_out["status"] == "closed"
    [ack] = period_out["acknowledgements"]
    assert ack["code"] == "fx_revaluation"
    assert ack["reason"] == "immaterial"
    assert ack["acknowledged_by"] == period_out["closed_by"]
    assert ack["evidence"]["foreign_positions"][0]["balance"] == "-110.00"
    # and when the period is read
    read = await client.get(b.period_url(period), headers=b.h(Role.VIEWER))
    assert read.status_code == 200, read.text
    assert read.json()["acknowledgements"] == period_out["acknowledgements"]
    listed = await client.get(f"/v1/ledgers/{b.ledger_id}/periods", headers=b.h(Role.VIEWER))
    assert listed.json()[0]["acknowledgements"] == period_out["acknowledgements"]
    # closing again changes nothing
    again = await b.close(period)
    assert again.status_code == 200, again.text
    assert again.json() == period_out
