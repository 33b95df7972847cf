"""The SDK's reconciliation methods: the async client end to end over ASGITransport (SQLite and
PostgreSQL) — open items, a run, decisions, the report and sign-off, settings — and the sync
client's requests (paths, pages, keys) against a mock transport."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import get_args

import httpx
import pytest
from fastapi import FastAPI

from autoledger.banking import schemas as banking
from autoledger.categorize import schemas as bookkeeping
from autoledger.client.sdk import ApiError, AsyncClient, Client, OpenItemQuery, ProposalQuery
from autoledger.ledger import schemas
from autoledger.platform.auth.roles import Role
from autoledger.reconcile import schemas as reconcile
from autoledger.reconcile.scoring import prior
from tests.banking.support import csv_statement, mt940
from tests.categorize.test_bookkeeping_api import WAIT_SECONDS
from tests.conftest import TenantKeys

BASE = "http://testserver"
INVOICES = [
    ("INV-00042", "Acme Tools Inc", "500.00", "2026-03-15"),
    ("INV-00044", "Cobalt Labs LLC", "300.00", "2026-03-10"),
    ("INV-00045", "Cobalt Labs LLC", "200.00", "2026-03-12"),
]
STATEMENT = [
    ("2026-03-16", "ACH CREDIT ACME TOOLS INV-00042", "500.00"),
    ("2026-03-22", "COBALT LABS PAYMENT", "500.00"),
    ("2026-03-24", "Coffee Corner", "-3.50"),
]
JANUARY = (
    ":61:2601020102C100,00NTRFREF1//B1\n:86:/NAME/ACME BV/REMI/INV-00017\n",
    ":61:2601030103D3,50NMSCREF2//B2\n:86:COFFEE CORNER\n",
)


@pytest.fixture
async def sdk(app: FastAPI, tenant: TenantKeys) -> AsyncIterator[AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient(BASE, tenant.keys[Role.ADMIN], transport=transport) as client:
        yield client


async def books(
    sdk: AsyncClient, currency: str, account_number: str | None = None
) -> tuple[schemas.LedgerOut, banking.BankAccountOut]:
    ledger = await sdk.create_ledger(
        schemas.LedgerCreate(name="Books", base_currency=currency, chart_template="small_business")
    )
    bank = await sdk.create_bank_account(
        banking.BankAccountCreate(
            ledger_id=ledger.id,
            gl_account="1110",
            name="Operating",
            currency=currency,
            account_number=account_number,
        )
    )
    return ledger, bank


async def post(
    sdk: AsyncClient,
    ledger: schemas.LedgerOut,
    debit: str,
    credit: str,
    amount: str,
    day: str,
    **metadata: str,
) -> None:
    asset = ledger.base_currency
    await sdk.create_entry(
        ledger.id,
        schemas.EntryCreate.model_validate(
            {
                "postings": [
                    {"account": debit, "direction": "debit", "amount": amount, "asset": asset},
                    {"account": credit, "direction": "credit", "amount": amount, "asset": asset},
                ],
                "effective_date": day,
                "metadata": metadata,
            }
        ),
    )


async def open_items(
    sdk: AsyncClient, ledger_id: uuid.UUID, count: int
) -> list[reconcile.OpenItemOut]:
    """The ledger's open items by reference, once the consumer made ``count`` of them."""
    found: list[reconcile.OpenItemOut] = []
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        found = [i async for i in sdk.iter_open_items(ledger_id, page_size=1)]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(found)} open items, expected {count}")


async def proposed(sdk: AsyncClient, ledger_id: uuid.UUID, count: int) -> None:
    """Wait until the bookkeeping loop has a proposal for ``count`` lines (whatever became of
    them since)."""
    found = 0
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        found = 0
        for status in get_args(bookkeeping.ProposalStatus):
            found += len([p async for p in sdk.iter_proposals(ledger_id, ProposalQuery(status))])
        if found >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{found} proposals, expected {count}")


async def test_open_items_a_run_and_its_decisions(sdk: AsyncClient) -> None:
    ledger, bank = await books(sdk, "USD")
    marked = await sdk.mark_open_item_account(
        ledger.id, "1200", "receivable", idempotency_key="mark-1200"
    )
    assert (marked.code, marked.role, marked.ledger_id) == ("1200", "receivable", ledger.id)
    again = await sdk.mark_open_item_account(
        ledger.id, "1200", "receivable", idempotency_key="mark-1200"
    )
    assert again == marked
    assert await sdk.list_open_item_accounts(ledger.id) == [marked]
    # every match waits for a person here, and the matcher runs only when asked
    settings = await sdk.put_reconcile_settings(
        ledger.id, reconcile.ReconcileSettingsIn(auto_reconcile=False, run_on_import=False)
    )
    assert (settings.auto_reconcile, settings.run_on_import) == (False, False)
    assert settings.writeoff_accounts["bank_fee"] == "6800"
    assert (await sdk.get_reconcile_settings(ledger.id)).auto_reconcile is False

    for reference, party, amount, due in INVOICES:
        await post(
            sdk, ledger, "1200", "4200", amount, "2026-03-01",
            reference=reference, counterparty=party, due_date=due,
        )  # fmt: skip
    items = {i.reference: i for i in await open_items(sdk, ledger.id, len(INVOICES))}
    assert {i.open_amount for i in items.values()} == {"500.00", "300.00", "200.00"}
    first = await sdk.list_open_items(ledger.id, limit=1)
    assert len(first.data) == 1
    assert first.next_cursor is not None
    rest = await sdk.list_open_items(ledger.id, cursor=first.next_cursor, limit=500)
    assert {i.id for i in rest.data} == {i.id for i in items.values()} - {first.data[0].id}
    assert rest.next_cursor is None
    cobalt = await sdk.list_open_items(ledger.id, OpenItemQuery(counterparty="Cobalt Labs LLC"))
    assert sorted(i.reference for i in cobalt.data) == ["INV-00044", "INV-00045"]

    await sdk.import_statement(bank.id, "march.csv", csv_statement(STATEMENT))
    await proposed(sdk, ledger.id, len(STATEMENT))  # the bookkeeping loop saw every line
    run = await sdk.reconcile_bank_account(bank.id, idempotency_key="run-1")
    assert (run.bank_account_id, run.lines, run.open_items) == (bank.id, 3, 3)
    assert run.auto_reconciled == 0
    assert run.suggested_lines >= 2
    assert (run.policy_source, run.threshold) == ("prior", prior().metadata["default_threshold"])
    assert await sdk.reconcile_bank_account(bank.id, idempotency_key="run-1") == run

    waiting = [m async for m in sdk.iter_matches(bank.id, "suggested", page_size=1)]
    assert waiting == (await sdk.list_matches(bank.id, "suggested", limit=500)).data
    page = await sdk.list_matches(bank.id, limit=1)
    assert page.next_cursor == str(page.data[0].id)
    following = await sdk.list_matches(bank.id, after=page.next_cursor, limit=1)
    assert following.data[0].id != page.data[0].id

    acme_item = items["INV-00042"]
    acme = next(
        m
        for m in waiting
        if m.rank == 1 and [a.open_item_id for a in m.allocations] == [acme_item.id]
    )
    assert (acme.method, acme.explanation[0]) == ("exact_key", "the bank line names INV-00042")
    assert await sdk.get_match(acme.id) == acme
    accepted = await sdk.accept_match(acme.id)
    assert accepted.status == "reconciled"
    assert accepted.entry_id is not None
    assert (await sdk.accept_match(acme.id)).entry_id == accepted.entry_id  # the same decision
    settled = await sdk.get_open_item(acme_item.id)
    assert (settled.status, settled.open_amount) == ("settled", "0.00")
    assert [(s.match_id, s.amount, s.source) for s in settled.settlements] == [
        (acme.id, "500.00", "reconciliation")
    ]

    cobalt_ids = {items["INV-00044"].id, items["INV-00045"].id}
    offer = next(
        m
        for m in waiting
        if m.status == "suggested" and {a.open_item_id for a in m.allocations} & cobalt_ids
    )
    rejected = await sdk.reject_match(offer.id)
    assert (rejected.id, rejected.status, rejected.entry_id) == (offer.id, "rejected", None)
    with pytest.raises(ApiError) as decided:
        await sdk.accept_match(offer.id)
    assert (decided.value.status, decided.value.code) == (409, "reconcile.match_decided")

    undone = await sdk.unreconcile_match(acme.id)
    assert undone.status == "unreconciled"
    assert undone.reversal_entry_id is not None
    assert (await sdk.get_open_item(acme_item.id)).status == "open"

    with pytest.raises(ApiError) as unknown_bank:
        await sdk.reconcile_bank_account(uuid.uuid4())
    assert (unknown_bank.value.status, unknown_bank.value.code) == (
        404,
        "banking.bank_account_not_found",
    )
    with pytest.raises(ApiError) as unknown_match:
        await sdk.get_match(uuid.uuid4())
    assert unknown_match.value.code == "reconcile.match_not_found"

    unmarked = await sdk.unmark_open_item_account(ledger.id, "1200")
    assert unmarked.account_id == marked.account_id
    assert await sdk.list_open_item_accounts(ledger.id) == []
    assert len([i async for i in sdk.iter_open_items(ledger.id)]) == len(INVOICES)  # kept


async def test_the_report_explains_the_statement_and_a_balanced_period_is_signed_off(
    sdk: AsyncClient,
) -> None:
    ledger, bank = await books(sdk, "EUR", account_number="NL91ABNA0417164300")
    await sdk.mark_open_item_account(ledger.id, "1200", "receivable")
    # the matcher's settlements are the only bookings of the lines
    await sdk.put_bookkeeping_settings(ledger.id, bookkeeping.SettingsIn(auto_book=False))
    await post(sdk, ledger, "1110", "3800", "1000.00", "2025-12-31")
    await post(
        sdk, ledger, "1200", "4200", "100.00", "2025-12-20",
        reference="INV-00017", counterparty="Acme BV", due_date="2026-01-19",
    )  # fmt: skip
    await post(sdk, ledger, "6100", "1110", "500.00", "2026-01-05", counterparty="City Estates")
    found = await open_items(sdk, ledger.id, 3)
    # the invoice, and two postings another system booked on the bank account
    assert sorted(i.kind for i in found) == ["book", "book", "receivable"]
    await sdk.import_statement(
        bank.id, "january.mt940", mt940(opening="1000,00", closing="1096,50", lines=JANUARY)
    )
    await proposed(sdk, ledger.id, len(JANUARY))
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not [m async for m in sdk.iter_matches(bank.id, "reconciled")]:
        assert asyncio.get_running_loop().time() < deadline, "the import ran no matcher"
        await asyncio.sleep(0.05)

    report = await sdk.reconciliation_report(bank.id, date(2026, 1, 31))
    assert (report.bank_account_id, report.ledger_id, report.currency) == (
        bank.id,
        ledger.id,
        "EUR",
    )
    assert report.statement_balance == "1096.50"
    assert [line.amount for line in report.unbooked_lines.items] == ["-3.50"]  # the coffee
    assert report.ledger_balance == "600.00"
    assert [p.amount for p in report.outstanding_postings.items] == ["-500.00"]
    assert Decimal(report.difference or "x") == Decimal("1096.50") - Decimal(report.ledger_balance)
    assert (report.unexplained, report.balanced) == ("0.00", True)
    wrong = await sdk.reconciliation_report(
        bank.id, date(2026, 1, 31), date_from=date(2026, 1, 1), statement_balance="1100.00"
    )
    assert (wrong.start, wrong.unexplained, wrong.balanced) == (date(2026, 1, 1), "3.50", False)

    with pytest.raises(ApiError) as refused:
        await sdk.mark_reconciled(
            bank.id,
            reconcile.BankReconciliationIn(
                statement_date=date(2026, 1, 31), statement_balance="1100.00"
            ),
        )
    assert (refused.value.status, refused.value.code) == (409, "reconcile.not_balanced")
    body = reconcile.BankReconciliationIn(statement_date=date(2026, 1, 31))
    signed = await sdk.mark_reconciled(bank.id, body, idempotency_key="sign-january")
    assert (signed.status, signed.statement_balance) == ("reconciled", "1096.50")
    assert signed.report.reconciled_through == date(2026, 1, 31)
    assert (
        await sdk.mark_reconciled(bank.id, body, idempotency_key="sign-january")
    ).id == signed.id
    assert [r.id for r in await sdk.list_reconciliations(bank.id)] == [signed.id]
    assert await sdk.get_reconciliation(bank.id, signed.id) == signed
    assert (await sdk.reconcile_bank_account(bank.id)).lines == 0  # the period is locked

    reopened = await sdk.reopen_reconciliation(bank.id, signed.id)
    assert (reopened.id, reopened.status) == (signed.id, "reopened")
    assert reopened.reopened_by is not None
    with pytest.raises(ApiError) as missing:
        await sdk.get_reconciliation(bank.id, uuid.uuid4())
    assert missing.value.code == "reconcile.reconciliation_not_found"


def _match(n: int, bank_account_id: uuid.UUID, status: str = "suggested") -> dict[str, object]:
    return {
        "id": str(uuid.UUID(int=n)), "ledger_id": str(uuid.UUID(int=7)),
        "bank_account_id": str(bank_account_id), "status": status, "rank": 1,
        "kind": "one_to_one", "method": "scored", "auto": False, "score": 0.8,
        "confidence": 0.8, "currency": "USD", "total": "10.00",
        "lines": [{"bank_transaction_id": str(uuid.UUID(int=100 + n)), "amount": "10.00"}],
        "allocations": [{"open_item_id": str(uuid.UUID(int=200 + n)), "amount": "10.00"}],
        "writeoffs": [], "explanation": ["the amount is equal"], "features": {},
        "entry_id": None, "reversal_entry_id": None, "decided_by": None, "decided_at": None,
        "created_at": "2026-03-01T10:00:00Z",
    }  # fmt: skip


def test_sync_client_pages_matches_after_the_last_id_and_sends_its_keys() -> None:
    bank_id, ledger_id = uuid.uuid4(), uuid.uuid4()
    seen: list[httpx.Request] = []
    marking = {
        "ledger_id": str(ledger_id), "account_id": str(uuid.UUID(int=5)), "code": "2100",
        "name": "Accounts payable", "role": "payable", "created_at": "2026-03-01T10:00:00Z",
    }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if "open-item-accounts" in path:
            return httpx.Response(200, json=marking)
        if path.endswith("/reject"):
            return httpx.Response(200, json=_match(1, bank_id, "rejected"))
        if request.url.params.get("after") is None:
            return httpx.Response(
                200, json=[_match(1, bank_id)], headers={"X-Next-After": str(uuid.UUID(int=1))}
            )
        return httpx.Response(200, json=[_match(2, bank_id)])

    with Client(BASE, "al_key", transport=httpx.MockTransport(handler)) as client:
        found = list(client.iter_matches(bank_id, "suggested", page_size=1))
        rejected = client.reject_match(found[0].id, idempotency_key="k-1")
        marked = client.mark_open_item_account(ledger_id, "2100", "payable", idempotency_key="k-2")
        got = client.get_open_item_account(ledger_id, "2100")
    assert [m.id for m in found] == [uuid.UUID(int=1), uuid.UUID(int=2)]
    assert rejected.status == "rejected"
    assert marked == got
    assert marked.role == "payable"
    first, second, reject, mark, get = seen
    assert first.url.path == f"/v1/bank-accounts/{bank_id}/matches"
    assert dict(first.url.params) == {"status": "suggested", "limit": "1"}
    assert second.url.params["after"] == str(uuid.UUID(int=1))
    assert (reject.method, reject.url.path) == ("POST", f"/v1/matches/{uuid.UUID(int=1)}/reject")
    assert reject.headers["Idempotency-Key"] == "k-1"
    assert (mark.method, mark.url.path) == (
        "PUT",
        f"/v1/ledgers/{ledger_id}/open-item-accounts/2100",
    )
    assert json.loads(mark.content) == {"role": "payable"}
    assert mark.headers["Idempotency-Key"] == "k-2"
    assert (get.method, get.url.path) == ("GET", f"/v1/ledgers/{ledger_id}/open-item-accounts/2100")
    assert "Idempotency-Key" not in get.headers
