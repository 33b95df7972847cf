"""What every client and operator relies on across routes: authentication and scopes, one
problem+json shape for every error, request and trace ids, health, metrics and the contract."""

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPBearer
from fastapi.security.base import SecurityBase
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.exc import DBAPIError

from autoledger.api.app import create_app
from autoledger.api.deps import LedgerReader
from autoledger.db.migrate import head_revision
from autoledger.kit.settings import Settings
from autoledger.platform.auth.roles import ROLE_SCOPES, Role, Scope
from tests.conftest import TenantKeys, make_settings

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The RFC 9457 shape every error shares; returns the body for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:autoledger:problem:{code}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@asynccontextmanager
async def serving(application: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app of the test's own, started and stopped through its lifespan."""
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# Authentication


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-key"),
        pytest.param(bearer("not-a-key"), id="malformed"),
        pytest.param(bearer("al_0123456789ab_" + "A" * 43), id="unknown-prefix"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-scheme"),
    ],
)
async def test_a_request_without_a_valid_key_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/v1/whoami", headers=headers)
    assert_problem(response, 401, "auth.invalid_key")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_known_prefix_with_the_wrong_secret_is_401(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    prefix = tenant.keys[Role.VIEWER].rsplit("_", 1)[0]
    response = await client.get("/v1/whoami", headers=bearer(f"{prefix}_{'B' * 43}"))
    assert_problem(response, 401, "auth.invalid_key")


@pytest.mark.parametrize("cache_seconds", [0, 60])
async def test_a_key_revoked_through_the_api_stops_working_at_once(
    settings: Settings, tenant: TenantKeys, cache_seconds: float
) -> None:
    # With the principal cache on, the revoking process must still forget the key at once.
    config = settings.model_copy(update={"api_key_cache_seconds": cache_seconds})
    async with serving(create_app(config)) as http:
        created = await http.post(
            "/v1/api-keys",
            json={"name": "short-lived", "roles": ["viewer"]},
            headers=tenant.headers(Role.ADMIN),
        )
        assert created.status_code == 201, created.text
        key = created.json()
        assert (await http.get("/v1/whoami", headers=bearer(key["key"]))).status_code == 200

        revoked = await http.post(
            f"/v1/api-keys/{key['id']}:revoke", headers=tenant.headers(Role.ADMIN)
        )
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"] is not None

        response = await http.get("/v1/whoami", headers=bearer(key["key"]))
    assert_problem(response, 401, "auth.invalid_key")


# Scopes


@pytest.mark.parametrize("scope", [Role.VIEWER, Role.ACCOUNTANT])
async def test_listing_keys_needs_the_admin_scope(
    client: httpx.AsyncClient, tenant: TenantKeys, scope: Role
) -> None:
    response = await client.get("/v1/api-keys", headers=tenant.headers(scope))
    body = assert_problem(response, 403, "auth.insufficient_scope")
    assert "keys:manage" in body["detail"]


async def test_a_write_key_cannot_create_keys(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await client.post(
        "/v1/api-keys",
        json={"name": "escalation", "roles": ["admin"]},
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert_problem(response, 403, "auth.insufficient_scope")
    listed = await client.get("/v1/api-keys", headers=tenant.headers(Role.ADMIN))
    assert "escalation" not in {key["name"] for key in listed.json()}


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_may_ask_who_it_is(
    client: httpx.AsyncClient, tenant: TenantKeys, role: Role
) -> None:
    response = await client.get("/v1/whoami", headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == [role.value]
    assert response.json()["scopes"] == sorted(s.value for s in ROLE_SCOPES[role])


async def test_admin_lists_only_its_own_tenants_keys(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await client.get("/v1/api-keys", headers=tenant.headers(Role.ADMIN))
    assert response.status_code == 200, response.text
    listed = response.json()
    assert sorted(key["name"] for key in listed) == sorted(role.value for role in Role)
    assert all("key" not in key and "secret_hash" not in key for key in listed)


# Problem details


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/no-such-thing")
    assert_problem(response, 404, "http.not_found")


async def test_an_unknown_key_id_is_a_domain_404_problem(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await client.post(
        f"/v1/api-keys/{uuid.uuid4()}:revoke", headers=tenant.headers(Role.ADMIN)
    )
    assert_problem(response, 404, "api_keys.not_found")


async def test_a_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/whoami")
    assert_problem(response, 405, "http.method_not_allowed")
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"roles": ["viewer"]}, "body.name", id="missing"),
        pytest.param({"name": "k", "roles": ["root"]}, "body.roles.0", id="bad-enum"),
        pytest.param({"name": "k", "roles": []}, "body.roles", id="too-short"),
        pytest.param({"name": "k", "roles": ["viewer"], "owner": "me"}, "body.owner", id="extra"),
    ],
)
async def test_an_invalid_body_is_a_422_problem_naming_the_field(
    client: httpx.AsyncClient, tenant: TenantKeys, payload: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/api-keys", json=payload, headers=tenant.headers())
    body = assert_problem(response, 422, "request.invalid")
    assert field in [error["loc"] for error in body["errors"]]
    assert all(error["message"] and error["type"] for error in body["errors"])
    assert field in body["detail"]


async def test_an_unhandled_exception_is_a_500_problem_without_internals(
    settings: Settings,
) -> None:
    application = create_app(settings)

    async def explode() -> None:
        raise RuntimeError("internal detail: password=hunter2")

    application.add_api_route("/test/explode", explode)
    async with serving(application) as http:
        response = await http.get("/test/explode", headers={"X-Request-ID": "req-500"})
        body = assert_problem(response, 500, "internal.error")
        assert response.headers["x-request-id"] == "req-500"
        assert body["request_id"] == "req-500"
        for internal in ("hunter2", "RuntimeError", "Traceback", "explode"):
            assert internal not in response.text
        # The app keeps serving after the failure.
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    "lost",
    [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        ConnectionResetError("reset by peer"),
    ],
)
async def test_a_database_that_goes_away_is_a_503_to_retry(
    settings: Settings, lost: Exception
) -> None:
    """A restart or failover of PostgreSQL mid-request rolled the transaction back: the
    client is told to retry (503 with Retry-After, which the SDK retries), not a 500."""
    application = create_app(settings)

    async def query() -> None:
        raise DBAPIError("SELECT 1", None, lost)

    async def other() -> None:
        raise DBAPIError("SELECT 1", None, ValueError("invalid input syntax"))

    application.add_api_route("/test/query", query)
    application.add_api_route("/test/other", other)
    async with serving(application) as http:
        response = await http.get("/test/query")
        body = assert_problem(response, 503, "service.database_unavailable")
        assert response.headers["retry-after"] == "1"
        assert "retry" in body["detail"]
        assert_problem(await http.get("/test/other"), 500, "internal.error")


async def test_a_deadlock_is_a_503_to_retry(settings: Settings) -> None:
    """PostgreSQL undid the transaction (class 40): retrying the whole request is safe."""
    application = create_app(settings)

    class Wrapped(Exception):
        """What SQLAlchemy's asyncpg adapter puts in ``orig``: the driver's error as cause."""

    async def deadlock() -> None:
        orig = Wrapped("deadlock")
        orig.__cause__ = asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        raise DBAPIError("UPDATE ledgers", None, orig)

    application.add_api_route("/test/deadlock", deadlock)
    async with serving(application) as http:
        response = await http.get("/test/deadlock")
        assert_problem(response, 503, "service.transaction_aborted")
        assert response.headers["retry-after"] == "1"


# Request and trace ids


async def test_a_valid_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "client-42.a:b"})
    assert response.headers["x-request-id"] == "client-42.a:b"


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(None, id="absent"),
        pytest.param("has spaces", id="spaces"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param("<script>", id="markup"),
    ],
)
async def test_a_missing_or_invalid_request_id_is_replaced(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-ID": given}
    response = await client.get("/v1/no-such-thing", headers=headers)
    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(request_id)
    assert response.json()["request_id"] == request_id


async def test_a_valid_traceparent_keeps_its_trace_id(client: httpx.AsyncClient) -> None:
    trace_id, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = await client.get(
        "/healthz", headers={"traceparent": f"00-{trace_id}-{parent_span}-01"}
    )
    match = TRACEPARENT.fullmatch(response.headers["traceparent"])
    assert match is not None
    assert match.group(1) == trace_id
    assert match.group(2) != parent_span
    assert match.group(3) == "01"


@pytest.mark.parametrize(
    "given",
    [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    ],
)
async def test_an_invalid_traceparent_starts_a_new_trace(
    client: httpx.AsyncClient, given: str
) -> None:
    response = await client.get("/healthz", headers={"traceparent": given})
    match = TRACEPARENT.fullmatch(response.headers["traceparent"])
    assert match is not None
    assert match.group(1) not in given
    assert match.group(1) != "0" * 32


# Health and readiness


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_at_the_migration_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "migrations": "at_head",
        "revision": head_revision(),
        "head": head_revision(),
    }


async def test_readyz_is_503_behind_on_an_unmigrated_database(tmp_path: Path) -> None:
    config = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path)
    async with serving(create_app(config)) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "database": "ok",
        "migrations": "behind",
        "revision": None,
        "head": head_revision(),
    }


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    config = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", tmp_path)
    async with serving(create_app(config)) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "unreachable"
    assert body["status"] == "not_ready"


# Metrics


def _samples(text: str, name: str) -> list[Sample]:
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def _value(samples: list[Sample], **labels: str) -> float:
    matching = [s.value for s in samples if labels.items() <= s.labels.items()]
    assert matching, f"no sample with {labels}"
    return sum(matching)


async def test_metrics_label_requests_by_route_template(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    key_id = uuid.uuid4()
    raw_unknown = f"/v1/unknown-{uuid.uuid4().hex}"
    await client.post(f"/v1/api-keys/{key_id}:revoke", headers=tenant.headers(Role.ADMIN))
    await client.get("/v1/whoami", headers=tenant.headers(Role.VIEWER))
    await client.get(raw_unknown)

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    # Raw paths carry ids; only templates may become labels.
    assert str(key_id) not in text
    assert raw_unknown not in text

    requests = _samples(text, "autoledger_http_requests_total")
    revoke = "/v1/api-keys/{key_id}:revoke"
    assert _value(requests, method="POST", route=revoke, status="404") >= 1
    assert _value(requests, method="GET", route="/v1/whoami", status="200") >= 1
    assert _value(requests, method="GET", route="unmatched", status="404") >= 1

    buckets = _samples(text, "autoledger_http_request_duration_seconds_bucket")
    assert _value(buckets, method="GET", route="/v1/whoami", le="+Inf") >= 1
    counts = _samples(text, "autoledger_http_request_duration_seconds_count")
    assert _value(counts, method="POST", route=revoke) >= 1

    # The scrape itself is in flight while the gauge is read.
    assert _value(_samples(text, "autoledger_http_requests_in_flight")) >= 1


# The contract


async def test_the_openapi_document_and_docs_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "autoledger"
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    v1_operations = [
        operation
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for operation in item.values()
    ]
    assert v1_operations
    assert all(operation.get("security") for operation in v1_operations)

    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in docs.text


def _required_scopes(dependant: Dependant, inherited: tuple[str, ...] = ()) -> set[str]:
    """Scopes with which a security scheme is required anywhere in the dependency tree."""
    scopes = (*inherited, *(dependant.own_oauth_scopes or ()))
    found = set(scopes) if isinstance(dependant.call, SecurityBase) else set()
    for dependency in dependant.dependencies:
        found |= _required_scopes(dependency, scopes)
    return found


def v1_routes(application: FastAPI) -> dict[str, Dependant]:
    """Every /v1 operation (as mounted, router and include dependencies applied) by name."""
    found = {}
    for route in iter_route_contexts(application.routes):
        if isinstance(route.original_route, APIRoute) and (route.path or "").startswith("/v1/"):
            dependant = route.dependant
            assert isinstance(dependant, Dependant)
            found[f"{','.join(sorted(route.methods or ()))} {route.path}"] = dependant
    return found


def unscoped_v1_routes(application: FastAPI) -> list[str]:
    scopes = {scope.value for scope in Scope}  # every fine scope a route may declare
    return [
        name
        for name, dependant in v1_routes(application).items()
        if not _required_scopes(dependant) & scopes
    ]


async def test_every_v1_route_requires_a_scope(app: FastAPI) -> None:
    assert "GET /v1/whoami" in v1_routes(app)
    assert unscoped_v1_routes(app) == []


def test_the_scope_check_catches_an_unscoped_route() -> None:
    async def reader(principal: LedgerReader) -> None: ...

    router = APIRouter(prefix="/v1")

    @router.get("/scoped")
    async def scoped(principal: LedgerReader) -> None: ...

    @router.get("/open")
    async def open_route() -> None: ...

    @router.get("/any-bearer")
    async def any_bearer(token: Annotated[object, Security(HTTPBearer())]) -> None: ...

    guarded = APIRouter(prefix="/v1/guarded")

    @guarded.get("/by-include")
    async def by_include() -> None: ...

    application = FastAPI()
    application.include_router(router)
    application.include_router(guarded, dependencies=[Depends(reader)])
    assert set(v1_routes(application)) == {
        "GET /v1/scoped",
        "GET /v1/open",
        "GET /v1/any-bearer",
        "GET /v1/guarded/by-include",
    }
    assert sorted(unscoped_v1_routes(application)) == ["GET /v1/any-bearer", "GET /v1/open"]


async def test_oversized_body_is_refused_with_413(settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 1024})
    application = create_app(small)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            declared = await http.post("/v1/ledgers", content=b"x" * 4096)
            assert declared.status_code == 413
            assert declared.json()["code"] == "http.payload_too_large"

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(8):
                    yield b"y" * 512

            streamed = await http.post("/v1/ledgers", content=chunks())
            assert streamed.status_code == 413
            assert streamed.json()["code"] == "http.payload_too_large"
