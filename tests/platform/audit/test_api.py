"""Every successful mutating request writes exactly one audit record in its transaction
(batches one per entry); refusals and replays write none. The read routes: filters, cursor,
export, verify, scopes and tenancy."""

import uuid
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.platform.audit import service as audit
from autoledger.platform.auth.roles import Role
from autoledger.platform.events.envelope import make_event
from autoledger.platform.events.tables import DeadLetter
from tests.conftest import TenantKeys
from tests.platform.audit.conftest import audit_records
from tests.platform.events.support import _Ping

Maker = async_sessionmaker[AsyncSession]
PUBLIC_URL = "https://93.184.216.34/hooks"

# Mutating routes written through the journal: audited per applied command, not per request.
JOURNAL_ROUTES = {
    "create_entry",
    "create_entries_batch",
    "post_entry",
    "void_entry",
    "reverse_entry",
}
# Exercised elsewhere (needs a failed webhook delivery): through the same write() helper.
NOT_EXERCISED = {"redeliver"}


class Audited:
    """Calls the API and checks how many audit records each call added."""

    def __init__(self, client: httpx.AsyncClient, sm: Maker, tenant: TenantKeys) -> None:
        self.client, self.sm, self.tenant = client, sm, tenant
        self.seen = 0

    async def __call__(
        self, method: str, url: str, *, records: int = 1, status: int | None = None, **kw: Any
    ) -> Any:
        headers = {**self.tenant.headers(), **kw.pop("headers", {})}
        response = await self.client.request(method, url, headers=headers, **kw)
        assert response.status_code < 300 if status is None else response.status_code == status, (
            response.text
        )
        rows = await audit_records(self.sm, self.tenant.id)
        added = rows[self.seen :]
        assert len(added) == records, [r.action for r in added]
        self.seen = len(rows)
        for row in added:
            assert row.actor.startswith("key:")
            assert row.actor_type == "api_key"
            assert row.request_id == response.headers["x-request-id"]
        return (response.json() if response.content else None), added


def _mutating_routes(app: FastAPI) -> set[str]:
    return {
        route.name
        for route in app.routes
        if isinstance(route, APIRoute) and route.methods & {"POST", "PUT", "PATCH", "DELETE"}
    }


def _entry(amount: str = "10.00", **extra: Any) -> dict[str, Any]:
    return {
        "postings": [
            {"account": "1110", "direction": "debit", "amount": amount, "asset": "USD"},
            {"account": "4100", "direction": "credit", "amount": amount, "asset": "USD"},
        ],
        **extra,
    }


async def test_every_mutating_route_writes_one_record(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: Maker, tenant: TenantKeys
) -> None:
    call = Audited(client, sessionmaker, tenant)
    exercised: set[str] = set()

    async def hit(name: str, method: str, url: str, **kw: Any) -> Any:
        exercised.add(name)
        return await call(method, url, **kw)

    await hit(
        "define_asset", "POST", "/v1/assets", json={"code": "PTS", "scale": 0, "name": "Points"}
    )
    ledger, [row] = await hit(
        "create_ledger",
        "POST",
        "/v1/ledgers",
        json={"name": "Books", "base_currency": "USD", "chart_template": "small_business"},
    )
    assert (row.action, row.target_type, row.target_id) == (
        "ledger.ledger.create",
        "ledger",
        ledger["id"],
    )
    lid = ledger["id"]
    account, [row] = await hit(
        "create_account",
        "POST",
        f"/v1/ledgers/{lid}/accounts",
        json={"code": "1999", "name": "Float", "type": "asset"},
    )
    assert (row.action, row.target_id) == ("ledger.account.create", account["id"])
    _, [row] = await hit(
        "update_account", "PATCH", f"/v1/accounts/{account['id']}", json={"name": "Petty cash"}
    )
    assert (row.action, row.target_type, row.target_id) == (
        "ledger.account.update",
        "account",
        account["id"],
    )
    await hit(
        "import_chart",
        "POST",
        f"/v1/ledgers/{lid}/accounts:import",
        content="code,name,type\n1998,Till,asset\n",
        headers={"Content-Type": "text/csv"},
    )

    entry, [row] = await hit("create_entry", "POST", f"/v1/ledgers/{lid}/entries", json=_entry())
    assert (row.action, row.target_type, row.target_id) == (
        "ledger.entry.create",
        "journal_entry",
        entry["id"],
    )
    assert row.details == {"ledger_id": lid, "log_seq": entry["seq"]}
    hold, _ = await hit(
        "create_entry", "POST", f"/v1/ledgers/{lid}/entries", json=_entry(status="pending")
    )
    _, [row] = await hit("post_entry", "POST", f"/v1/entries/{hold['id']}:post")
    assert (row.action, row.target_id) == ("ledger.entry.post", hold["id"])
    hold, _ = await call("POST", f"/v1/ledgers/{lid}/entries", json=_entry(status="pending"))
    _, [row] = await hit("void_entry", "POST", f"/v1/entries/{hold['id']}:void")
    assert row.action == "ledger.entry.void"
    reversal, [row] = await hit("reverse_entry", "POST", f"/v1/entries/{entry['id']}:reverse")
    assert (row.action, row.target_id) == ("ledger.entry.reverse", reversal["id"])
    assert row.details["reverses_id"] == entry["id"]
    batch, rows = await hit(
        "create_entries_batch",
        "POST",
        f"/v1/ledgers/{lid}/entries:batch",
        json={"entries": [_entry(str(i)) for i in range(1, 4)]},
        records=3,
    )
    assert [r.target_id for r in rows] == [item["entry"]["id"] for item in batch["items"]]

    period, _ = await hit(
        "create_period",
        "POST",
        f"/v1/ledgers/{lid}/periods",
        json={"name": "2020", "start_date": "2020-01-01", "end_date": "2020-12-31"},
    )
    _, [row] = await hit("close_period", "POST", f"/v1/ledgers/{lid}/periods/{period['id']}:close")
    assert (row.action, row.target_id) == ("ledger.period.close", period["id"])
    await hit("reopen_period", "POST", f"/v1/ledgers/{lid}/periods/{period['id']}:reopen")

    key, [row] = await hit(
        "create_api_key", "POST", "/v1/api-keys", json={"name": "ci", "roles": ["viewer"]}
    )
    assert (row.action, row.target_type, row.target_id) == (
        "auth.api_key.create",
        "api_key",
        key["id"],
    )
    assert key["key"] not in orjson.dumps(row.details).decode()  # no secret in the log
    rotated, [row] = await hit("rotate_api_key", "POST", f"/v1/api-keys/{key['id']}:rotate")
    assert row.details["params"] == {"key_id": key["id"]}
    await hit("revoke_api_key", "POST", f"/v1/api-keys/{rotated['id']}:revoke")

    hook, [row] = await hit("create_endpoint", "POST", "/v1/webhooks", json={"url": PUBLIC_URL})
    assert (row.action, row.target_type, row.target_id) == (
        "webhooks.endpoint.create",
        "webhook_endpoint",
        hook["id"],
    )
    await hit("update_endpoint", "PATCH", f"/v1/webhooks/{hook['id']}", json={"description": "x"})
    await hit("rotate_secret", "POST", f"/v1/webhooks/{hook['id']}:rotate-secret")
    _, [row] = await hit("delete_endpoint", "DELETE", f"/v1/webhooks/{hook['id']}")
    assert (row.action, row.target_id) == ("webhooks.endpoint.delete", hook["id"])

    letter_id = await _dead_letter(sessionmaker, tenant)
    _, [row] = await hit("replay_dead_letter", "POST", f"/v1/dead-letters/{letter_id}:replay")
    assert (row.action, row.target_type, row.target_id) == (
        "events.dead_letter.replay",
        "dead_letter",
        str(letter_id),
    )

    unexercised = _mutating_routes(app) - exercised - NOT_EXERCISED
    assert not unexercised, f"mutating routes without an audit check: {sorted(unexercised)}"
    assert exercised >= JOURNAL_ROUTES
    async with sessionmaker() as session:
        assert (await audit.verify(session, tenant.id)).ok


async def _dead_letter(sm: Maker, tenant: TenantKeys) -> uuid.UUID:
    event = make_event(
        event_type="test.ping.v1",
        tenant_id=tenant.id,
        subject="pings/1",
        data=_Ping(n=1),
        ordering_key="k",
    )
    async with sm() as session:
        letter = DeadLetter(
            tenant_id=tenant.id,
            consumer="test.broken",
            event_id=event.id,
            event_type=event.type,
            body=event.to_json(),
            error="RuntimeError: boom",
            attempts=8,
            status="dead",
            created_at=utcnow(),
        )
        session.add(letter)
        await session.commit()
        return letter.id


async def test_refusals_and_replays_write_no_record(
    client: httpx.AsyncClient, sessionmaker: Maker, tenant: TenantKeys
) -> None:
    call = Audited(client, sessionmaker, tenant)
    ledger, _ = await call(
        "POST",
        "/v1/ledgers",
        json={"name": "Books", "base_currency": "USD", "chart_template": "small_business"},
    )
    lid = ledger["id"]
    entries = f"/v1/ledgers/{lid}/entries"
    await call("POST", entries, json=_entry(account="9999"), records=0, status=422)
    await call(
        "POST", "/v1/ledgers", json={"name": "X", "base_currency": "ZZZZ"}, records=0, status=422
    )
    await call("POST", f"/v1/api-keys/{uuid.uuid4()}:revoke", records=0, status=404)
    await call(
        "POST",
        f"/v1/ledgers/{lid}/accounts",
        json={"code": "1110", "name": "Dup", "type": "asset"},
        records=0,
        status=409,
    )
    # a 403 never reaches the route
    response = await client.post(
        "/v1/api-keys", json={"name": "x", "roles": ["viewer"]}, headers=tenant.headers(Role.VIEWER)
    )
    assert response.status_code == 403
    # an Idempotency-Key replay returns the stored response and writes nothing
    headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first, _ = await call("POST", entries, json=_entry(), headers=headers)
    again, _ = await call("POST", entries, json=_entry(), headers=headers, records=0)
    assert again == first
    # a client-id replay through the journal writes nothing either
    await call("POST", entries, json=_entry(id="inv-1"))
    await call("POST", entries, json=_entry(id="inv-1"), records=0, status=200)
    batch = {"entries": [_entry(id="inv-1"), _entry(id="inv-2")]}
    await call("POST", f"/v1/ledgers/{lid}/entries:batch", json=batch, records=1)
    # an atomic batch with a failure writes nothing
    batch = {"atomic": True, "entries": [_entry(), _entry(account="nope")]}
    await call("POST", f"/v1/ledgers/{lid}/entries:batch", json=batch, records=0, status=422)
    await call("POST", f"/v1/entries/{first['id']}:void", records=0, status=409)
