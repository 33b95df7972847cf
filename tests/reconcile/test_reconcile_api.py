"""Reconciliation through the API: invoices become open items, a statement's lines are
matched to them, the sure matches are booked on their own, a person accepts, rejects and
unreconciles the rest — and the bank's money is in the ledger exactly once throughout."""

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.ids import new_id
from autoledger.platform.auth.roles import Role
from autoledger.reconcile.scoring import prior
from autoledger.reconcile.tables import ReconcileMatch, ReconcileMatchItem, ReconcileMatchLine
from tests.api.test_errors_and_observability import assert_problem
from tests.banking.support import BankSetup, bank_account, csv_statement, upload
from tests.categorize.test_bookkeeping_api import WAIT_SECONDS, all_proposals
from tests.conftest import TenantKeys

INVOICES = [
    ("INV-00042", "Acme Tools Inc", "500.00", "2026-03-15"),
    ("INV-00043", "Blue Bottle Coffee", "1000.00", "2026-03-20"),
    ("INV-00044", "Cobalt Labs LLC", "300.00", "2026-03-10"),
    ("INV-00045", "Cobalt Labs LLC", "200.00", "2026-03-12"),
    ("INV-00046", "Delta Foods", "800.00", "2026-03-25"),
]
STATEMENT = [
    ("2026-03-16", "ACH CREDIT ACME TOOLS INV-00042", "500.00"),
    ("2026-03-21", "WIRE IN BLUE BOTTLE COFFEE INV-00043", "985.00"),
    ("2026-03-22", "COBALT LABS PAYMENT", "500.00"),
    ("2026-03-23", "DELTA FOODS INV-00046", "300.00"),
    ("2026-03-24", "Coffee Corner", "-3.50"),
]


async def open_items(
    client: httpx.AsyncClient, setup: BankSetup, count: int
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        response = await client.get(
            f"/v1/ledgers/{setup.ledger_id}/open-items", headers=setup.tenant.headers(Role.VIEWER)
        )
        assert response.status_code == 200, response.text
        found = list(response.json())
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(found)} open items, expected {count}")


async def matches(
    client: httpx.AsyncClient, setup: BankSetup, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}/matches",
        params=params,
        headers=setup.tenant.headers(Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    return list(response.json())


async def decide(
    client: httpx.AsyncClient, tenant: TenantKeys, match_id: str, action: str
) -> httpx.Response:
    return await client.post(
        f"/v1/matches/{match_id}/{action}", headers=tenant.headers(Role.ACCOUNTANT)
    )


async def bank_balance(
    client: httpx.AsyncClient, setup: BankSetup, codes: dict[str, str]
) -> Decimal:
    response = await client.get(
        f"/v1/accounts/{codes['1110']}/balance", headers=setup.tenant.headers(Role.VIEWER)
    )
    assert response.status_code == 200, response.text
    balances = response.json()["balances"]
    return Decimal(balances[0]["posted"]) if balances else Decimal(0)


async def _suggest_again(
    sessionmaker: async_sessionmaker[AsyncSession], match_id: str
) -> uuid.UUID:
    """A new suggestion for the lines and items of match ``match_id`` (a later run's)."""
    async with sessionmaker() as session:
        match = await session.get_one(ReconcileMatch, uuid.UUID(match_id))
        copy = ReconcileMatch(
            **{
                c.key: getattr(match, c.key)
                for c in ReconcileMatch.__table__.columns
                if c.key not in {"id", "entry_id", "decided_by", "decided_at"}
            }
        )
        copy.id, copy.status, copy.rank, copy.auto = new_id(), "suggested", 2, False
        session.add(copy)
        await session.flush()
        for part in (ReconcileMatchLine, ReconcileMatchItem):
            for row in (await session.scalars(select(part).where(part.match_id == match.id))).all():
                values = {c.key: getattr(row, c.key) for c in part.__table__.columns}
                session.add(part(**{**values, "match_id": copy.id}))
        await session.commit()
        return copy.id


async def test_a_statement_is_reconciled_against_invoices(
    client: httpx.AsyncClient, tenant: TenantKeys, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    setup = await bank_account(client, tenant, currency="USD", account_number=None)
    marked = await client.put(
        f"/v1/ledgers/{setup.ledger_id}/open-item-accounts/1200",
        json={"role": "receivable"},
        headers=tenant.headers(Role.ADMIN),
    )
    assert marked.status_code == 200, marked.text
    # this test runs the matcher itself, once the bookkeeping loop has seen every line
    manual = await client.put(
        f"/v1/ledgers/{setup.ledger_id}/reconcile-settings",
        json={"run_on_import": False},
        headers=tenant.headers(Role.ADMIN),
    )
    assert manual.status_code == 200, manual.text
    for reference, party, amount, due in INVOICES:
        posted = await client.post(
            f"/v1/ledgers/{setup.ledger_id}/entries",
            json={
                "postings": [
                    {"account": "1200", "direction": "debit", "amount": amount, "asset": "USD"},
                    {"account": "4200", "direction": "credit", "amount": amount, "asset": "USD"},
                ],
                "effective_date": "2026-03-01",
                "metadata": {"reference": reference, "counterparty": party, "due_date": due},
            },
            headers=tenant.headers(Role.ACCOUNTANT),
        )
        assert posted.status_code == 201, posted.text
    items = {i["reference"]: i for i in await open_items(client, setup, len(INVOICES))}
    assert (await upload(client, setup, csv_statement(STATEMENT))).status_code in (201, 202)
    # let the bookkeeping loop propose (and maybe book) every line first
    await all_proposals(client, setup, len(STATEMENT))

    run = await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconcile",
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert run.status_code == 200, run.text
    report = run.json()
    assert report["lines"] == len(STATEMENT)
    assert report["open_items"] == len(INVOICES)
    assert report["policy_source"] == "prior"
    assert report["threshold"] == prior().metadata["default_threshold"]
    assert report["auto_reconciled"] >= 2

    reconciled = await matches(client, setup, status="reconciled")
    by_reference = {
        tuple(sorted(a["open_item_id"] for a in m["allocations"])): m for m in reconciled
    }
    acme = by_reference[(items["INV-00042"]["id"],)]
    assert acme["auto"] is True
    assert acme["method"] == "exact_key"
    assert acme["explanation"][0] == "the bank line names INV-00042"
    fee = by_reference[(items["INV-00043"]["id"],)]
    assert fee["writeoffs"] == [{"purpose": "bank_fee", "amount": "-15.00"}]
    accounts = await client.get(
        f"/v1/ledgers/{setup.ledger_id}/accounts", params={"limit": "500"}, headers=tenant.headers()
    )
    codes = {a["code"]: a["id"] for a in accounts.json()["data"]}
    code_of = {v: k for k, v in codes.items()}
    entry = (await client.get(f"/v1/entries/{fee['entry_id']}", headers=tenant.headers())).json()
    assert entry["source"] == {"type": "reconciliation", "id": fee["id"]}
    assert {(code_of[p["account_id"]], p["direction"], p["amount"]) for p in entry["postings"]} == {
        ("1110", "debit", "985.00"),
        ("1200", "credit", "1000.00"),
        ("6800", "debit", "15.00"),
    }
    settled = await client.get(
        f"/v1/open-items/{items['INV-00043']['id']}", headers=tenant.headers()
    )
    assert settled.json()["status"] == "settled"

    # A suggestion whose line another match has reconciled since is stale: accepting it is
    # a clean conflict that changes nothing (as when a run and a person race for a line).
    stale = await _suggest_again(sessionmaker, acme["id"])
    refused_stale = await decide(client, tenant, str(stale), "accept")
    assert_problem(refused_stale, 409, "reconcile.match_stale")
    assert "already reconciled" in refused_stale.json()["detail"]
    assert str(stale) in {m["id"] for m in await matches(client, setup, status="suggested")}

    # Whatever was not sure enough waits as a suggestion; accept them all.
    for suggestion in await matches(client, setup, status="suggested"):
        if suggestion["rank"] == 1:
            accepted = await decide(client, tenant, suggestion["id"], "accept")
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["status"] == "reconciled"
            again = await decide(client, tenant, suggestion["id"], "accept")
            assert again.json()["entry_id"] == accepted.json()["entry_id"]  # idempotent
    reconciled = await matches(client, setup, status="reconciled")
    settled_items = {a["open_item_id"] for m in reconciled for a in m["allocations"]}
    assert {items[r]["id"] for r in ("INV-00044", "INV-00045", "INV-00046")} <= settled_items
    delta = await client.get(f"/v1/open-items/{items['INV-00046']['id']}", headers=tenant.headers())
    assert delta.json()["status"] == "partially_settled"
    assert delta.json()["open_amount"] == "500.00"

    # The bank's money is in the ledger once: reconciled lines plus lines the bookkeeping
    # loop still holds booked (what reconciliation took over it reversed).
    proposals = await all_proposals(client, setup, len(STATEMENT))
    reconciled_lines = {line["bank_transaction_id"] for m in reconciled for line in m["lines"]}
    expected = sum(
        Decimal(amount)
        for (_, text, amount) in STATEMENT
        if proposals[text]["bank_transaction_id"] in reconciled_lines
        or proposals[text]["entry_id"] is not None
    )
    assert await bank_balance(client, setup, codes) == expected
    for text, proposal in proposals.items():
        if proposal["bank_transaction_id"] in reconciled_lines:
            assert proposal["status"] == "reconciled", text
            assert proposal["entry_id"] is None
    acme_proposal = proposals[STATEMENT[0][1]]
    refused = await client.post(
        f"/v1/proposals/{acme_proposal['id']}/review",
        json={"action": "accept"},
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert_problem(refused, 409, "categorize.line_reconciled")

    # Unreconciling reverses the settlement and reopens the invoice; rejecting it means the
    # pair is never proposed again.
    undone = await decide(client, tenant, acme["id"], "unreconcile")
    assert undone.status_code == 200, undone.text
    assert undone.json()["reversal_entry_id"] is not None
    reopened = await client.get(
        f"/v1/open-items/{items['INV-00042']['id']}", headers=tenant.headers()
    )
    assert reopened.json()["status"] == "open"
    assert await bank_balance(client, setup, codes) == expected - Decimal("500.00")
    requeued = await client.get(f"/v1/proposals/{acme_proposal['id']}", headers=tenant.headers())
    assert requeued.json()["status"] == "queued"
    conflict = await decide(client, tenant, acme["id"], "accept")
    assert_problem(conflict, 409, "reconcile.match_decided")
    rejected = await decide(client, tenant, acme["id"], "reject")
    assert rejected.status_code == 409  # an unreconciled match is decided already
    rerun = await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconcile",
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert rerun.json()["lines"] == 2  # the Acme line again, and the coffee
    again = [
        m
        for m in await matches(client, setup, status="reconciled")
        if items["INV-00042"]["id"] in {a["open_item_id"] for a in m["allocations"]}
    ]
    assert len(again) == 1
    second = await decide(client, tenant, again[0]["id"], "reject")
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "rejected"
    await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconcile",
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    live = await matches(client, setup, status="suggested") + await matches(
        client, setup, status="reconciled"
    )
    acme_line = acme["lines"][0]["bank_transaction_id"]
    assert not [
        m
        for m in live
        if acme_line in {line["bank_transaction_id"] for line in m["lines"]}
        and items["INV-00042"]["id"] in {a["open_item_id"] for a in m["allocations"]}
    ]


async def test_a_viewer_cannot_reconcile_and_unknown_ids_are_404(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant, currency="USD", account_number=None)
    refused = await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/reconcile", headers=tenant.headers(Role.VIEWER)
    )
    assert refused.status_code == 403
    missing = await client.post(
        "/v1/bank-accounts/00000000-0000-7000-8000-000000000000/reconcile",
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert_problem(missing, 404, "banking.bank_account_not_found")
    unknown = await client.post(
        "/v1/matches/00000000-0000-7000-8000-000000000000/accept",
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert_problem(unknown, 404, "reconcile.match_not_found")
