"""Open items through the API: an admin marks the accounts, entries posted by another
system become items as the worker delivers them, settlements and reversals move them, and
every reader sees only its own tenant's."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import assert_problem
from tests.categorize.test_bookkeeping_api import WAIT_SECONDS
from tests.conftest import TenantKeys, make_tenant
from tests.platform.audit.conftest import audit_records


class Books:
    def __init__(self, client: httpx.AsyncClient, tenant: TenantKeys, ledger_id: str) -> None:
        self.client, self.tenant, self.ledger_id = client, tenant, ledger_id

    async def mark(self, account: str, role: str, as_: Role = Role.ADMIN) -> httpx.Response:
        return await self.client.put(
            f"/v1/ledgers/{self.ledger_id}/open-item-accounts/{account}",
            json={"role": role},
            headers=self.tenant.headers(as_),
        )

    async def post(self, debit: str, credit: str, amount: str, **metadata: str) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/ledgers/{self.ledger_id}/entries",
            json={
                "postings": [
                    {"account": debit, "direction": "debit", "amount": amount, "asset": "USD"},
                    {"account": credit, "direction": "credit", "amount": amount, "asset": "USD"},
                ],
                "effective_date": "2026-03-02",
                "metadata": metadata,
            },
            headers=self.tenant.headers(Role.ACCOUNTANT),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def reverse(self, entry: dict[str, Any]) -> None:
        response = await self.client.post(
            f"/v1/entries/{entry['id']}:reverse", json={}, headers=self.tenant.headers()
        )
        assert response.status_code == 201, response.text

    async def items(self, **params: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/v1/ledgers/{self.ledger_id}/open-items",
            params=params,
            headers=self.tenant.headers(Role.VIEWER),
        )
        assert response.status_code == 200, response.text
        return list(response.json())

    async def until(
        self, done: Callable[[list[dict[str, Any]]], bool], **params: str
    ) -> list[dict[str, Any]]:
        """The items once the worker has delivered what ``done`` waits for."""
        found: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            found = await self.items(**params)
            if done(found):
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"the open items never got there: {found}")


@pytest.fixture
async def books(client: httpx.AsyncClient, tenant: TenantKeys) -> Books:
    response = await client.post(
        "/v1/ledgers",
        json={"name": "Books", "base_currency": "USD", "chart_template": "small_business"},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    books = Books(client, tenant, response.json()["id"])
    marked = await books.mark("1200", "receivable")
    assert marked.status_code == 200, marked.text
    return books


def _invoice(amount: str = "1200.00", reference: str = "INV-0042") -> dict[str, str]:
    return {
        "kind": "invoice",
        "reference": reference,
        "due_date": "2026-04-01",
        "counterparty_id": "cp-7",
        "counterparty": "ACME Corp",
    }


async def test_an_invoice_is_settled_reopened_and_settled_again(books: Books) -> None:
    await books.post("1200", "4100", "1200.00", **_invoice())
    [item] = await books.until(lambda found: len(found) == 1)
    assert (item["amount"], item["open_amount"], item["status"]) == ("1200.00", "1200.00", "open")
    assert (item["reference"], item["kind"], item["due_date"]) == (
        "INV-0042",
        "invoice",
        "2026-04-01",
    )
    assert (item["counterparty"], item["counterparty_id"]) == ("ACME Corp", "cp-7")
    assert item["issued"] == "2026-03-02"

    payment = await books.post("1110", "1200", "200.00", reference="INV-0042")
    [item] = await books.until(lambda found: found[0]["status"] == "partially_settled")
    assert item["open_amount"] == "1000.00"
    detail = await books.client.get(
        f"/v1/open-items/{item['id']}", headers=books.tenant.headers(Role.VIEWER)
    )
    assert detail.status_code == 200, detail.text
    [settlement] = detail.json()["settlements"]
    assert (settlement["amount"], settlement["source"], settlement["entry_id"]) == (
        "200.00",
        "ledger",
        payment["id"],
    )

    await books.reverse(payment)
    [item] = await books.until(lambda found: found[0]["status"] == "open")
    assert item["open_amount"] == "1200.00"

    await books.post("1110", "1200", "1200.00", reference="INV-0042")
    [item] = await books.until(lambda found: found[0]["status"] == "settled")
    assert item["open_amount"] == "0.00"


async def test_bills_are_negative_and_a_reversal_cancels_them(books: Books) -> None:
    accounts = await books.client.get(
        f"/v1/ledgers/{books.ledger_id}/accounts",
        params={"limit": "500"},
        headers=books.tenant.headers(),
    )
    payables = next(a["id"] for a in accounts.json()["data"] if a["code"] == "2100")
    marked = await books.mark(payables, "payable")  # by id
    assert marked.json()["code"] == "2100"
    bill = await books.post("6100", "2100", "80.00", reference="BILL-1", kind="bill")
    await books.post("1200", "4100", "5.00")  # no reference: no item
    await books.post("1110", "4100", "5.00", reference="CASH-1")  # unmarked account
    [item] = await books.until(lambda found: len(found) == 1)
    assert (item["amount"], item["kind"], item["due_date"]) == ("-80.00", "bill", None)
    await books.reverse(bill)
    [item] = await books.until(lambda found: found[0]["status"] == "cancelled")
    assert item["open_amount"] == "0.00"
    assert await books.items(status="open") == []


async def test_filters_and_the_cursor(books: Books) -> None:
    for n in range(3):
        await books.post("1200", "4100", "10.00", **_invoice(reference=f"INV-{n}"))
    await books.until(lambda found: len(found) == 3)
    assert [i["reference"] for i in await books.items(reference="INV-1")] == ["INV-1"]
    assert len(await books.items(counterparty="acme corp", account="1200")) == 3
    assert await books.items(status="settled") == []
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await books.client.get(
            f"/v1/ledgers/{books.ledger_id}/open-items",
            params=params,
            headers=books.tenant.headers(Role.VIEWER),
        )
        seen += [i["reference"] for i in response.json()]
        cursor = response.headers.get("x-next-cursor")
        if cursor is None:
            break
    assert seen == ["INV-0", "INV-1", "INV-2"]
    bad = await books.client.get(
        f"/v1/ledgers/{books.ledger_id}/open-items",
        params={"cursor": "not-ours"},
        headers=books.tenant.headers(Role.VIEWER),
    )
    assert_problem(bad, 422, "request.invalid_cursor")


async def test_marking_is_managed_checked_and_audited(
    books: Books, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    listed = await books.client.get(
        f"/v1/ledgers/{books.ledger_id}/open-item-accounts",
        headers=books.tenant.headers(Role.VIEWER),
    )
    assert listed.status_code == 200, listed.text
    assert [(a["code"], a["role"]) for a in listed.json()] == [("1200", "receivable")]

    assert_problem(
        await books.mark("1200", "payable", Role.ACCOUNTANT), 403, "auth.insufficient_scope"
    )
    assert_problem(await books.mark("1200", "asset"), 422, "request.invalid")
    assert_problem(await books.mark("12%0000", "payable"), 422, "request.invalid")  # NUL
    assert_problem(await books.mark("no-such-code", "payable"), 404, "reconcile.account_not_found")
    books_elsewhere = Books(books.client, books.tenant, str(uuid.uuid4()))
    assert_problem(await books_elsewhere.mark("1200", "payable"), 404, "ledger.ledger_not_found")

    changed = await books.mark("1200", "clearing")
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "clearing"
    url = f"/v1/ledgers/{books.ledger_id}/open-item-accounts/1200"
    one = await books.client.get(url, headers=books.tenant.headers(Role.VIEWER))
    assert (one.json()["code"], one.json()["role"]) == ("1200", "clearing")
    removed = await books.client.delete(url, headers=books.tenant.headers())
    assert removed.status_code == 200, removed.text
    again = await books.client.delete(url, headers=books.tenant.headers())
    assert_problem(again, 404, "reconcile.account_not_marked")
    gone = await books.client.get(url, headers=books.tenant.headers(Role.VIEWER))
    assert_problem(gone, 404, "reconcile.account_not_marked")

    actions = [r.action for r in await audit_records(sessionmaker, books.tenant.id)]
    assert actions.count("reconcile.account.mark") == 2
    assert actions.count("reconcile.account.unmark") == 1


async def test_another_tenant_sees_none_of_it(
    books: Books, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await books.post("1200", "4100", "10.00", **_invoice())
    [item] = await books.until(lambda found: len(found) == 1)
    other = await make_tenant(sessionmaker)
    for url in (
        f"/v1/open-items/{item['id']}",
        f"/v1/ledgers/{books.ledger_id}/open-items",
        f"/v1/ledgers/{books.ledger_id}/open-item-accounts",
    ):
        response = await books.client.get(url, headers=other.headers())
        assert response.status_code == 404, f"{url}: {response.text}"
    stolen = Books(books.client, other, books.ledger_id)
    assert (await stolen.mark("1200", "payable")).status_code == 404
