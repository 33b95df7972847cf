"""The journal through the HTTP API, on SQLite and PostgreSQL: holds, posting, voiding,
reversals, constraints, assets, periods, balances, statements, batches, listing,
idempotency and tenancy."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.ledger import journal
from autoledger.ledger.commands import CreateEntry, PostingInput
from autoledger.ledger.expiry import expire_pending
from autoledger.ledger.types import Direction
from autoledger.ledger.views import EntryView
from autoledger.platform.auth.roles import Role
from tests.conftest import TenantKeys, make_tenant

JSON = dict[str, Any]


@dataclass
class Books:
    """One tenant's ledger, driven through the API."""

    client: httpx.AsyncClient
    tenant: TenantKeys
    ledger: JSON

    @property
    def id(self) -> str:
        return str(self.ledger["id"])

    def h(self, scope: Role = Role.ACCOUNTANT) -> dict[str, str]:
        return self.tenant.headers(scope)

    def keyed(self, key: str) -> dict[str, str]:
        return {**self.tenant.headers(Role.ACCOUNTANT), "Idempotency-Key": key}

    async def account(self, code: str, type_: str = "asset", **body: Any) -> JSON:
        body = {"code": code, "name": f"Account {code}", "type": type_, "asset": "USD", **body}
        r = await self.client.post(f"/v1/ledgers/{self.id}/accounts", json=body, headers=self.h())
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def entry_response(self, *legs: tuple[str, str, str], **extra: Any) -> httpx.Response:
        """``legs``: (account, "debit"|"credit", amount); asset defaults to USD."""
        asset = extra.pop("asset", "USD")
        headers = extra.pop("headers", None) or self.h()
        body = {
            "postings": [
                {"account": a, "direction": d, "amount": amt, "asset": asset} for a, d, amt in legs
            ],
            **extra,
        }
        return await self.client.post(f"/v1/ledgers/{self.id}/entries", json=body, headers=headers)

    async def entry(self, *legs: tuple[str, str, str], **extra: Any) -> JSON:
        r = await self.entry_response(*legs, **extra)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def balance(self, account: JSON, **params: str) -> JSON:
        r = await self.client.get(
            f"/v1/accounts/{account['id']}/balance", params=params, headers=self.h(Role.VIEWER)
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def own(self, account: JSON, asset: str = "USD") -> JSON:
        balances = (await self.balance(account))["balances"]
        by_asset = {b["asset"]: b for b in balances}
        return dict(by_asset[asset])

    async def action(self, entry_id: str, verb: str, body: JSON | None = None) -> httpx.Response:
        return await self.client.post(f"/v1/entries/{entry_id}:{verb}", json=body, headers=self.h())

    async def verify(self) -> JSON:
        r = await self.client.get(f"/v1/ledgers/{self.id}/verify", headers=self.h(Role.VIEWER))
        assert r.status_code == 200, r.text
        return dict(r.json())


async def _books(client: httpx.AsyncClient, tenant: TenantKeys, **extra: Any) -> Books:
    body = {"name": "Books", "base_currency": "USD", **extra}
    r = await client.post("/v1/ledgers", json=body, headers=tenant.headers(Role.ACCOUNTANT))
    assert r.status_code == 201, r.text
    return Books(client, tenant, dict(r.json()))


@pytest.fixture
async def books(client: httpx.AsyncClient, tenant: TenantKeys) -> Books:
    return await _books(client, tenant)


def _problem(r: httpx.Response, status: int, code: str) -> JSON:
    assert r.status_code == status, r.text
    body = dict(r.json())
    assert body["code"] == code, body
    return body


# --- holds ---------------------------------------------------------------------------------


async def test_hold_reduces_available_but_not_posted(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("4000", "revenue")
    await books.account("2000", "liability")
    await books.entry(("1000", "debit", "100.00"), ("4000", "credit", "100.00"))
    hold = await books.entry(
        ("2000", "debit", "30.00"), ("1000", "credit", "30.00"), status="pending"
    )
    assert hold["status"] == "pending"
    assert [p["posted_amount"] for p in hold["postings"]] == [None, None]
    b = await books.own(cash)
    assert b["posted"] == "100.00"
    assert b["available"] == "70.00"
    assert b["credits_pending"] == "30.00"
    assert b["credits_posted"] == "0.00"
    assert (await books.verify())["ok"] is True


async def test_post_hold_in_full(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("2000", "liability")
    hold = await books.entry(
        ("1000", "debit", "12.34"), ("2000", "credit", "12.34"), status="pending"
    )
    r = await books.action(hold["id"], "post")
    assert r.status_code == 200, r.text
    posted = r.json()
    assert posted["status"] == "posted"
    assert posted["resolved_at"] is not None
    assert [p["posted_amount"] for p in posted["postings"]] == ["12.34", "12.34"]
    b = await books.own(cash)
    assert (b["posted"], b["available"], b["debits_pending"]) == ("12.34", "12.34", "0.00")
    verify = await books.verify()
    assert verify["ok"] is True
    assert verify["records_checked"] == 2


async def test_partial_post_releases_the_rest(books: Books) -> None:
    cash = await books.account("1000")
    fees = await books.account("6000", "expense")
    hold = await books.entry(
        ("6000", "debit", "50.00"), ("1000", "credit", "50.00"), status="pending"
    )
    r = await books.action(hold["id"], "post", {"amounts": ["20.00", "20.00"]})
    assert r.status_code == 200, r.text
    assert [p["posted_amount"] for p in r.json()["postings"]] == ["20.00", "20.00"]
    c = await books.own(cash)
    assert (c["posted"], c["credits_pending"], c["available"]) == ("-20.00", "0.00", "-20.00")
    f = await books.own(fees)
    assert (f["posted"], f["debits_pending"]) == ("20.00", "0.00")
    # more than held, or unbalanced partial amounts, are refused
    hold2 = await books.entry(
        ("6000", "debit", "5.00"), ("1000", "credit", "5.00"), status="pending"
    )
    _problem(
        await books.action(hold2["id"], "post", {"amounts": ["6.00", "6.00"]}),
        422,
        "ledger.invalid_entry",
    )
    _problem(
        await books.action(hold2["id"], "post", {"amounts": ["1.00", "2.00"]}),
        422,
        "ledger.unbalanced",
    )
    assert (await books.verify())["ok"] is True


async def test_void_releases_and_post_after_void_is_refused(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("2000", "liability")
    await books.entry(("1000", "debit", "10.00"), ("2000", "credit", "10.00"))
    hold = await books.entry(
        ("2000", "debit", "4.00"), ("1000", "credit", "4.00"), status="pending"
    )
    assert (await books.own(cash))["available"] == "6.00"
    r = await books.action(hold["id"], "void")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "voided"
    b = await books.own(cash)
    assert (b["posted"], b["available"], b["credits_pending"]) == ("10.00", "10.00", "0.00")
    body = _problem(await books.action(hold["id"], "post"), 409, "ledger.entry_not_pending")
    assert hold["id"] in body["detail"]
    _problem(await books.action(hold["id"], "void"), 409, "ledger.entry_not_pending")
    assert (await books.verify())["ok"] is True


async def test_expired_hold_cannot_be_posted_and_expiry_voids_it(
    app: FastAPI, books: Books
) -> None:
    cash = await books.account("1000")
    await books.account("2000", "liability")
    sm: async_sessionmaker[AsyncSession] = app.state.system_sessionmaker
    past = utcnow() - timedelta(hours=1)
    async with sm() as session:
        [outcome] = await journal.execute(
            session,
            [
                CreateEntry(
                    books.tenant.id,
                    uuid.UUID(books.id),
                    (
                        PostingInput("1000", Direction.DEBIT, "3.00", "USD"),
                        PostingInput("2000", Direction.CREDIT, "3.00", "USD"),
                    ),
                    actor="test",
                    pending=True,
                    expires_at=past + timedelta(minutes=1),
                )
            ],
            now=past,
        )
        await session.commit()
    assert isinstance(outcome, EntryView)
    body = _problem(await books.action(str(outcome.id), "post"), 409, "ledger.pending_expired")
    assert "expired" in body["detail"]
    assert (await books.own(cash))["debits_pending"] == "3.00"
    await expire_pending(app.state.journal_writer, sm)
    r = await books.client.get(f"/v1/entries/{outcome.id}", headers=books.h(Role.VIEWER))
    assert r.json()["status"] == "voided"
    assert (await books.own(cash))["debits_pending"] == "0.00"
    # a hold expiring in the past is refused outright
    r = await books.entry_response(
        ("1000", "debit", "1.00"),
        ("2000", "credit", "1.00"),
        status="pending",
        expires_at=past.isoformat(),
    )
    _problem(r, 422, "ledger.invalid_entry")
    assert (await books.verify())["ok"] is True


# --- reversals ------------------------------------------------------------------------------


async def test_reversal_mirrors_and_only_once(books: Books) -> None:
    cash = await books.account("1000")
    sales = await books.account("4000", "revenue")
    original = await books.entry(("1000", "debit", "75.50"), ("4000", "credit", "75.50"))
    r = await books.action(original["id"], "reverse")
    assert r.status_code == 201, r.text
    mirror = r.json()
    assert mirror["reverses_id"] == original["id"]
    assert mirror["status"] == "posted"
    assert [(p["account_id"], p["direction"], p["amount"]) for p in mirror["postings"]] == [
        (cash["id"], "credit", "75.50"),
        (sales["id"], "debit", "75.50"),
    ]
    assert (await books.own(cash))["posted"] == "0.00"
    assert (await books.own(sales))["posted"] == "0.00"
    _problem(await books.action(original["id"], "reverse"), 409, "ledger.already_reversed")
    # a pending entry cannot be reversed
    hold = await books.entry(
        ("1000", "debit", "1.00"), ("4000", "credit", "1.00"), status="pending"
    )
    _problem(await books.action(hold["id"], "reverse"), 409, "ledger.entry_not_posted")
    assert (await books.verify())["ok"] is True


# --- constraints ----------------------------------------------------------------------------


async def test_overdraft_refused_and_holds_count(books: Books) -> None:
    wallet = await books.account("2100", "liability", debits_must_not_exceed_credits=True)
    await books.account("1000")
    await books.entry(("1000", "debit", "100.00"), ("2100", "credit", "100.00"))
    r = await books.entry_response(("2100", "debit", "100.01"), ("1000", "credit", "100.01"))
    body = _problem(r, 409, "ledger.insufficient_funds")
    assert body["account_code"] == "2100"
    assert body["shortfall"] == "0.01"
    assert body["asset"] == "USD"
    # a hold reserves funds: 60 held leaves 40 spendable
    hold = await books.entry(
        ("2100", "debit", "60.00"), ("1000", "credit", "60.00"), status="pending"
    )
    body = _problem(
        await books.entry_response(("2100", "debit", "40.01"), ("1000", "credit", "40.01")),
        409,
        "ledger.insufficient_funds",
    )
    assert body["shortfall"] == "0.01"
    await books.entry(("2100", "debit", "40.00"), ("1000", "credit", "40.00"))
    b = await books.own(wallet)
    assert (b["posted"], b["available"]) == ("60.00", "0.00")
    # posting the hold in full still fits; nothing is left afterwards
    assert (await books.action(hold["id"], "post")).status_code == 200
    b = await books.own(wallet)
    assert (b["posted"], b["available"], b["debits_pending"]) == ("0.00", "0.00", "0.00")
    _problem(
        await books.entry_response(("2100", "debit", "0.01"), ("1000", "credit", "0.01")),
        409,
        "ledger.insufficient_funds",
    )


async def test_balance_limit_allows_bounded_overdraft(books: Books) -> None:
    await books.account(
        "2100", "liability", debits_must_not_exceed_credits=True, balance_limit="5.00"
    )
    await books.account("1000")
    await books.entry(("2100", "debit", "5.00"), ("1000", "credit", "5.00"))
    body = _problem(
        await books.entry_response(("2100", "debit", "0.02"), ("1000", "credit", "0.02")),
        409,
        "ledger.insufficient_funds",
    )
    assert body["shortfall"] == "0.02"


# --- validation -----------------------------------------------------------------------------


async def test_validation_errors(books: Books) -> None:
    await books.account("1000")
    await books.account("4000", "revenue")
    await books.account("1200", asset="EUR")
    body = _problem(
        await books.entry_response(("1200", "debit", "1.00"), ("4000", "credit", "1.00")),
        422,
        "ledger.asset_mismatch",
    )
    assert body["errors"][0]["loc"] == "postings.0.asset"
    body = _problem(
        await books.entry_response(("1000", "debit", "1.00"), ("9999", "credit", "1.00")),
        422,
        "ledger.unknown_account",
    )
    assert body["errors"][0]["loc"] == "postings.1.account"
    assert "9999" in body["detail"]
    r = await books.client.post(
        f"/v1/ledgers/{books.id}/entries",
        json={
            "postings": [
                {"account": "1000", "direction": "debit", "amount": 1.5, "asset": "USD"},
                {"account": "4000", "direction": "credit", "amount": "1.50", "asset": "USD"},
            ]
        },
        headers=books.h(),
    )
    body = _problem(r, 422, "request.invalid")
    assert any(e["loc"].endswith("postings.0.amount") for e in body["errors"]), body
    r = await books.entry_response(("1000", "debit", "1.001"), ("4000", "credit", "1.001"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["errors"][0]["loc"] == "postings.0.amount"
    assert "decimals" in body["errors"][0]["message"]
    _problem(
        await books.entry_response(
            ("1000", "debit", "1.00"), ("4000", "credit", "1.00"), asset="XYZ"
        ),
        422,
        "ledger.unknown_asset",
    )
    r = await books.entry_response(("1000", "debit", "-1.00"), ("4000", "credit", "-1.00"))
    assert r.status_code == 422, r.text
    # nothing of the refused entries was written
    assert (await books.verify())["records_checked"] == 0


async def test_jpy_has_scale_zero(client: httpx.AsyncClient, tenant: TenantKeys) -> None:
    books = await _books(client, tenant, base_currency="JPY")
    cash = await books.account("1000", asset="JPY")
    await books.account("4000", "revenue", asset="JPY")
    entry = await books.entry(("1000", "debit", "1500"), ("4000", "credit", "1500"), asset="JPY")
    assert entry["postings"][0]["amount"] == "1500"
    assert (await books.own(cash, "JPY"))["posted"] == "1500"
    r = await books.entry_response(("1000", "debit", "1.5"), ("4000", "credit", "1.5"), asset="JPY")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == "postings.0.amount"


async def test_tenant_defined_asset(
    books: Books, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    r = await books.client.post(
        "/v1/assets", json={"code": "USDC", "scale": 6, "name": "USD Coin"}, headers=books.h()
    )
    assert r.status_code == 201, r.text
    assert r.json()["scale"] == 6
    _problem(
        await books.client.post(
            "/v1/assets", json={"code": "USDC", "scale": 2, "name": "again"}, headers=books.h()
        ),
        409,
        "ledger.duplicate_asset",
    )
    wallet = await books.account("1300", asset="USDC")
    await books.account("3000", "equity", asset=None)
    entry = await books.entry(
        ("1300", "debit", "0.000001"), ("3000", "credit", "0.000001"), asset="USDC"
    )
    assert entry["postings"][0]["amount"] == "0.000001"
    assert (await books.own(wallet, "USDC"))["posted"] == "0.000001"
    r = await books.entry_response(
        ("1300", "debit", "0.0000001"), ("3000", "credit", "0.0000001"), asset="USDC"
    )
    assert r.status_code == 422, r.text
    # another tenant does not see the asset
    other = await _books(books.client, await make_tenant(sessionmaker))
    r = await other.client.post(
        f"/v1/ledgers/{other.id}/accounts",
        json={"code": "1300", "name": "w", "type": "asset", "asset": "USDC"},
        headers=other.h(),
    )
    _problem(r, 422, "ledger.unknown_asset")


async def test_archived_account_refuses_postings(books: Books) -> None:
    old = await books.account("1000")
    await books.account("4000", "revenue")
    await books.entry(("1000", "debit", "1.00"), ("4000", "credit", "1.00"))
    r = await books.client.patch(
        f"/v1/accounts/{old['id']}", json={"status": "archived"}, headers=books.h()
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "archived"
    body = _problem(
        await books.entry_response(("1000", "debit", "1.00"), ("4000", "credit", "1.00")),
        409,
        "ledger.account_archived",
    )
    assert "1000" in body["detail"]
    assert (await books.own(old))["posted"] == "1.00"


# --- periods --------------------------------------------------------------------------------


async def test_closed_period_refuses_entries_until_reopened(books: Books) -> None:
    await books.account("1000")
    await books.account("4000", "revenue")
    r = await books.client.post(
        f"/v1/ledgers/{books.id}/periods",
        json={"name": "Jan 2026", "start_date": "2026-01-01", "end_date": "2026-01-31"},
        headers=books.h(Role.ADMIN),
    )
    assert r.status_code == 201, r.text
    period = r.json()
    assert period["status"] == "open"
    base = f"/v1/ledgers/{books.id}/periods/{period['id']}"
    r = await books.client.post(f"{base}:close", headers=books.h(Role.ACCOUNTANT))
    assert r.status_code == 403, r.text
    hold = await books.entry(
        ("1000", "debit", "2.00"),
        ("4000", "credit", "2.00"),
        status="pending",
        effective_date="2026-01-20",
    )
    r = await books.client.post(f"{base}:close", headers=books.h(Role.ADMIN))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    assert r.json()["closed_by"]
    legs = (("1000", "debit", "5.00"), ("4000", "credit", "5.00"))
    _problem(
        await books.entry_response(*legs, effective_date="2026-01-15"), 409, "ledger.period_closed"
    )
    _problem(await books.action(hold["id"], "post"), 409, "ledger.period_closed")
    await books.entry(*legs, effective_date="2026-02-01")
    await books.entry(*legs, effective_date="2025-12-31")
    r = await books.client.post(f"{base}:reopen", headers=books.h(Role.ADMIN))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open"
    entry = await books.entry(*legs, effective_date="2026-01-15")
    assert entry["effective_date"] == "2026-01-15"
    # overlapping periods are refused
    r = await books.client.post(
        f"/v1/ledgers/{books.id}/periods",
        json={"name": "overlap", "start_date": "2026-01-31", "end_date": "2026-02-28"},
        headers=books.h(Role.ADMIN),
    )
    _problem(r, 409, "ledger.period_overlap")
    # a period is addressed under its own ledger only
    other = await books.client.post(
        "/v1/ledgers", json={"name": "Other", "base_currency": "USD"}, headers=books.h(Role.ADMIN)
    )
    elsewhere = f"/v1/ledgers/{other.json()['id']}/periods/{period['id']}:close"
    _problem(
        await books.client.post(elsewhere, headers=books.h(Role.ADMIN)),
        404,
        "ledger.period_not_found",
    )


# --- balances and statements ----------------------------------------------------------------


async def test_balance_as_of_effective_date(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("4000", "revenue")
    today = utcnow().date()
    await books.entry(("1000", "debit", "10.00"), ("4000", "credit", "10.00"))
    await books.entry(
        ("1000", "debit", "1.00"),
        ("4000", "credit", "1.00"),
        effective_date=(today - timedelta(days=30)).isoformat(),
    )
    await books.entry(
        ("1000", "debit", "100.00"),
        ("4000", "credit", "100.00"),
        effective_date=(today + timedelta(days=30)).isoformat(),
    )
    past = await books.balance(cash, as_of=(today - timedelta(days=1)).isoformat())
    assert past["as_of"] == (today - timedelta(days=1)).isoformat()
    assert past["balances"][0]["posted"] == "1.00"
    assert (await books.balance(cash, as_of=(today - timedelta(days=31)).isoformat()))[
        "balances"
    ] == []
    now = await books.balance(cash, as_of=today.isoformat())
    assert now["balances"][0]["posted"] == "11.00"
    assert (await books.own(cash))["posted"] == "111.00"


async def test_statement_running_balance_and_pagination(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("4000", "revenue")
    amounts = ["1.00", "2.00", "3.00", "4.00", "5.00"]
    for day, amount in enumerate(amounts, start=1):
        await books.entry(
            ("1000", "debit", amount), ("4000", "credit", amount), effective_date=f"2026-03-0{day}"
        )
    await books.entry(
        ("4000", "debit", "0.50"), ("1000", "credit", "0.50"), effective_date="2026-03-03"
    )
    await books.entry(
        ("1000", "debit", "9.00"),
        ("4000", "credit", "9.00"),
        status="pending",
        effective_date="2026-03-02",
    )
    url = f"/v1/accounts/{cash['id']}/statement"
    lines: list[JSON] = []
    cursor: str | None = None
    openings = []
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await books.client.get(url, params=params, headers=books.h(Role.VIEWER))
        assert r.status_code == 200, r.text
        page = r.json()
        openings.append(page["opening_balance"])
        assert len(page["lines"]) <= 2
        lines.extend(page["lines"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(ln["effective_date"], ln["direction"], ln["amount"]) for ln in lines] == [
        ("2026-03-01", "debit", "1.00"),
        ("2026-03-02", "debit", "2.00"),
        ("2026-03-03", "debit", "3.00"),
        ("2026-03-03", "credit", "0.50"),
        ("2026-03-04", "debit", "4.00"),
        ("2026-03-05", "debit", "5.00"),
    ]
    assert [ln["running_balance"] for ln in lines] == [
        "1.00",
        "3.00",
        "6.00",
        "5.50",
        "9.50",
        "14.50",
    ]
    assert openings == ["0.00", "3.00", "5.50"]
    r = await books.client.get(
        url, params={"from": "2026-03-03", "to": "2026-03-04"}, headers=books.h(Role.VIEWER)
    )
    page = r.json()
    assert page["opening_balance"] == "3.00"
    assert [ln["running_balance"] for ln in page["lines"]] == ["6.00", "5.50", "9.50"]
    r = await books.client.get(url, params={"cursor": "garbage!"}, headers=books.h(Role.VIEWER))
    assert r.status_code == 422, r.text


async def test_parent_balance_rolls_up(client: httpx.AsyncClient, tenant: TenantKeys) -> None:
    books = await _books(client, tenant, chart_template="small_business")
    await books.entry(("1110", "debit", "250.00"), ("4100", "credit", "250.00"))
    accounts = {}
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = (
            await client.get(
                f"/v1/ledgers/{books.id}/accounts", params=params, headers=books.h(Role.VIEWER)
            )
        ).json()
        accounts.update({a["code"]: a for a in page["data"]})
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert accounts["1110"]["parent_id"] == accounts["1100"]["id"]
    leaf = await books.balance(accounts["1110"])
    assert leaf["balances"][0]["posted"] == "250.00"
    assert leaf["descendants"] == 0
    assert leaf["rolled_up"] == []
    for code in ("1100", "1000"):
        parent = await books.balance(accounts[code])
        assert parent["descendants"] >= 1
        assert [b["posted"] for b in parent["balances"]] in (["0.00"], [])
        assert [(b["asset"], b["posted"]) for b in parent["rolled_up"]] == [("USD", "250.00")]
    revenue = await books.balance(accounts["4000"])
    assert [(b["asset"], b["posted"]) for b in revenue["rolled_up"]] == [("USD", "250.00")]


# --- batches --------------------------------------------------------------------------------


def _batch_entry(debit: str, credit: str, amount: str, **extra: Any) -> JSON:
    return {
        "postings": [
            {"account": debit, "direction": "debit", "amount": amount, "asset": "USD"},
            {"account": credit, "direction": "credit", "amount": amount, "asset": "USD"},
        ],
        **extra,
    }


async def test_atomic_batch_writes_nothing_on_failure(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("4000", "revenue")
    entries = [
        _batch_entry("1000", "4000", "1.00"),
        _batch_entry("1000", "9999", "2.00"),
        _batch_entry("1000", "4000", "3.00"),
    ]
    r = await books.client.post(
        f"/v1/ledgers/{books.id}/entries:batch", json={"entries": entries}, headers=books.h()
    )
    body = _problem(r, 422, "ledger.batch_failed")
    assert [e["loc"] for e in body["errors"]] == ["entries.1"]
    assert "ledger.unknown_account" in body["errors"][0]["message"]
    assert (await books.own(cash))["posted"] == "0.00"
    assert (await books.verify())["records_checked"] == 0
    listed = await books.client.get(f"/v1/ledgers/{books.id}/entries", headers=books.h(Role.VIEWER))
    assert listed.json()["data"] == []


async def test_non_atomic_batch_reports_per_item(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("4000", "revenue")
    entries = [
        _batch_entry("1000", "4000", "1.00", id="b-1"),
        _batch_entry("1000", "9999", "2.00"),
        _batch_entry("1000", "4000", "3.00", id="b-3"),
    ]
    url = f"/v1/ledgers/{books.id}/entries:batch"
    r = await books.client.post(url, json={"entries": entries, "atomic": False}, headers=books.h())
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["atomic"], result["created"], result["failed"], result["replayed"]) == (
        False,
        2,
        1,
        0,
    )
    assert [i["status"] for i in result["items"]] == ["created", "failed", "created"]
    assert result["items"][1]["error"]["code"] == "ledger.unknown_account"
    assert (await books.own(cash))["posted"] == "4.00"
    # client ids replay: a second batch returns the first entries
    again = [entries[0], _batch_entry("1000", "4000", "5.00", id="b-new"), entries[2]]
    r = await books.client.post(url, json={"entries": again}, headers=books.h())
    assert r.status_code == 200, r.text
    result = r.json()
    assert [i["status"] for i in result["items"]] == ["replayed", "created", "replayed"]
    assert result["items"][0]["entry"]["client_id"] == "b-1"
    first_ids = {i["entry"]["id"] for i in r.json()["items"] if i["status"] == "replayed"}
    assert len(first_ids) == 2
    assert (await books.own(cash))["posted"] == "9.00"
    # the same client id twice in one batch creates once
    dup = [
        _batch_entry("1000", "4000", "1.00", id="d"),
        _batch_entry("1000", "4000", "1.00", id="d"),
    ]
    r = await books.client.post(url, json={"entries": dup}, headers=books.h())
    assert [i["status"] for i in r.json()["items"]] == ["created", "replayed"]
    dup_id = r.json()["items"][0]["entry"]["id"]
    assert r.json()["items"][1]["entry"]["id"] == dup_id
    # and a single entry with a known client id replays (200)
    r = await books.entry_response(("1000", "debit", "1.00"), ("4000", "credit", "1.00"), id="d")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == dup_id
    assert (await books.own(cash))["posted"] == "10.00"
    assert (await books.verify())["ok"] is True


# --- listing --------------------------------------------------------------------------------


async def test_list_entries_filters_and_cursor(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("1100")
    await books.account("4000", "revenue")
    a = await books.entry(
        ("1000", "debit", "1.00"),
        ("4000", "credit", "1.00"),
        effective_date="2026-04-01",
        metadata={"order": "A1"},
    )
    b = await books.entry(
        ("1100", "debit", "2.00"),
        ("4000", "credit", "2.00"),
        effective_date="2026-04-02",
        metadata={"order": "B2"},
        source={"type": "bank_line", "id": "line-7"},
    )
    c = await books.entry(
        ("1000", "debit", "3.00"),
        ("4000", "credit", "3.00"),
        effective_date="2026-04-03",
        status="pending",
    )
    url = f"/v1/ledgers/{books.id}/entries"

    async def ids(**params: Any) -> list[str]:
        r = await books.client.get(url, params=params, headers=books.h(Role.VIEWER))
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["data"]]

    assert await ids() == [c["id"], b["id"], a["id"]]
    assert await ids(account=cash["id"]) == [c["id"], a["id"]]
    assert await ids(status="pending") == [c["id"]]
    assert await ids(status="posted") == [b["id"], a["id"]]
    assert await ids(source_type="bank_line") == [b["id"]]
    assert await ids(source_type="bank_line", source_id="line-7") == [b["id"]]
    assert await ids(**{"metadata[order]": "A1"}) == [a["id"]]
    assert await ids(**{"metadata[order]": "nope"}) == []
    assert await ids(**{"from": "2026-04-02", "to": "2026-04-02"}) == [b["id"]]
    assert await ids(**{"from": "2026-04-02"}) == [c["id"], b["id"]]
    # cursor pagination, newest first
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await books.client.get(url, params=params, headers=books.h(Role.VIEWER))).json()
        seen.extend(e["id"] for e in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"], b["id"], a["id"]]
    assert b["source"] == {"type": "bank_line", "id": "line-7"}


# --- idempotency ----------------------------------------------------------------------------


async def test_idempotency_key_replays_and_refuses_reuse(books: Books) -> None:
    cash = await books.account("1000")
    await books.account("4000", "revenue")
    legs = (("1000", "debit", "7.00"), ("4000", "credit", "7.00"))
    key = f"k-{uuid.uuid4()}"
    first = await books.entry_response(*legs, headers=books.keyed(key))
    assert first.status_code == 201, first.text
    assert "Idempotency-Replayed" not in first.headers
    second = await books.entry_response(*legs, headers=books.keyed(key))
    assert second.status_code == 201, second.text
    assert second.headers["Idempotency-Replayed"] == "true"
    assert second.json() == first.json()
    assert (await books.own(cash))["posted"] == "7.00"
    other = await books.entry_response(
        ("1000", "debit", "8.00"),
        ("4000", "credit", "8.00"),
        headers=books.keyed(key),
    )
    _problem(other, 422, "idempotency.key_reused")
    # a refusal is an answer too: it replays as well
    bad_key = f"k-{uuid.uuid4()}"
    bad = (("1000", "debit", "1.00"), ("9999", "credit", "1.00"))
    r1 = await books.entry_response(*bad, headers=books.keyed(bad_key))
    r2 = await books.entry_response(*bad, headers=books.keyed(bad_key))
    _problem(r1, 422, "ledger.unknown_account")
    assert r2.status_code == 422
    assert r2.headers["Idempotency-Replayed"] == "true"
    assert r2.json()["code"] == "ledger.unknown_account"
    assert (await books.own(cash))["posted"] == "7.00"


# --- tenancy --------------------------------------------------------------------------------


async def test_other_tenants_ids_are_not_found(
    client: httpx.AsyncClient, tenant: TenantKeys, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    books = await _books(client, tenant)
    cash = await books.account("1000")
    await books.account("4000", "revenue")
    entry = await books.entry(("1000", "debit", "1.00"), ("4000", "credit", "1.00"))
    hold = await books.entry(
        ("1000", "debit", "1.00"), ("4000", "credit", "1.00"), status="pending"
    )
    intruder = await make_tenant(sessionmaker)
    read, write = intruder.headers(Role.VIEWER), intruder.headers(Role.ACCOUNTANT)
    for path in (
        f"/v1/ledgers/{books.id}",
        f"/v1/ledgers/{books.id}/accounts",
        f"/v1/ledgers/{books.id}/entries",
        f"/v1/ledgers/{books.id}/verify",
        f"/v1/accounts/{cash['id']}",
        f"/v1/accounts/{cash['id']}/balance",
        f"/v1/accounts/{cash['id']}/statement",
        f"/v1/entries/{entry['id']}",
    ):
        r = await client.get(path, headers=read)
        assert r.status_code == 404, (path, r.text)
    r = await client.post(
        f"/v1/ledgers/{books.id}/entries",
        json=_batch_entry("1000", "4000", "1.00"),
        headers=write,
    )
    _problem(r, 404, "ledger.ledger_not_found")
    _problem(
        await client.post(f"/v1/entries/{entry['id']}:reverse", headers=write),
        404,
        "ledger.entry_not_found",
    )
    _problem(
        await client.post(f"/v1/entries/{hold['id']}:post", headers=write),
        404,
        "ledger.entry_not_found",
    )
    _problem(
        await client.post(f"/v1/entries/{hold['id']}:void", headers=write),
        404,
        "ledger.entry_not_found",
    )
    r = await client.patch(f"/v1/accounts/{cash['id']}", json={"status": "archived"}, headers=write)
    assert r.status_code == 404, r.text
    r = await client.post(
        f"/v1/ledgers/{books.id}/accounts",
        json={"code": "X1", "name": "x", "type": "asset"},
        headers=write,
    )
    assert r.status_code == 404, r.text
    # the owner's books are untouched
    assert (await books.own(cash))["posted"] == "1.00"
    assert (
        await books.client.get(f"/v1/entries/{hold['id']}", headers=books.h(Role.VIEWER))
    ).json()["status"] == "pending"
