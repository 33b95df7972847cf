"""The webhook API: endpoints CRUD, rotation, deliveries, tenancy, scopes and errors."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.api.app import create_app
from autoledger.kit.settings import Settings
from autoledger.platform.auth.roles import Role
from tests.conftest import TenantKeys, make_tenant
from tests.platform.webhooks.conftest import make_event, publish

PUBLIC_URL = "https://93.184.216.34/hooks"  # an IP literal: no DNS needed, and public
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
async def wh_app(wh_settings: Settings) -> AsyncIterator[FastAPI]:
    """The service on the webhook test database, with private targets refused (the default)."""
    app = create_app(wh_settings.model_copy(update={"webhook_allow_private_targets": False}))
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def wh_client(wh_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=wh_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _create(client: httpx.AsyncClient, tenant: TenantKeys, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks", json={"url": PUBLIC_URL, **body}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert body["code"] == code
    return body


async def test_endpoint_lifecycle(
    wh_client: httpx.AsyncClient, wh_tenant: TenantKeys, wh_sessionmaker: Maker
) -> None:
    created = await _create(
        wh_client, wh_tenant, description="books", event_types=["ledger.entry.*"]
    )
    assert created["secret"].startswith("whsec_")
    assert created["url"] == PUBLIC_URL
    assert created["event_types"] == ["ledger.entry.*"]
    assert created["enabled"] is True
    assert created["disabled_reason"] is None
    headers = wh_tenant.headers()

    fetched = (await wh_client.get(f"/v1/webhooks/{created['id']}", headers=headers)).json()
    assert "secret" not in fetched
    assert fetched["description"] == "books"
    listed = (await wh_client.get("/v1/webhooks", headers=headers)).json()
    assert [e["id"] for e in listed] == [created["id"]]
    assert all("secret" not in e for e in listed)

    patched = await wh_client.patch(
        f"/v1/webhooks/{created['id']}",
        json={"event_types": ["ledger.entry.posted.v1", "*"], "enabled": False},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["event_types"] == ["ledger.entry.posted.v1", "*"]
    assert patched.json()["enabled"] is False
    assert patched.json()["disabled_reason"]
    assert patched.json()["description"] == "books"  # untouched

    enabled = await wh_client.patch(
        f"/v1/webhooks/{created['id']}", json={"enabled": True}, headers=headers
    )
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] is None

    await publish(wh_sessionmaker, make_event(wh_tenant.id))
    deliveries = f"/v1/webhooks/{created['id']}/deliveries"
    [delivery] = (await wh_client.get(deliveries, headers=headers)).json()["data"]

    deleted = await wh_client.delete(f"/v1/webhooks/{created['id']}", headers=headers)
    assert deleted.status_code == 204
    gone = await wh_client.get(f"/v1/webhooks/{created['id']}", headers=headers)
    _problem(gone, 404, "webhooks.endpoint_not_found")
    # its deliveries went with it
    response = await wh_client.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=headers)
    _problem(response, 404, "webhooks.delivery_not_found")


async def test_rotating_the_secret(wh_client: httpx.AsyncClient, wh_tenant: TenantKeys) -> None:
    created = await _create(wh_client, wh_tenant)
    rotated = await wh_client.post(
        f"/v1/webhooks/{created['id']}:rotate-secret", headers=wh_tenant.headers()
    )
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != created["secret"]
    overlap = datetime.fromisoformat(body["previous_secret_expires_at"]) - datetime.fromisoformat(
        body["updated_at"]
    )
    assert overlap == timedelta(hours=24)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/hooks", "webhooks.invalid_url"),
        ("not a url", "webhooks.invalid_url"),
        ("http://127.0.0.1:8080/hooks", "webhooks.target_not_allowed"),
        ("http://10.0.0.7/hooks", "webhooks.target_not_allowed"),
        ("http://169.254.169.254/latest/meta-data/", "webhooks.target_not_allowed"),
        ("http://[::1]/hooks", "webhooks.target_not_allowed"),
    ],
)
async def test_bad_urls_are_refused_naming_the_field(
    wh_client: httpx.AsyncClient, wh_tenant: TenantKeys, url: str, code: str
) -> None:
    response = await wh_client.post("/v1/webhooks", json={"url": url}, headers=wh_tenant.headers())
    body = _problem(response, 422, code)
    assert [e["loc"] for e in body["errors"]] == ["body.url"]
    assert (await wh_client.get("/v1/webhooks", headers=wh_tenant.headers())).json() == []


async def test_patching_to_a_private_url_is_refused(
    wh_client: httpx.AsyncClient, wh_tenant: TenantKeys
) -> None:
    created = await _create(wh_client, wh_tenant)
    response = await wh_client.patch(
        f"/v1/webhooks/{created['id']}",
        json={"url": "http://192.168.0.10/hooks"},
        headers=wh_tenant.headers(),
    )
    _problem(response, 422, "webhooks.target_not_allowed")
    current = await wh_client.get(f"/v1/webhooks/{created['id']}", headers=wh_tenant.headers())
    assert current.json()["url"] == PUBLIC_URL


async def test_unknown_event_types_and_bad_payloads_are_refused(
    wh_client: httpx.AsyncClient, wh_tenant: TenantKeys
) -> None:
    response = await wh_client.post(
        "/v1/webhooks",
        json={"url": PUBLIC_URL, "event_types": ["ledger.entry.exploded.v1"]},
        headers=wh_tenant.headers(),
    )
    body = _problem(response, 422, "webhooks.unknown_event_type")
    assert body["errors"][0]["loc"] == "body.event_types.0"
    for payload in (
        {"url": PUBLIC_URL, "event_types": []},
        {"url": PUBLIC_URL, "secret": "whsec_mine"},
        {},
    ):
        response = await wh_client.post("/v1/webhooks", json=payload, headers=wh_tenant.headers())
        _problem(response, 422, "request.invalid")


async def test_scopes(wh_client: httpx.AsyncClient, wh_tenant: TenantKeys) -> None:
    created = await _create(wh_client, wh_tenant)
    for scope in (Role.VIEWER, Role.ACCOUNTANT):
        response = await wh_client.post(
            "/v1/webhooks", json={"url": PUBLIC_URL}, headers=wh_tenant.headers(scope)
        )
        _problem(response, 403, "auth.insufficient_scope")
        response = await wh_client.get("/v1/webhooks", headers=wh_tenant.headers(scope))
        _problem(response, 403, "auth.insufficient_scope")
    _problem(await wh_client.get("/v1/webhooks"), 401, "auth.invalid_key")
    deliveries = await wh_client.get(
        f"/v1/webhooks/{created['id']}/deliveries", headers=wh_tenant.headers(Role.VIEWER)
    )
    assert deliveries.status_code == 200, deliveries.text


async def test_idempotency_key_replays_the_creation(
    wh_client: httpx.AsyncClient, wh_tenant: TenantKeys
) -> None:
    headers = {**wh_tenant.headers(), "Idempotency-Key": "create-hook-1"}
    first = await wh_client.post("/v1/webhooks", json={"url": PUBLIC_URL}, headers=headers)
    again = await wh_client.post("/v1/webhooks", json={"url": PUBLIC_URL}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    listed = (await wh_client.get("/v1/webhooks", headers=wh_tenant.headers())).json()
    assert len(listed) == 1
    other = await wh_client.post(
        "/v1/webhooks", json={"url": PUBLIC_URL, "description": "x"}, headers=headers
    )
    _problem(other, 422, "idempotency.key_reused")


async def test_deliveries_are_paged_filtered_and_redelivered(
    wh_client: httpx.AsyncClient, wh_tenant: TenantKeys, wh_sessionmaker: Maker
) -> None:
    created = await _create(wh_client, wh_tenant)
    events = [make_event(wh_tenant.id) for _ in range(3)]
    for event in events:
        await publish(wh_sessionmaker, event)
    read = wh_tenant.headers(Role.VIEWER)
    url = f"/v1/webhooks/{created['id']}/deliveries"

    first = (await wh_client.get(url, params={"limit": 2}, headers=read)).json()
    assert [d["event_id"] for d in first["data"]] == [str(events[2].id), str(events[1].id)]
    assert first["next_cursor"] is not None
    second = (
        await wh_client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=read)
    ).json()
    assert [d["event_id"] for d in second["data"]] == [str(events[0].id)]
    assert second["next_cursor"] is None

    pending = (await wh_client.get(url, params={"status": "pending"}, headers=read)).json()
    assert len(pending["data"]) == 3
    failed = (await wh_client.get(url, params={"status": "failed"}, headers=read)).json()
    assert failed["data"] == []
    _problem(
        await wh_client.get(url, params={"status": "lost"}, headers=read), 422, "request.invalid"
    )
    _problem(await wh_client.get(url, params={"cursor": "x"}, headers=read), 422, "request.invalid")

    delivery_id = first["data"][0]["id"]
    detail = (await wh_client.get(f"/v1/webhook-deliveries/{delivery_id}", headers=read)).json()
    assert detail["status"] == "pending"
    assert detail["attempt_log"] == []

    redelivered = await wh_client.post(
        f"/v1/webhook-deliveries/{delivery_id}:redeliver",
        headers={**wh_tenant.headers(), "Idempotency-Key": "redeliver-1"},
    )
    assert redelivered.status_code == 202, redelivered.text
    assert redelivered.json()["status"] == "pending"
    _problem(
        await wh_client.post(f"/v1/webhook-deliveries/{delivery_id}:redeliver", headers=read),
        403,
        "auth.insufficient_scope",
    )

    await wh_client.patch(
        f"/v1/webhooks/{created['id']}", json={"enabled": False}, headers=wh_tenant.headers()
    )
    refused = await wh_client.post(
        f"/v1/webhook-deliveries/{delivery_id}:redeliver", headers=wh_tenant.headers()
    )
    _problem(refused, 409, "webhooks.endpoint_disabled")


async def test_another_tenants_ids_are_not_found(
    wh_client: httpx.AsyncClient, wh_tenant: TenantKeys, wh_sessionmaker: Maker
) -> None:
    created = await _create(wh_client, wh_tenant)
    await publish(wh_sessionmaker, make_event(wh_tenant.id))
    [delivery] = (
        await wh_client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=wh_tenant.headers())
    ).json()["data"]

    other = await make_tenant(wh_sessionmaker)
    headers = other.headers()
    endpoint = f"/v1/webhooks/{created['id']}"
    assert (await wh_client.get("/v1/webhooks", headers=headers)).json() == []
    for response in (
        await wh_client.get(endpoint, headers=headers),
        await wh_client.patch(endpoint, json={"description": "mine"}, headers=headers),
        await wh_client.delete(endpoint, headers=headers),
        await wh_client.post(f"{endpoint}:rotate-secret", headers=headers),
        await wh_client.get(f"{endpoint}/deliveries", headers=headers),
    ):
        _problem(response, 404, "webhooks.endpoint_not_found")
    for response in (
        await wh_client.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=headers),
        await wh_client.post(f"/v1/webhook-deliveries/{delivery['id']}:redeliver", headers=headers),
    ):
        _problem(response, 404, "webhooks.delivery_not_found")
    still = await wh_client.get(endpoint, headers=wh_tenant.headers())
    assert still.json()["description"] == ""


async def test_the_routes_are_documented(wh_app: FastAPI) -> None:
    spec = wh_app.openapi()
    assert "webhooks.target_not_allowed" in str(spec["paths"]["/v1/webhooks"]["post"]["responses"])
    assert "/v1/webhooks/{endpoint_id}:rotate-secret" in spec["paths"]
    assert "/v1/webhook-deliveries/{delivery_id}:redeliver" in spec["paths"]
