"""The async SDK end to end over ASGITransport, on SQLite and PostgreSQL; retries and errors
against mock transports."""

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
from fastapi import FastAPI

from autoledger.client import ApiError, AsyncClient, Client, EntryQuery
from autoledger.client.sdk import RetryPolicy
from autoledger.ledger import schemas
from autoledger.ledger.domain import EntryStatus
from autoledger.ledger.types import AccountType
from autoledger.platform.auth.roles import Role
from tests.conftest import TenantKeys

BASE = "http://testserver"


@pytest.fixture
async def sdk(app: FastAPI, tenant: TenantKeys) -> AsyncIterator[AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient(BASE, tenant.keys[Role.ADMIN], transport=transport) as client:
        yield client


def entry(debit: str, credit: str, amount: str, **extra: object) -> schemas.EntryCreate:
    return schemas.EntryCreate.model_validate(
        {
            "postings": [
                {"account": debit, "direction": "debit", "amount": amount, "asset": "USD"},
                {"account": credit, "direction": "credit", "amount": amount, "asset": "USD"},
            ],
            **extra,
        }
    )


async def new_ledger(sdk: AsyncClient, **extra: object) -> schemas.LedgerOut:
    body = schemas.LedgerCreate.model_validate({"name": "Books", "base_currency": "USD", **extra})
    return await sdk.create_ledger(body)


async def test_whoami_and_ledgers(sdk: AsyncClient, tenant: TenantKeys) -> None:
    me = await sdk.whoami()
    assert me.tenant.id == tenant.id
    assert me.roles == [Role.ADMIN]
    ledger = await new_ledger(sdk, chart_template="small_business")
    assert (await sdk.get_ledger(ledger.id)).name == "Books"
    assert [item.id for item in await sdk.list_ledgers()] == [ledger.id]
    assert isinstance(await sdk.list_assets(), list)


async def test_define_asset(sdk: AsyncClient) -> None:
    code = f"PT{uuid.uuid4().hex[:4].upper()}"
    asset = await sdk.define_asset(schemas.AssetCreate(code=code, scale=0, name="Points"))
    assert asset.code == code
    assert code in {a.code for a in await sdk.list_assets()}
    with pytest.raises(ApiError) as caught:
        await sdk.define_asset(schemas.AssetCreate(code=code, scale=0, name="Points"))
    assert caught.value.status == 409


async def test_chart_accounts_and_pagination(sdk: AsyncClient) -> None:
    ledger = await new_ledger(sdk, chart_template="small_business")
    page = await sdk.list_accounts(ledger.id, limit=5)
    assert len(page.data) == 5
    assert page.next_cursor == page.data[-1].code
    every = [a async for a in sdk.iter_accounts(ledger.id, page_size=7)]
    codes = [a.code for a in every]
    assert codes == sorted(codes)
    assert len(codes) == len(set(codes)) > 40
    assert "1110" in codes

    created = await sdk.create_account(
        ledger.id,
        schemas.AccountCreate(code="1190", name="Clearing", type=AccountType.ASSET, parent="1100"),
    )
    assert (await sdk.get_account(created.id)).code == "1190"
    renamed = await sdk.update_account(created.id, schemas.AccountUpdate(name="Stripe clearing"))
    assert renamed.name == "Stripe clearing"

    other = await new_ledger(sdk)
    imported = await sdk.import_chart(
        other.id, "code,name,type,parent_code\n1000,Cash,asset,\n4000,Sales,revenue,\n", "USD"
    )
    assert imported.created == 2
    assert {a.code for a in imported.accounts} == {"1000", "4000"}
    assert all(a.asset == "USD" for a in imported.accounts)

    with pytest.raises(ApiError) as caught:
        await sdk.create_account(
            ledger.id, schemas.AccountCreate(code="1190", name="Dup", type=AccountType.ASSET)
        )
    assert caught.value.status == 409
    assert caught.value.code.startswith("ledger.")


async def test_entries_holds_voids_reversals_batch_balances_statement(sdk: AsyncClient) -> None:
    ledger = await new_ledger(sdk, chart_template="small_business")
    accounts = {a.code: a for a in [a async for a in sdk.iter_accounts(ledger.id)]}
    bank, sales = accounts["1110"], accounts["4100"]

    sale = await sdk.create_entry(ledger.id, entry("1110", "4100", "100.00", description="Sale"))
    assert sale.status is EntryStatus.POSTED
    assert (await sdk.get_entry(sale.id)).id == sale.id

    hold = await sdk.create_entry(ledger.id, entry("1110", "4100", "50.00", status="pending"))
    assert hold.status is EntryStatus.PENDING
    posted = await sdk.post_entry(hold.id, ["30.00", "30.00"])
    assert posted.status is EntryStatus.POSTED
    assert [p.posted_amount for p in posted.postings] == ["30.00", "30.00"]

    released = await sdk.create_entry(ledger.id, entry("1110", "4100", "5.00", status="pending"))
    voided = await sdk.void_entry(released.id)
    assert voided.status is EntryStatus.VOIDED

    mirror = await sdk.reverse_entry(sale.id, schemas.EntryReverse(description="Refund"))
    assert mirror.reverses_id == sale.id
    with pytest.raises(ApiError) as caught:
        await sdk.reverse_entry(sale.id)
    assert caught.value.status == 409

    batch = await sdk.create_entries_batch(
        ledger.id, [entry("1110", "4100", "1.00"), entry("1110", "4100", "2.00")]
    )
    assert (batch.created, batch.failed) == (2, 0)
    assert all(item.entry is not None for item in batch.items)

    balance = await sdk.get_balance(bank.id)
    # 100 - 100 (reversed) + 30 + 1 + 2
    assert balance.balances[0].posted == "33.00"
    assert (await sdk.get_balance(sales.id)).balances[0].posted == "33.00"
    yesterday = await sdk.get_balance(bank.id, as_of=date.today() - timedelta(days=1))
    assert all(b.posted == "0.00" for b in yesterday.balances)

    statement = await sdk.get_statement(bank.id, asset="USD", limit=2)
    assert statement.asset == "USD"
    assert len(statement.lines) == 2
    assert statement.next_cursor is not None
    rest = await sdk.get_statement(bank.id, asset="USD", cursor=statement.next_cursor)
    assert len(statement.lines) + len(rest.lines) == 5
    today = await sdk.get_statement(
        bank.id, asset="USD", date_from=date.today(), date_to=date.today()
    )
    assert len(today.lines) == 5
    tomorrow = date.today() + timedelta(days=1)
    assert (await sdk.get_statement(bank.id, asset="USD", date_from=tomorrow)).lines == []

    entries = [e async for e in sdk.iter_entries(ledger.id, EntryQuery(limit=2))]
    assert [e.seq for e in entries] == sorted((e.seq for e in entries), reverse=True)
    assert len(entries) == 6  # sale, hold (posted in place), voided hold, reversal, 2 batch
    voided_only = await sdk.list_entries(ledger.id, EntryQuery(status=EntryStatus.VOIDED))
    assert [e.id for e in voided_only.data] == [released.id]
    touching = await sdk.list_entries(ledger.id, EntryQuery(account=bank.id, date_to=tomorrow))
    assert len(touching.data) == 6

    verify = await sdk.verify_ledger(ledger.id)
    assert verify.ok, verify
    assert verify.first_broken_seq is None


async def test_invalid_entry_raises_problem(sdk: AsyncClient) -> None:
    ledger = await new_ledger(sdk, chart_template="small_business")
    with pytest.raises(ApiError) as caught:
        await sdk.create_entry(
            ledger.id,
            schemas.EntryCreate.model_validate(
                {
                    "postings": [
                        {
                            "account": "1110",
                            "direction": "debit",
                            "amount": "10.00",
                            "asset": "USD",
                        },
                        {
                            "account": "4100",
                            "direction": "credit",
                            "amount": "9.99",
                            "asset": "USD",
                        },
                    ]
                }
            ),
        )
    error = caught.value
    assert (error.status, error.code) == (422, "ledger.unbalanced")
    assert error.title
    assert error.detail
    assert isinstance(error.body, dict)
    assert error.body["code"] == "ledger.unbalanced"

    with pytest.raises(ApiError) as missing:
        await sdk.get_ledger(uuid.uuid4())
    assert missing.value.status == 404


async def test_closed_period_refuses_entries(sdk: AsyncClient) -> None:
    ledger = await new_ledger(sdk, chart_template="small_business")
    period = await sdk.create_period(
        ledger.id,
        schemas.PeriodCreate(name="2024", start_date=date(2024, 1, 1), end_date=date(2024, 12, 31)),
    )
    assert period.status == "open"
    old = entry("1110", "4100", "10.00", effective_date="2024-06-30")
    await sdk.create_entry(ledger.id, old)
    closed = await sdk.close_period(ledger.id, period.id)
    assert closed.status == "closed"
    assert [p.status for p in await sdk.list_periods(ledger.id)] == ["closed"]
    with pytest.raises(ApiError) as caught:
        await sdk.create_entry(ledger.id, old)
    assert caught.value.code == "ledger.period_closed"
    assert caught.value.status == 409
    reopened = await sdk.reopen_period(ledger.id, period.id)
    assert reopened.status == "open"
    await sdk.create_entry(ledger.id, old)
    assert (await sdk.verify_ledger(ledger.id)).ok


async def test_same_idempotency_key_books_once(sdk: AsyncClient) -> None:
    ledger = await new_ledger(sdk, chart_template="small_business")
    body = entry("1110", "4100", "12.34")
    key = f"sdk-test-{uuid.uuid4()}"
    first = await sdk.create_entry(ledger.id, body, idempotency_key=key)
    second = await sdk.create_entry(ledger.id, body, idempotency_key=key)
    assert second == first
    assert len((await sdk.list_entries(ledger.id)).data) == 1


async def test_retry_reuses_the_idempotency_key(app: FastAPI, tenant: TenantKeys) -> None:
    asgi = httpx.ASGITransport(app=app)
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1 and request.method == "POST":
            return httpx.Response(
                503,
                headers={"Retry-After": "0", "Content-Type": "application/problem+json"},
                json={"code": "service.overloaded", "title": "Busy", "detail": "", "status": 503},
            )
        return await asgi.handle_async_request(request)

    async with AsyncClient(
        BASE, tenant.keys[Role.ADMIN], transport=httpx.MockTransport(handler)
    ) as client:
        ledger = await client.create_ledger(
            schemas.LedgerCreate(name="Retried", base_currency="USD")
        )
    assert ledger.name == "Retried"
    assert len(seen) == 2
    keys = [request.headers["Idempotency-Key"] for request in seen]
    assert keys[0] == keys[1]
    uuid.UUID(keys[0])  # a fresh uuid4 when the caller gives none
    assert seen[0].content == seen[1].content


def test_sync_client_retries_in_flight_then_gives_the_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(
                409, json={"code": "idempotency.in_flight", "title": "t", "detail": "d"}
            )
        return httpx.Response(
            422,
            headers={"Content-Type": "application/problem+json"},
            json={
                "type": "urn:autoledger:problem:request.invalid",
                "title": "Invalid request",
                "status": 422,
                "detail": "nope",
                "code": "request.invalid",
                "request_id": "r1",
                "errors": [{"loc": "body.name", "message": "too short", "type": "value_error"}],
            },
        )

    with (
        Client(BASE, "al_key", transport=httpx.MockTransport(handler), backoff=0.0) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.create_ledger(
            schemas.LedgerCreate(name="x", base_currency="USD"), idempotency_key="k-1"
        )
    assert len(seen) == 3
    assert {request.headers["Idempotency-Key"] for request in seen} == {"k-1"}
    assert seen[0].headers["Authorization"] == "Bearer al_key"
    error = caught.value
    assert (error.status, error.code, error.detail, error.request_id) == (
        422,
        "request.invalid",
        "nope",
        "r1",
    )
    assert error.errors[0].loc == "body.name"


def test_sync_client_gives_up_after_max_retries() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    with (
        Client(
            BASE, "k", transport=httpx.MockTransport(handler), max_retries=2, backoff=0.0
        ) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.list_ledgers()
    assert len(calls) == 3


def test_non_problem_error_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    with (
        Client(BASE, "k", transport=httpx.MockTransport(handler)) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.whoami()
    assert (caught.value.status, caught.value.code) == (502, "http.502")
    assert "bad gateway" in caught.value.detail


def test_retry_policy() -> None:
    policy = RetryPolicy(max_retries=3, backoff=0.5, max_backoff=1.5)
    request = httpx.Request("GET", BASE)
    busy = httpx.Response(429, request=request)
    assert [policy.delay(n, busy) for n in range(4)] == [0.5, 1.0, 1.5, None]
    assert policy.delay(0, httpx.Response(503, headers={"Retry-After": "2"})) == 2.0
    assert policy.delay(0, httpx.Response(500)) is None
    assert policy.delay(0, httpx.Response(409, json={"code": "ledger.period_closed"})) is None
    assert policy.delay(0, httpx.ConnectError("x")) == 0.5
