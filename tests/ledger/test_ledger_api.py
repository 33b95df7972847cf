"""End-to-end ledger behaviour through the HTTP API, on SQLite and PostgreSQL."""

from typing import Any

import httpx

from autoledger.platform.auth.roles import Role
from tests.conftest import TenantKeys


async def _ledger(client: httpx.AsyncClient, tenant: TenantKeys, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/ledgers",
        json={"name": "Books", "base_currency": "USD", **extra},
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _account(
    client: httpx.AsyncClient, tenant: TenantKeys, ledger_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/ledgers/{ledger_id}/accounts", json=body, headers=tenant.headers(Role.ACCOUNTANT)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_post_entry_and_read_balances(client: httpx.AsyncClient, tenant: TenantKeys) -> None:
    ledger = await _ledger(client, tenant)
    cash = await _account(
        client, tenant, ledger["id"], code="1000", name="Cash", type="asset", asset="USD"
    )
    sales = await _account(
        client, tenant, ledger["id"], code="4000", name="Sales", type="revenue", asset="USD"
    )
    entry = {
        "postings": [
            {"account": "1000", "direction": "debit", "amount": "100.25", "asset": "USD"},
            {"account": sales["id"], "direction": "credit", "amount": "100.25", "asset": "USD"},
        ],
        "description": "Sale",
    }
    response = await client.post(
        f"/v1/ledgers/{ledger['id']}/entries", json=entry, headers=tenant.headers(Role.ACCOUNTANT)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "posted"
    assert body["postings"][0]["amount"] == "100.25"
    balance = (
        await client.get(f"/v1/accounts/{cash['id']}/balance", headers=tenant.headers(Role.VIEWER))
    ).json()
    assert balance["balances"][0]["posted"] == "100.25"
    revenue = (
        await client.get(f"/v1/accounts/{sales['id']}/balance", headers=tenant.headers(Role.VIEWER))
    ).json()
    assert revenue["balances"][0]["posted"] == "100.25"
    verify = (
        await client.get(f"/v1/ledgers/{ledger['id']}/verify", headers=tenant.headers(Role.VIEWER))
    ).json()
    assert verify["ok"] is True
    assert verify["records_checked"] == 1


async def test_unbalanced_entry_is_refused(client: httpx.AsyncClient, tenant: TenantKeys) -> None:
    ledger = await _ledger(client, tenant, chart_template="small_business")
    entry = {
        "postings": [
            {"account": "1110", "direction": "debit", "amount": "10.00", "asset": "USD"},
            {"account": "4100", "direction": "credit", "amount": "9.99", "asset": "USD"},
        ]
    }
    response = await client.post(
        f"/v1/ledgers/{ledger['id']}/entries", json=entry, headers=tenant.headers(Role.ACCOUNTANT)
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "ledger.unbalanced"
