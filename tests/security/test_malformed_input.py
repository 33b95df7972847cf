"""Malformed and hostile input: bad credentials, oversized, deep, badly encoded or oddly
typed bodies, and injection strings in every free-text field. Each is refused with a clear
problem (the same on SQLite and PostgreSQL) or stored and returned verbatim; never a 500."""

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.kit.settings import Settings
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import assert_problem, bearer
from tests.conftest import TenantKeys
from tests.security.support import entry_body

WHOAMI = "/v1/whoami"


def _almost(key: str) -> list[str]:
    """Keys one slip away from ``key``."""
    last = "B" if key[-1] != "B" else "C"
    prefix, secret = key.rsplit("_", 1)
    return [
        key[:-1] + last,  # one character of the secret
        key + "A",  # one too many
        key[:-1],  # one too few
        f"{prefix.upper()}_{secret}",  # the prefix in capitals
        key.replace("al_", "AL_", 1),
        f"{key},{key}",
    ]


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(b"al_0123456789ab_" + b"A" * 43, id="no-scheme"),
        pytest.param(b"Basic dXNlcjpwYXNz", id="basic"),
        pytest.param(b"Bearer", id="bearer-alone"),
        pytest.param(b"Bearer ", id="bearer-empty"),
        pytest.param(b"Bearer    ", id="bearer-spaces"),
        pytest.param(b"Bearer " + b"A" * 64_000, id="bearer-too-long"),
        pytest.param("Bearer al_0123456789ab_é".encode(), id="bearer-non-ascii-utf8"),
        pytest.param(b"Bearer al_\xff\xfe_" + b"A" * 43, id="bearer-non-ascii-latin1"),
        pytest.param("Bearer al_🔑_🔑".encode(), id="bearer-emoji"),
        pytest.param(b"Bearer\tal_0123456789ab_" + b"A" * 43, id="bearer-tab"),
        pytest.param(b"Bearer al_0123456789ab_" + b"A" * 43 + b"\x00", id="bearer-nul"),
        pytest.param(b"Bearer ' OR '1'='1", id="bearer-sql"),
    ],
)
async def test_a_malformed_authorization_header_is_401(
    client: httpx.AsyncClient, authorization: bytes
) -> None:
    response = await client.get(WHOAMI, headers=[(b"authorization", authorization)])
    assert_problem(response, 401, "auth.invalid_key")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_key_one_slip_away_from_a_valid_one_is_401(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    for key in _almost(tenant.keys[Role.VIEWER]):
        response = await client.get(WHOAMI, headers=bearer(key))
        assert response.status_code == 401, repr(key)
        assert_problem(response, 401, "auth.invalid_key")


@pytest.mark.parametrize("second", [Role.VIEWER, Role.ADMIN], ids=["other-key", "same-key"])
async def test_two_authorization_headers_are_401(
    client: httpx.AsyncClient, tenant: TenantKeys, second: Role
) -> None:
    # RFC 9110 §11.6.2: one credential per request; which of two would be meant is a guess.
    headers = [
        ("Authorization", f"Bearer {tenant.keys[Role.ADMIN]}"),
        ("Authorization", f"Bearer {tenant.keys[second]}"),
    ]
    response = await client.get(WHOAMI, headers=headers)
    assert_problem(response, 401, "auth.invalid_key")


async def test_an_expired_key_is_401(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> None:
    async with sessionmaker() as session:
        _, key = await auth.create_api_key(
            session, tenant.id, name="old", roles=[Role.ADMIN], expires_at=utcnow() - timedelta(1)
        )
        await session.commit()
    assert_problem(await client.get(WHOAMI, headers=bearer(key)), 401, "auth.invalid_key")


async def test_a_revoked_key_is_401(client: httpx.AsyncClient, tenant: TenantKeys) -> None:
    created = await client.post(
        "/v1/api-keys", json={"name": "gone", "roles": ["admin"]}, headers=tenant.headers()
    )
    revoked = await client.post(
        f"/v1/api-keys/{created.json()['id']}:revoke", headers=tenant.headers()
    )
    assert revoked.status_code == 200, revoked.text
    response = await client.get(WHOAMI, headers=bearer(created.json()["key"]))
    assert_problem(response, 401, "auth.invalid_key")


# Bodies


async def test_a_body_over_the_cap_is_413(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantKeys
) -> None:
    body = b"x" * (settings.max_body_bytes + 1)
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    response = await client.post("/v1/ledgers", content=body, headers=headers)
    assert_problem(response, 413, "http.payload_too_large")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 1000 + b"]" * 1000, id="arrays"),
        pytest.param(b'{"a":' * 200 + b"1" + b"}" * 200, id="objects"),
        pytest.param(
            b'{"name":"x","base_currency":"USD","metadata":' + b"[" * 100_000, id="unbalanced"
        ),
    ],
)
async def test_deeply_nested_json_is_422(
    client: httpx.AsyncClient, tenant: TenantKeys, body: bytes
) -> None:
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    response = await client.post("/v1/ledgers", content=body, headers=headers)
    assert_problem(response, 422, "request.too_deeply_nested")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"name":"\xff","base_currency":"USD"}', id="invalid-byte"),
        pytest.param(b'{"name":"\xc3","base_currency":"USD"}', id="truncated-sequence"),
        pytest.param(b'{"name":"\xed\xa0\x80","base_currency":"USD"}', id="surrogate"),
        pytest.param('{"name":"é","base_currency":"USD"}'.encode("latin-1"), id="latin-1"),
    ],
)
async def test_invalid_utf8_is_400(
    client: httpx.AsyncClient, tenant: TenantKeys, body: bytes
) -> None:
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    response = await client.post("/v1/ledgers", content=body, headers=headers)
    assert_problem(response, 400, "request.invalid_encoding")


async def _ledger(client: httpx.AsyncClient, tenant: TenantKeys) -> dict[str, Any]:
    response = await client.post(
        "/v1/ledgers",
        json={"name": "Books", "base_currency": "USD"},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    ledger: dict[str, Any] = response.json()
    for code, kind in (("1000", "asset"), ("4000", "revenue")):
        created = await client.post(
            f"/v1/ledgers/{ledger['id']}/accounts",
            json={"code": code, "name": code, "type": kind, "asset": "USD"},
            headers=tenant.headers(),
        )
        assert created.status_code == 201, created.text
    return ledger


def _raw(amount: str) -> bytes:
    """An entry whose amounts are the raw JSON text ``amount``."""
    return (
        '{"postings":['
        f'{{"account":"1000","direction":"debit","amount":{amount},"asset":"USD"}},'
        f'{{"account":"4000","direction":"credit","amount":{amount},"asset":"USD"}}]}}'
    ).encode()


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param("10.5", id="float"),
        pytest.param("10", id="integer"),
        pytest.param("1e3", id="exponent"),
        pytest.param("1" + "0" * 400, id="huge-integer"),
        pytest.param("1e400", id="huge-float"),
        pytest.param("NaN", id="nan"),
        pytest.param("Infinity", id="infinity"),
        pytest.param("-Infinity", id="minus-infinity"),
        pytest.param('"NaN"', id="nan-string"),
        pytest.param('"Infinity"', id="infinity-string"),
        pytest.param('"1e3"', id="exponent-string"),
        pytest.param('"' + "9" * 38 + '"', id="over-int64-string"),
        pytest.param('"9223372036854775807"', id="int64-max-string"),
        pytest.param('"92233720368547758.08"', id="int64-max-plus-one-minor"),
        pytest.param('"-10.00"', id="negative"),
        pytest.param('"0"', id="zero"),
        pytest.param('"\u0661\u0660"', id="arabic-digits"),
        pytest.param('"10.001"', id="too-many-decimals"),
    ],
)
async def test_a_number_that_is_not_a_plain_decimal_string_is_422(
    client: httpx.AsyncClient, tenant: TenantKeys, amount: str
) -> None:
    ledger = await _ledger(client, tenant)
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    response = await client.post(
        f"/v1/ledgers/{ledger['id']}/entries", content=_raw(amount), headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "postings" in response.text


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/v1/ledgers/{ledger}/entries", {"cursor": "9" * 19}),
        ("/v1/ledgers/{ledger}/entries", {"limit": "9" * 30}),
        ("/v1/ledgers/{ledger}/accounts", {"limit": "-1"}),
        ("/v1/ledgers/{ledger}/accounts", {"cursor": "\u202e" + "z" * 150}),
        ("/v1/audit", {"after_seq": "9" * 30}),
        ("/v1/audit", {"limit": "9" * 30}),
        ("/v1/audit", {"since": "9999999-01-01T00:00:00Z"}),
        ("/v1/audit/export", {"after_seq": str(2**63)}),
        ("/v1/dead-letters", {"limit": "1e3"}),
    ],
)
async def test_out_of_range_numbers_in_the_query_are_4xx(
    client: httpx.AsyncClient, tenant: TenantKeys, url: str, query: dict[str, str]
) -> None:
    ledger = await _ledger(client, tenant)
    response = await client.get(
        url.format(ledger=ledger["id"]), params=query, headers=tenant.headers()
    )
    assert response.status_code in {200, 400, 422}, response.text
    if response.status_code != 200:
        assert response.headers["content-type"] == "application/problem+json"


async def test_duplicate_keys_keep_the_last_value(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    body = b'{"name":"first","base_currency":"USD","name":"last"}'
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    response = await client.post("/v1/ledgers", content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "last"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data",
    ],
)
async def test_a_json_body_under_another_content_type_is_422(
    client: httpx.AsyncClient, tenant: TenantKeys, content_type: str | None
) -> None:
    headers = tenant.headers()
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps({"name": "Books", "base_currency": "USD"}).encode()
    response = await client.post("/v1/ledgers", content=body, headers=headers)
    assert_problem(response, 422, "request.invalid")


# Injection strings in free text

HOSTILE = {
    "sql": "'; DROP TABLE accounts;--",
    "formula-cmd": "=cmd|' /C calc'!A0",
    "formula-plus": "+SUM(1)",
    "formula-at": "@SUM(A1:A2)",
    "formula-minus": "-1+1",
    "rtl-override": "invoice\u202efdp.exe",
    "newlines": 'line1\nline2\r\n"quoted"\\',
    "html": "<script>alert(1)</script>",
    "emoji": "💸" * 50,
    "percent": "100%_ off\\%",
}
NUL = "before\u0000after"
EMOJI_10KB = "💸" * 2560  # 10 KB in UTF-8


async def _write_everywhere(
    client: httpx.AsyncClient, tenant: TenantKeys, text: str
) -> list[tuple[str, httpx.Response, Any]]:
    """The text as a ledger name, an account name, an entry description and metadata
    values; returns ``(where, response, how to read it back)``."""
    h = tenant.headers()
    ledger = await _ledger(client, tenant)
    lid = ledger["id"]
    results: list[tuple[str, httpx.Response, Any]] = []
    made = await client.post(
        "/v1/ledgers",
        json={"name": text, "base_currency": "USD", "metadata": {"note": text}},
        headers=h,
    )
    results.append(("ledger", made, lambda body: ([body["name"], body["metadata"]["note"]])))
    made = await client.post(
        f"/v1/ledgers/{lid}/accounts",
        json={"code": "1200", "name": text, "type": "asset", "metadata": {"k": text}},
        headers=h,
    )
    results.append(("account", made, lambda body: [body["name"], body["metadata"]["k"]]))
    made = await client.post(
        f"/v1/ledgers/{lid}/entries",
        json=entry_body(description=text, metadata={"memo": text}),
        headers=h,
    )
    results.append(("entry", made, lambda body: [body["description"], body["metadata"]["memo"]]))
    return results


def _read_back_url(where: str, body: dict[str, Any]) -> str:
    return {
        "ledger": f"/v1/ledgers/{body['id']}",
        "account": f"/v1/accounts/{body['id']}",
        "entry": f"/v1/entries/{body['id']}",
    }[where]


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_hostile_text_is_stored_and_returned_verbatim(
    client: httpx.AsyncClient, tenant: TenantKeys, text: str
) -> None:
    for where, made, read in await _write_everywhere(client, tenant, text):
        assert made.status_code == 201, f"{where}: {made.text}"
        assert read(made.json()) == [text, text]
        again = await client.get(_read_back_url(where, made.json()), headers=tenant.headers())
        assert again.status_code == 200, again.text
        assert read(again.json()) == [text, text], where


@pytest.mark.parametrize("text", [NUL, EMOJI_10KB], ids=["nul", "emoji-10kb"])
async def test_unstorable_or_oversized_text_is_a_422_naming_the_field(
    client: httpx.AsyncClient, tenant: TenantKeys, text: str
) -> None:
    # PostgreSQL cannot store NUL in text: refused on every backend alike.
    for where, made, _ in await _write_everywhere(client, tenant, text):
        body = assert_problem(made, 422, "request.invalid")
        assert body["errors"], where


async def test_nul_in_a_query_parameter_is_refused(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ledger = await _ledger(client, tenant)
    for url, query in [
        ("/v1/audit", {"actor": NUL}),
        ("/v1/audit/export", {"target_id": NUL}),
        (f"/v1/ledgers/{ledger['id']}/entries", {"source_id": NUL}),
        (f"/v1/ledgers/{ledger['id']}/entries", {"metadata[memo]": NUL}),
        (f"/v1/ledgers/{ledger['id']}/accounts", {"cursor": NUL}),
        ("/v1/dead-letters", {"consumer": NUL}),
    ]:
        response = await client.get(url, params=query, headers=tenant.headers())
        assert_problem(response, 422, "request.invalid")


async def test_nul_in_an_imported_chart_is_refused(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ledger = await _ledger(client, tenant)
    response = await client.post(
        f"/v1/ledgers/{ledger['id']}/accounts:import",
        content=f"code,name,type\n7000,{NUL},expense\n".encode(),
        headers={**tenant.headers(), "Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_audit_export_carries_hostile_text_one_json_record_per_line(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    for text in HOSTILE.values():
        await _write_everywhere(client, tenant, text)
    filtered = await client.get(
        "/v1/audit/export",
        params={"actor": HOSTILE["newlines"], "action": HOSTILE["sql"]},
        headers=tenant.headers(Role.AUDITOR),
    )
    assert filtered.status_code == 200, filtered.text
    assert filtered.content == b""
    export = await client.get("/v1/audit/export", headers=tenant.headers(Role.AUDITOR))
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("application/x-ndjson")
    assert export.content.endswith(b"\n")
    lines = export.content.split(b"\n")[:-1]
    records = [json.loads(line) for line in lines]
    assert len(records) >= 4 * len(HOSTILE)
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    assert all(isinstance(r, dict) and r["hash"] for r in records)
