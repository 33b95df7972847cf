"""Helpers for period-close API tests: books on the small-business chart, entries, periods,
the checklist and the close."""

from dataclasses import dataclass
from typing import Any

import httpx

from autoledger.platform.auth.roles import Role
from tests.conftest import TenantKeys

Leg = tuple[str, str, str] | tuple[str, str, str, str]  # account, direction, amount[, asset]


@dataclass(frozen=True)
class Books:
    client: httpx.AsyncClient
    tenant: TenantKeys
    ledger_id: str
    currency: str = "EUR"

    def h(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return self.tenant.headers(role)

    async def entry(self, day: str, *legs: Leg, **extra: Any) -> dict[str, Any]:
        postings = [
            {
                "account": leg[0],
                "direction": leg[1],
                "amount": leg[2],
                "asset": leg[3] if len(leg) == 4 else self.currency,
            }
            for leg in legs
        ]
        r = await self.client.post(
            f"/v1/ledgers/{self.ledger_id}/entries",
            json={"postings": postings, "effective_date": day, **extra},
            headers=self.h(Role.ACCOUNTANT),
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def account(self, code: str, type_: str, **extra: Any) -> dict[str, Any]:
        r = await self.client.post(
            f"/v1/ledgers/{self.ledger_id}/accounts",
            json={"code": code, "name": code, "type": type_, **extra},
            headers=self.h(),
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def account_id(self, code: str) -> str:
        r = await self.client.get(
            f"/v1/ledgers/{self.ledger_id}/accounts", params={"limit": "500"}, headers=self.h()
        )
        assert r.status_code == 200, r.text
        return next(str(a["id"]) for a in r.json()["data"] if a["code"] == code)

    async def balance(self, code: str, as_of: str) -> dict[str, str]:
        """Posted balances per asset, on the account's normal side."""
        account_id = await self.account_id(code)
        r = await self.client.get(
            f"/v1/accounts/{account_id}/balance", params={"as_of": as_of}, headers=self.h()
        )
        assert r.status_code == 200, r.text
        return {b["asset"]: b["posted"] for b in r.json()["balances"]}

    async def period(self, name: str, start: str, end: str) -> str:
        r = await self.client.post(
            f"/v1/ledgers/{self.ledger_id}/periods",
            json={"name": name, "start_date": start, "end_date": end},
            headers=self.h(),
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def period_url(self, period_id: str) -> str:
        return f"/v1/ledgers/{self.ledger_id}/periods/{period_id}"

    async def checklist(self, period_id: str, role: Role = Role.VIEWER) -> dict[str, Any]:
        r = await self.client.get(f"{self.period_url(period_id)}/checklist", headers=self.h(role))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def item(self, period_id: str, code: str) -> dict[str, Any]:
        found = await self.checklist(period_id)
        return next(dict(i) for i in found["items"] if i["code"] == code)

    async def close(
        self, period_id: str, body: dict[str, Any] | None = None, role: Role = Role.ADMIN
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        return await self.client.post(
            f"{self.period_url(period_id)}:close", headers=self.h(role), **kwargs
        )

    async def reopen(
        self, period_id: str, body: dict[str, Any] | None = None, role: Role = Role.ADMIN
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        return await self.client.post(
            f"{self.period_url(period_id)}:reopen", headers=self.h(role), **kwargs
        )

    async def report(self, kind: str, **params: str) -> dict[str, Any]:
        r = await self.client.get(
            f"/v1/ledgers/{self.ledger_id}/reports/{kind}", params=params, headers=self.h()
        )
        assert r.status_code == 200, r.text
        return dict(r.json())


async def books(
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    *,
    currency: str = "EUR",
    metadata: dict[str, str] | None = None,
) -> Books:
    r = await client.post(
        "/v1/ledgers",
        json={
            "name": "Books",
            "base_currency": currency,
            "chart_template": "small_business",
            "metadata": metadata or {},
        },
        headers=tenant.headers(),
    )
    assert r.status_code == 201, r.text
    return Books(client, tenant, str(r.json()["id"]), currency)
