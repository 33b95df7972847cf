"""Abuse limits every request meets before a route runs — body size, JSON nesting, UTF-8, a
deadline — and the headers a browser gets: security headers, and CORS only when configured."""

import asyncio
import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Column, MetaData, String, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from autoledger.api.app import create_app
from autoledger.api.deps import Session
from autoledger.api.middleware import TooDeeplyNested, check_json_depth
from autoledger.db.engine import create_engine
from autoledger.db.tenancy import system_settings
from autoledger.kit.settings import Settings
from tests.api.test_errors_and_observability import assert_problem, serving
from tests.conftest import APP_ROLE, make_settings, postgres_database


def nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"[1]" + b"}" * (depth - 1)


# JSON nesting: the scanner


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        pytest.param(b"{}", 1, id="empty-object"),
        pytest.param(b"[" * 40 + b"]" * 40, 40, id="arrays"),
        pytest.param(nested(40), 40, id="objects"),
        pytest.param(b"[]" * 1000, 1, id="wide"),
        pytest.param(b'{"s": "' + b"[" * 100 + b'"}', 1, id="brackets-in-a-string"),
        pytest.param(b'["\\"' + b"[" * 100 + b'"]', 1, id="escaped-quote-in-a-string"),
        pytest.param(b'["\\\\"' + b",[" * 40 + b"]" * 41, 41, id="escaped-backslash-ends-a-string"),
        pytest.param(b"[" * 40, 40, id="unclosed"),
        pytest.param(b"[" * 20 + b"[]" * 30 + b"]" * 10, 21, id="unbalanced"),
        pytest.param(b'["' + b"[" * 100, 1, id="unterminated-string"),
    ],
)
@pytest.mark.parametrize("limit", [1, 20, 32, 40, 41])
def test_the_nesting_scan_counts_structure_outside_strings(
    body: bytes, depth: int, limit: int
) -> None:
    if depth > limit:
        with pytest.raises(TooDeeplyNested):
            check_json_depth(body, limit)
    else:
        check_json_depth(body, limit)


def test_the_nesting_scan_costs_less_than_parsing() -> None:
    body = b"[" + b'{"k":[1,2,{"x":"[[[["}],"s":"\\"{"},' * 100_000 + b"{}]"
    started = time.perf_counter()
    json.loads(body)
    parsing = time.perf_counter() - started
    started = time.perf_counter()
    check_json_depth(body, 32)
    with pytest.raises(TooDeeplyNested):
        check_json_depth(body[:-1] + b"[" * 40 + b"]" * 40 + b"]", 32)
    assert time.perf_counter() - started < 2 * parsing


# Through the API: refused before authentication or parsing


async def test_a_deeply_nested_body_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/ledgers", content=nested(33), headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 422, "request.too_deeply_nested")
    assert "32" in body["detail"]


async def test_nesting_at_the_limit_reaches_the_route(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/ledgers", content=nested(32), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 401, "auth.invalid_key")


async def test_a_json_suffix_media_type_is_checked_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/ledgers",
        content=nested(33),
        headers={"Content-Type": "application/merge-patch+json; charset=utf-8"},
    )
    assert_problem(response, 422, "request.too_deeply_nested")


async def test_a_body_that_is_not_utf8_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/ledgers",
        content=b'{"name": "caf\xe9"}',
        headers={"Content-Type": "application/json"},
    )
    body = assert_problem(response, 400, "request.invalid_encoding")
    assert "UTF-8" in body["detail"]


async def test_an_oversized_json_body_is_still_a_413(settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 1024})
    async with serving(create_app(small)) as http:
        json_type = {"Content-Type": "application/json"}
        declared = await http.post(
            "/v1/ledgers", content=b"[" + b"1," * 2048 + b"1]", headers=json_type
        )
        assert_problem(declared, 413, "http.payload_too_large")

        async def chunks() -> AsyncIterator[bytes]:
            yield b"["
            for _ in range(8):
                yield b"1," * 256
            yield b"1]"

        streamed = await http.post("/v1/ledgers", content=chunks(), headers=json_type)
        assert_problem(streamed, 413, "http.payload_too_large")


# The deadline


async def test_a_slow_request_is_a_503_and_its_transaction_rolls_back(
    settings: Settings, engine: AsyncEngine
) -> None:
    config = settings.model_copy(update={"request_timeout_seconds": 0.5})
    application = create_app(config)
    metadata = MetaData()  # a table of this test's own: no tenancy rules apply to it
    probe = Table(f"timeout_probe_{uuid.uuid4().hex[:12]}", metadata, Column("note", String(20)))

    async def slow(session: Session) -> None:
        await session.execute(probe.insert().values(note="uncommitted"))
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("SELECT pg_sleep(10)"))  # cancelled mid-query
        else:
            await asyncio.sleep(10)

    application.add_api_route("/test/slow", slow)
    async with serving(application) as http:
        async with engine.begin() as connection:  # the owner creates it for the request role
            await connection.run_sync(metadata.create_all)
            if not settings.is_sqlite:
                await connection.execute(
                    text(f'GRANT INSERT, SELECT ON "{probe.name}" TO {APP_ROLE}')
                )
        try:
            started = time.perf_counter()
            response = await http.get("/test/slow")
            assert time.perf_counter() - started < 5
            body = assert_problem(response, 503, "request.timeout")
            assert "0.5 seconds" in body["detail"]
            assert response.headers["x-content-type-options"] == "nosniff"

            pool = application.state.engine.pool
            async with asyncio.timeout(5):
                while pool.checkedout():  # the connection went back (or was discarded)
                    await asyncio.sleep(0.02)
            async with engine.connect() as connection:
                rows = await connection.execute(select(func.count()).select_from(probe))
                assert rows.scalar_one() == 0
            assert (await http.get("/healthz")).status_code == 200
        finally:
            async with engine.begin() as connection:
                await connection.run_sync(metadata.drop_all)


@pytest.mark.postgres
async def test_every_postgres_connection_has_a_statement_timeout(tmp_path: Path) -> None:
    async with postgres_database() as url:
        config = make_settings(url, tmp_path).model_copy(
            update={"db_statement_timeout_seconds": 2.5}
        )
        engine = create_engine(system_settings(config))
        try:
            async with engine.connect() as connection:
                value = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
        finally:
            await engine.dispose()
    assert value == "2500ms"


# Security headers

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
}


@pytest.mark.parametrize("path", ["/v1/whoami", "/v1/no-such-thing", "/healthz", "/openapi.json"])
async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.headers.items() >= COMMON_HEADERS.items()
    assert "camera=()" in response.headers["permissions-policy"]
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    if path.startswith("/v1/"):
        assert response.headers["cache-control"] == "no-store"
    else:
        assert "no-store" not in response.headers.get("cache-control", "")


async def test_the_docs_page_may_load_swagger_ui_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers.items() >= COMMON_HEADERS.items()
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    html = response.text
    for src in re.findall(r'<script src="([^"]+)"', html):
        assert src.startswith("https://cdn.jsdelivr.net/"), src
        assert "https://cdn.jsdelivr.net" in policy["script-src"].split()
    for href in re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', html):
        assert href.split("/npm/")[0] in policy["style-src"].split()
    inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert inline, "Swagger UI is started by an inline script"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"].split()
    assert "'self'" in policy["connect-src"]  # "Try it out" calls the API
    assert int(response.headers["content-length"]) == len(response.content)


# CORS


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/v1/whoami",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = await client.get("/healthz", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_allows_exactly_the_configured_origins(settings: Settings) -> None:
    config = settings.model_copy(update={"cors_origins": ["https://app.example"]})
    async with serving(create_app(config)) as http:
        preflight = await http.options(
            "/v1/whoami",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-credentials" not in preflight.headers
        assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()

        simple = await http.get("/v1/whoami", headers={"Origin": "https://app.example"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()

        foreign = await http.options(
            "/v1/whoami",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert foreign.status_code == 400
        assert "access-control-allow-origin" not in foreign.headers
        other = await http.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
