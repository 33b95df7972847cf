"""GET /v1/audit, /v1/audit/export and /v1/audit/verify: filters, cursor, scopes, tenancy."""

from datetime import timedelta

import httpx
import orjson

from autoledger.kit.clock import utcnow
from autoledger.platform.auth.roles import Role
from tests.conftest import TenantKeys, make_tenant


async def _keys(client: httpx.AsyncClient, tenant: TenantKeys, n: int) -> list[str]:
    ids = []
    for i in range(n):
        r = await client.post(
            "/v1/api-keys", json={"name": f"k{i}", "roles": ["viewer"]}, headers=tenant.headers()
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def test_filters_cursor_export_and_verify(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    start = utcnow()
    ids = await _keys(client, tenant, 5)
    revoked = await client.post(f"/v1/api-keys/{ids[0]}:revoke", headers=tenant.headers())
    assert revoked.status_code == 200
    auditor = tenant.headers(Role.AUDITOR)

    page = (await client.get("/v1/audit", params={"limit": 2}, headers=auditor)).json()
    assert [r["seq"] for r in page["data"]] == [1, 2]
    assert page["next_cursor"] == "2"
    rest = (
        await client.get("/v1/audit", params={"after_seq": page["next_cursor"]}, headers=auditor)
    ).json()
    assert [r["seq"] for r in rest["data"]] == [3, 4, 5, 6]
    assert rest["next_cursor"] is None
    assert rest["data"][0]["prev_hash"] == page["data"][1]["hash"]

    only = (
        await client.get("/v1/audit", params={"action": "auth.api_key.revoke"}, headers=auditor)
    ).json()["data"]
    assert [(r["target_type"], r["target_id"]) for r in only] == [("api_key", ids[0])]
    by_target = await client.get(
        "/v1/audit", params={"target_type": "api_key", "target_id": ids[1]}, headers=auditor
    )
    assert [r["action"] for r in by_target.json()["data"]] == ["auth.api_key.create"]
    admin_actor = only[0]["actor"]
    by_actor = await client.get("/v1/audit", params={"actor": admin_actor}, headers=auditor)
    assert len(by_actor.json()["data"]) == 6
    later = (start + timedelta(hours=1)).isoformat()
    window = {"since": start.isoformat(), "until": later}
    assert len((await client.get("/v1/audit", params=window, headers=auditor)).json()["data"]) == 6
    future = await client.get("/v1/audit", params={"since": later}, headers=auditor)
    assert future.json()["data"] == []
    too_many = await client.get("/v1/audit", params={"limit": 100_000}, headers=auditor)
    assert too_many.status_code == 422
    naive = await client.get("/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=auditor)
    assert naive.status_code == 422

    export = await client.get(
        "/v1/audit/export", params={"target_type": "api_key"}, headers=auditor
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in export.content.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert lines == page["data"] + rest["data"]

    verify = (await client.get("/v1/audit/verify", headers=auditor)).json()
    assert verify["ok"] is True
    assert (verify["records_checked"], verify["head_seq"]) == (6, 6)
    assert verify["head_hash"] == lines[-1]["hash"]


async def test_only_audit_readers_see_their_own_tenant(
    client: httpx.AsyncClient, tenant: TenantKeys, sessionmaker: object
) -> None:
    other = await make_tenant(sessionmaker)  # type: ignore[arg-type]
    await _keys(client, tenant, 2)
    for role in (Role.VIEWER, Role.ACCOUNTANT, Role.AGENT, Role.APPROVER):
        for path in ("/v1/audit", "/v1/audit/export", "/v1/audit/verify"):
            response = await client.get(path, headers=tenant.headers(role))
            assert response.status_code == 403, (role, path)
    for role in (Role.AUDITOR, Role.ADMIN):
        assert (await client.get("/v1/audit", headers=tenant.headers(role))).status_code == 200
    assert (
        len((await client.get("/v1/audit", headers=tenant.headers(Role.AUDITOR))).json()["data"])
        == 2
    )

    theirs = other.headers(Role.AUDITOR)
    assert (await client.get("/v1/audit", headers=theirs)).json()["data"] == []
    assert (await client.get("/v1/audit/export", headers=theirs)).content == b""
    verify = (await client.get("/v1/audit/verify", headers=theirs)).json()
    assert (verify["ok"], verify["records_checked"]) == (True, 0)
