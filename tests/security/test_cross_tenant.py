"""Tenant B, with an admin key, aims every route that takes an id at tenant A's objects:
always 404 — never 200, never 403 (a 403 would confirm the object exists) — and A's
objects are unchanged afterwards. B's lists never show A's ids."""

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import v1_routes
from tests.conftest import TenantKeys, make_tenant
from tests.security.support import CSV_PROFILE, World, build_world, entry_body

_PARAM = re.compile(r"\{([a-z_]+)\}")

# A body each id-taking write route accepts as valid, so the answer is about the id alone.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "POST /v1/api-keys/{key_id}:rotate": {"json": {"grace_seconds": 0}},
    "POST /v1/api-keys/{key_id}:revoke": {},
    "POST /v1/ledgers/{ledger_id}/accounts": {
        "json": {"code": "9000", "name": "Mine now", "type": "asset", "asset": "USD"}
    },
    "POST /v1/ledgers/{ledger_id}/accounts:import": {
        "content": "code,name,type\n9100,Imported,asset\n",
        "headers": {"Content-Type": "text/csv"},
    },
    "PATCH /v1/accounts/{account_id}": {"json": {"name": "renamed", "status": "archived"}},
    "POST /v1/ledgers/{ledger_id}/entries": {"json": entry_body()},
    "POST /v1/ledgers/{ledger_id}/entries:batch": {"json": {"entries": [entry_body()]}},
    "POST /v1/entries/{entry_id}:post": {"json": {}},
    "POST /v1/entries/{entry_id}:void": {},
    "POST /v1/entries/{entry_id}:reverse": {"json": {}},
    "POST /v1/ledgers/{ledger_id}/periods": {
        "json": {"name": "FY2000", "start_date": "2000-01-01", "end_date": "2000-12-31"}
    },
    "POST /v1/ledgers/{ledger_id}/periods/{period_id}:close": {
        "json": {"acknowledge": ["review_queue"]}
    },
    "POST /v1/ledgers/{ledger_id}/periods/{period_id}:reopen": {"json": {"reason": "audit"}},
    "POST /v1/ledgers/{ledger_id}/periods/{period_id}/closing-entries": {},
    "POST /v1/dead-letters/{dead_letter_id}:replay": {},
    "PATCH /v1/webhooks/{endpoint_id}": {
        "json": {"url": "https://93.184.216.35/stolen", "description": "x", "enabled": True}
    },
    "POST /v1/webhooks/{endpoint_id}:rotate-secret": {},
    "POST /v1/webhook-deliveries/{delivery_id}:redeliver": {},
    "POST /v1/bank-accounts/{bank_account_id}/imports": {
        "files": {"file": ("x.csv", b"Date,Description,Amount\n2026-01-03,Tea,-2.00\n")}
    },
    "PUT /v1/csv-profiles/{name}": {"json": CSV_PROFILE},
    "POST /v1/ledgers/{ledger_id}/categorization-rules": {
        "json": {"account": "4000", "description_contains": "stolen"}
    },
    "PUT /v1/ledgers/{ledger_id}/categorization-settings": {"json": {"auto_book": False}},
    "POST /v1/ledgers/{ledger_id}/models/retrain": {},
    "POST /v1/ledgers/{ledger_id}/models/{model_id}/promote": {},
    "POST /v1/ledgers/{ledger_id}/proposals/bulk-accept": {
        "json": {"ids": ["00000000-0000-7000-8000-000000000001"]}
    },
    "POST /v1/proposals/{proposal_id}/review": {"json": {"action": "accept"}},
    "PUT /v1/ledgers/{ledger_id}/open-item-accounts/{account}": {"json": {"role": "payable"}},
    "POST /v1/bank-accounts/{bank_account_id}/reconcile": {},
    "POST /v1/matches/{match_id}/accept": {},
    "POST /v1/matches/{match_id}/reject": {},
    "POST /v1/matches/{match_id}/unreconcile": {},
    "POST /v1/bank-accounts/{bank_account_id}/reconciliations": {
        "json": {"statement_date": "2030-01-31", "statement_balance": "0.00"}
    },
    "POST /v1/bank-accounts/{bank_account_id}/reconciliations/{reconciliation_id}/reopen": {},
    "PUT /v1/ledgers/{ledger_id}/reconcile-settings": {"json": {"run_on_import": False}},
    "POST /v1/ledgers/{ledger_id}/fx-revaluations": {
        "json": {"as_of": "2026-01-31", "trading_accounts": ["3900"]}
    },
    # reads that need a query to be valid at all
    "GET /v1/bank-accounts/{bank_account_id}/reconciliation-report": {
        "params": {"statement_date": "2026-01-31"}
    },
}
# Routes keyed by a name the caller chooses: B writing "my-bank" makes B's own profile (200),
# reading it reads B's own, and A's stays as it was (the snapshot checks it).
# Reads that compute an answer from required query parameters, not lists of objects
LOOKUPS = {"/v1/fx-rates/quote"}
OWN_NAMESPACE = {"PUT /v1/csv-profiles/{name}", "GET /v1/csv-profiles/{name}"}


@pytest.fixture
async def victim(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> World:
    return await build_world(client, sessionmaker, await make_tenant(sessionmaker))


async def snapshot(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """What A sees of its objects (``last_used_at`` of A's own keys moves as A reads)."""
    headers = world.tenant.headers(Role.ADMIN)
    urls = [
        f"/v1/ledgers/{world.ledger_id}",
        f"/v1/ledgers/{world.ledger_id}/accounts",
        f"/v1/ledgers/{world.ledger_id}/entries?status=pending",
        f"/v1/ledgers/{world.ledger_id}/entries",
        f"/v1/ledgers/{world.ledger_id}/periods",
        *(f"/v1/accounts/{account}/balance" for account in world.account_ids),
        f"/v1/webhooks/{world.endpoint_id}",
        f"/v1/webhook-deliveries/{world.delivery_id}",
        f"/v1/dead-letters/{world.dead_letter_id}",
        f"/v1/bank-accounts/{world.bank_account_id}",
        f"/v1/bank-accounts/{world.bank_account_id}/transactions",
        f"/v1/bank-accounts/{world.bank_account_id}/imports",
        f"/v1/imports/{world.import_id}",
        f"/v1/csv-profiles/{world.profile_name}",
        f"/v1/proposals/{world.proposal_id}",
        f"/v1/ledgers/{world.ledger_id}/categorization-rules",
        f"/v1/ledgers/{world.ledger_id}/categorization-settings",
        f"/v1/ledgers/{world.ledger_id}/models",
        f"/v1/ledgers/{world.ledger_id}/open-item-accounts",
        f"/v1/ledgers/{world.ledger_id}/open-items",
        f"/v1/open-items/{world.open_item_id}",
        f"/v1/bank-accounts/{world.bank_account_id}/matches",
        f"/v1/matches/{world.match_id}",
    ]
    seen: dict[str, Any] = {}
    for url in urls:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        seen[url] = response.json()
    keys = (await client.get("/v1/api-keys", headers=headers)).json()
    seen["keys"] = [{**key, "last_used_at": None} for key in keys]
    return seen


def id_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """``(name, method, path)`` of every /v1 route with an id in its path."""
    found = []
    for name in v1_routes(app):
        methods, path = name.split(" ", 1)
        if _PARAM.search(path):
            found.extend((f"{method} {path}", method, path) for method in methods.split(","))
    return found


async def test_another_tenants_ids_are_404_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, victim: World, tenant: TenantKeys
) -> None:
    before = await snapshot(client, victim)
    routes = id_routes(app)
    writes = {name for name, method, _ in routes if method not in {"GET", "DELETE"}}
    assert writes <= VALID_BODIES.keys(), (
        f"no valid body for {sorted(writes - VALID_BODIES.keys())}"
    )
    params = victim.path_params()
    wrong = []
    for name, method, path in routes:
        entry_ids = [victim.posted_entry_id]
        if name.endswith((":post", ":void")):
            entry_ids = [victim.pending_entry_id, victim.posted_entry_id]
        for entry_id in entry_ids:
            url = _PARAM.sub(lambda m, e=entry_id: e if m[1] == "entry_id" else params[m[1]], path)
            kwargs = dict(VALID_BODIES.get(name, {}))
            headers = {**tenant.headers(Role.ADMIN), **kwargs.pop("headers", {})}
            response = await client.request(method, url, headers=headers, **kwargs)
            if name in OWN_NAMESPACE:
                if response.status_code != 200:
                    wrong.append(f"{name}: {response.status_code} {response.text[:200]}")
                continue
            if response.status_code != 404 or not response.headers["content-type"].startswith(
                "application/problem+json"
            ):
                wrong.append(f"{name}: {response.status_code} {response.text[:200]}")
    assert wrong == [], "another tenant's id was not a plain 404"
    assert await snapshot(client, victim) == before


async def test_lists_never_show_another_tenants_ids(
    app: FastAPI, client: httpx.AsyncClient, victim: World, tenant: TenantKeys
) -> None:
    mine = await build_world(client, app.state.sessionmaker, tenant)
    lists = [name.split(" ", 1)[1] for name in v1_routes(app) if name.startswith("GET ")]
    lists = [path for path in lists if not _PARAM.search(path) and path not in LOOKUPS]
    assert "/v1/audit/export" in lists
    extra = [
        "/v1/dead-letters?status=all",
        f"/v1/ledgers/{mine.ledger_id}/entries?account={victim.account_ids[0]}",
        f"/v1/accounts/{mine.account_ids[0]}/statement",
        f"/v1/webhooks/{mine.endpoint_id}/deliveries",
        f"/v1/audit?target_id={victim.ledger_id}",
    ]
    for url in [*lists, *extra]:
        response = await client.get(url, headers=tenant.headers(Role.ADMIN))
        assert response.status_code == 200, f"{url}: {response.text}"
        leaked = {found for found in victim.ids() if found in response.text}
        assert not leaked, f"{url} shows tenant A's ids {leaked}"
