"""Bank reconciliation through the API: a statement import runs the matcher by itself; a
payment another system already booked pairs with its bank line instead of being booked twice;
the report explains statement against ledger line by line; signing a period off locks its
lines until an admin reopens it; the ledger's settings steer all of it."""

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import assert_problem
from tests.banking.support import BankSetup, bank_account, mt940, upload
from tests.categorize.test_bookkeeping_api import WAIT_SECONDS, all_proposals
from tests.conftest import TenantKeys
from tests.reconcile.test_reconcile_api import decide, matches, open_items

STATEMENT_LINES = (
    ":61:2601020102C100,00NTRFREF1//B1\n:86:/NAME/ACME BV/REMI/INV-00017\n",
    ":61:2601030103D3,50NMSCREF2//B2\n:86:COFFEE CORNER\n",
    ":61:2601040104D250,00NTRFREF3//B3\n:86:/NAME/PAYFLOW PAYROLL SERVICES/REMI/RUN 2026-01\n",
)


async def post_entry(
    client: httpx.AsyncClient,
    setup: BankSetup,
    debit: str,
    credit: str,
    amount: str,
    day: str,
    **metadata: str,
) -> dict[str, Any]:
    posted = await client.post(
        f"/v1/ledgers/{setup.ledger_id}/entries",
        json={
            "postings": [
                {"account": debit, "direction": "debit", "amount": amount, "asset": "EUR"},
                {"account": credit, "direction": "credit", "amount": amount, "asset": "EUR"},
            ],
            "effective_date": day,
            "metadata": metadata,
        },
        headers=setup.tenant.headers(Role.ACCOUNTANT),
    )
    assert posted.status_code == 201, posted.text
    return dict(posted.json())


async def reconciled_lines(client: httpx.AsyncClient, setup: BankSetup, count: int) -> list[Any]:
    found: list[Any] = []
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        found = await matches(client, setup, status="reconciled")
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(found)} reconciled matches, expected {count}")


async def report(client: httpx.AsyncClient, setup: BankSetup, **params: str) -> dict[str, Any]:
    response = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconciliation-report",
        params=params,
        headers=setup.tenant.headers(Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def books(client: httpx.AsyncClient, setup: BankSetup) -> BankSetup:
    """Opening balance, an invoice to ACME, the payroll provider's run booked on the bank
    account by another system, and rent paid from it that the bank has not shown yet."""
    marked = await client.put(
        f"/v1/ledgers/{setup.ledger_id}/open-item-accounts/1200",
        json={"role": "receivable"},
        headers=setup.tenant.headers(Role.ADMIN),
    )
    assert marked.status_code == 200, marked.text
    await post_entry(client, setup, "1110", "3800", "1000.00", "2025-12-31")
    await post_entry(
        client,
        setup,
        "1200",
        "4200",
        "100.00",
        "2025-12-20",
        reference="INV-00017",
        counterparty="Acme BV",
        due_date="2026-01-19",
    )
    await post_entry(
        client, setup, "6200", "1110", "250.00", "2026-01-03", counterparty="Payflow Payroll"
    )
    await post_entry(
        client, setup, "6100", "1110", "500.00", "2026-01-05", counterparty="City Estates"
    )
    return setup


async def test_an_import_reconciles_and_the_report_explains_the_rest(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await books(client, await bank_account(client, tenant))
    # the invoice, the opening balance, the payroll run and the rent as items (three of them
    # book items of the bank account)
    items = await open_items(client, setup, 4)
    kinds = sorted(i["kind"] for i in items)
    assert kinds == ["book", "book", "book", "receivable"]

    uploaded = await upload(
        client, setup, mt940(opening="1000,00", closing="846,50", lines=STATEMENT_LINES)
    )
    assert uploaded.status_code in (201, 202), uploaded.text
    await all_proposals(client, setup, len(STATEMENT_LINES))
    # the import ran the matcher: the invoice is settled by its named payment
    reconciled = await reconciled_lines(client, setup, 1)
    invoice = next(i for i in items if i["kind"] == "receivable")
    assert any([a["open_item_id"] for a in m["allocations"]] == [invoice["id"]] for m in reconciled)
    # the payroll line pairs with the run another system booked: accepted if not automatic
    payroll_item = next(i for i in items if i["amount"] == "-250.00")
    paired = [
        m
        for m in await matches(client, setup)
        if [a["open_item_id"] for a in m["allocations"]] == [payroll_item["id"]]
        and m["status"] in ("suggested", "reconciled")
    ]
    assert paired, "the payroll line was not paired with its book item"
    if paired[0]["status"] == "suggested":
        accepted = await decide(client, tenant, paired[0]["id"], "accept")
        assert accepted.status_code == 200, accepted.text
    pair = (await client.get(f"/v1/matches/{paired[0]['id']}", headers=tenant.headers())).json()
    assert pair["status"] == "reconciled"
    assert pair["entry_id"] is None  # nothing to book: the run is in the books already

    got = await report(client, setup, statement_date="2026-01-31")
    assert got["statement_balance"] == "846.50"
    assert got["statement_balance_source"].endswith("closing balance")
    assert got["opening_balance"] == "1000.00"
    assert got["opening_booked_by"]["amount"] == "1000.00"
    assert got["unbooked_opening_balance"] == "0.00"
    assert [p["amount"] for p in got["outstanding_postings"]["items"]] == ["-500.00"]
    coffee_booked = not got["unbooked_lines"]["items"]
    ledger = Decimal("1000") + Decimal("100") - Decimal("250") - Decimal("500")
    ledger -= Decimal("3.50") if coffee_booked else 0
    assert Decimal(got["ledger_balance"]) == ledger
    assert Decimal(got["difference"]) == Decimal("846.50") - ledger
    assert got["unexplained"] == "0.00"
    assert got["balanced"] is True
    assert got["period"]["lines"] == 3
    assert got["period"]["reconciled"] == 2

    # a balance the statement does not give is not explained, and cannot be signed off
    wrong = await report(client, setup, statement_date="2026-01-31", statement_balance="900.00")
    assert wrong["unexplained"] == "53.50"
    assert wrong["balanced"] is False
    refused = await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconciliations",
        json={"statement_date": "2026-01-31", "statement_balance": "900.00"},
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert_problem(refused, 409, "reconcile.not_balanced")
    bad = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconciliation-report",
        params={"statement_date": "2026-01-31", "statement_balance": "1.234"},
        headers=tenant.headers(Role.VIEWER),
    )
    assert_problem(bad, 422, "money.invalid_amount")


async def test_a_signed_off_period_locks_its_lines_until_an_admin_reopens_it(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await books(client, await bank_account(client, tenant))
    await open_items(client, setup, 4)
    await upload(client, setup, mt940(opening="1000,00", closing="846,50", lines=STATEMENT_LINES))
    await all_proposals(client, setup, len(STATEMENT_LINES))
    (settled, *_) = await reconciled_lines(client, setup, 1)

    url = f"/v1/bank-accounts/{setup.bank_account_id}/reconciliations"
    viewer = await client.post(
        url, json={"statement_date": "2026-01-31"}, headers=tenant.headers(Role.VIEWER)
    )
    assert viewer.status_code == 403
    signed = await client.post(
        url, json={"statement_date": "2026-01-31"}, headers=tenant.headers(Role.ACCOUNTANT)
    )
    assert signed.status_code == 201, signed.text
    record = signed.json()
    assert record["status"] == "reconciled"
    assert record["statement_balance"] == "846.50"
    assert record["report"]["balanced"] is True
    assert record["report"]["reconciled_through"] == "2026-01-31"

    locked = await decide(client, tenant, settled["id"], "unreconcile")
    assert_problem(locked, 409, "reconcile.period_locked")
    earlier = await client.post(
        url, json={"statement_date": "2026-01-15"}, headers=tenant.headers(Role.ACCOUNTANT)
    )
    assert_problem(earlier, 409, "reconcile.out_of_order")
    again = await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconcile",
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert again.status_code == 200
    assert again.json()["lines"] == 0  # the locked period's lines are left alone
    listed = await client.get(url, headers=tenant.headers(Role.VIEWER))
    assert [r["id"] for r in listed.json()] == [record["id"]]
    assert (await report(client, setup, statement_date="2026-02-28"))["start"] == "2026-02-01"

    reopen = f"{url}/{record['id']}/reopen"
    refused = await client.post(reopen, headers=tenant.headers(Role.ACCOUNTANT))
    assert refused.status_code == 403
    reopened = await client.post(reopen, headers=tenant.headers(Role.ADMIN))
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "reopened"
    assert reopened.json()["reopened_by"]
    undone = await decide(client, tenant, settled["id"], "unreconcile")
    assert undone.status_code == 200, undone.text
    missing = await client.post(
        f"{url}/00000000-0000-7000-8000-000000000000/reopen", headers=tenant.headers(Role.ADMIN)
    )
    assert_problem(missing, 404, "reconcile.reconciliation_not_found")


async def test_settings_steer_runs_and_write_offs(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    url = f"/v1/ledgers/{setup.ledger_id}/reconcile-settings"
    defaults = await client.get(url, headers=tenant.headers(Role.VIEWER))
    assert defaults.status_code == 200, defaults.text
    assert defaults.json()["run_on_import"] is True
    assert defaults.json()["writeoff_accounts"]["bank_fee"] == "6800"
    assert defaults.json()["tolerances"]["rounding"] == 5

    unknown = await client.put(
        url, json={"writeoff_accounts": {"bank_fee": "6666"}}, headers=tenant.headers(Role.ADMIN)
    )
    assert_problem(unknown, 422, "reconcile.invalid_settings")
    assert "writeoff_accounts.bank_fee" in unknown.json()["detail"]
    invalid = await client.put(
        url, json={"tolerances": {"rounding": -1}}, headers=tenant.headers(Role.ADMIN)
    )
    assert_problem(invalid, 422, "request.invalid")
    accountant = await client.put(url, json={}, headers=tenant.headers(Role.ACCOUNTANT))
    assert accountant.status_code == 403
    changed = await client.put(
        url,
        json={
            "run_on_import": False,
            "tolerances": {"fee_max_units": 0},
            "writeoff_accounts": {"bank_fee": "6810"},
        },
        headers=tenant.headers(Role.ADMIN),
    )
    assert changed.status_code == 200, changed.text
    body = (await client.get(url, headers=tenant.headers(Role.VIEWER))).json()
    assert body["run_on_import"] is False
    assert body["tolerances"]["fee_max_units"] == 0
    assert body["writeoff_accounts"]["bank_fee"] == "6810"
    assert body["writeoff_accounts"]["rounding"] == "7200"

    await books(client, setup)
    await open_items(client, setup, 4)
    await upload(client, setup, mt940(opening="1000,00", closing="846,50", lines=STATEMENT_LINES))
    await all_proposals(client, setup, len(STATEMENT_LINES))
    assert await matches(client, setup) == []  # no run after the import
    run = await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconcile",
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert run.json()["lines"] == len(STATEMENT_LINES)


async def test_a_foreign_currency_write_off_needs_an_account_in_that_currency(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    """A USD ledger with a euro bank account: a euro payment short by a bank fee cannot be
    written off to the dollar fee account, so the sure match stays a suggestion (the run
    counts why) until the fee account has a euro sub-account."""
    ledger = await client.post(
        "/v1/ledgers",
        json={"name": "Books", "base_currency": "USD", "chart_template": "small_business"},
        headers=tenant.headers(),
    )
    ledger_id = ledger.json()["id"]
    for code, parent in (("1130-EUR", "1130"), ("1200-EUR", "1200")):
        created = await client.post(
            f"/v1/ledgers/{ledger_id}/accounts",
            json={"code": code, "name": code, "type": "asset", "parent": parent, "asset": "EUR"},
            headers=tenant.headers(),
        )
        assert created.status_code == 201, created.text
    bank = await client.post(
        "/v1/bank-accounts",
        json={
            "ledger_id": ledger_id,
            "gl_account": "1130-EUR",
            "name": "Euro account",
            "currency": "EUR",
            "account_number": "NL91ABNA0417164300",
        },
        headers=tenant.headers(),
    )
    assert bank.status_code == 201, bank.text
    setup = BankSetup(tenant, ledger_id, bank.json()["id"])
    for url, body in (
        (f"/v1/ledgers/{ledger_id}/open-item-accounts/1200-EUR", {"role": "receivable"}),
        (f"/v1/ledgers/{ledger_id}/reconcile-settings", {"run_on_import": False}),
    ):
        assert (await client.put(url, json=body, headers=tenant.headers())).status_code == 200
    posted = await client.post(
        f"/v1/ledgers/{ledger_id}/entries",
        json={
            "postings": [
                {"account": "1200-EUR", "direction": "debit", "amount": "1000.00", "asset": "EUR"},
                {"account": "1130-EUR", "direction": "credit", "amount": "1000.00", "asset": "EUR"},
            ],
            "effective_date": "2026-01-02",
            "metadata": {"reference": "INV-00077", "counterparty": "Acme BV"},
        },
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert posted.status_code == 201, posted.text
    await open_items(client, setup, 1)
    line = ":61:2601050105C985,00NTRFREF7//B7\n:86:/NAME/ACME BV/REMI/INV-00077\n"
    statement = mt940(account="NL91ABNA0417164300", opening="0,00", closing="985,00", lines=(line,))
    assert (await upload(client, setup, statement)).status_code in (201, 202)
    await all_proposals(client, setup, 1)

    run = await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconcile",
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert run.status_code == 200, run.text
    assert run.json()["auto_reconciled"] == 0
    assert run.json()["stats"]["auto_failed:reconcile.writeoff_currency"] == 1
    [waiting] = await matches(client, setup, status="suggested")
    assert waiting["writeoffs"] == [{"purpose": "bank_fee", "amount": "-15.00"}]
    refused = await decide(client, tenant, waiting["id"], "accept")
    problem = assert_problem(refused, 422, "reconcile.writeoff_currency")
    assert "6800-EUR" in problem["detail"]

    created = await client.post(
        f"/v1/ledgers/{ledger_id}/accounts",
        json={
            "code": "6800-EUR",
            "name": "Bank fees in EUR",
            "type": "expense",
            "parent": "6800",
            "asset": "EUR",
        },
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    accepted = await decide(client, tenant, waiting["id"], "accept")
    assert accepted.status_code == 200, accepted.text
    entry = (
        await client.get(f"/v1/entries/{accepted.json()['entry_id']}", headers=tenant.headers())
    ).json()
    assert {(p["account_id"], p["amount"]) for p in entry["postings"]} >= {
        (created.json()["id"], "15.00")
    }
