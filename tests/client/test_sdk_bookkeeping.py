"""The SDK's bookkeeping methods: the async client end to end over ASGITransport (SQLite and
PostgreSQL), the sync client's queue paging against a mock transport."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from autoledger.banking import schemas as banking
from autoledger.categorize import schemas as bookkeeping
from autoledger.client.sdk import ApiError, AsyncClient, Client, ProposalQuery
from autoledger.ledger import schemas
from autoledger.platform.auth.roles import Role
from tests.banking.support import csv_statement
from tests.conftest import TenantKeys

BASE = "http://testserver"
LINES = [
    ("2026-01-02", "Coffee Corner", "-3.50"),
    ("2026-01-05", "ACME Corp invoice 17", "1200.00"),
    ("2026-01-13", "Office rent January", "-950.00"),
    ("2026-01-20", "Monthly account fee", "-4.95"),
]


@pytest.fixture
async def sdk(app: FastAPI, tenant: TenantKeys) -> AsyncIterator[AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient(BASE, tenant.keys[Role.ADMIN], transport=transport) as client:
        yield client


async def proposed(
    sdk: AsyncClient, ledger_id: uuid.UUID, count: int
) -> dict[str, bookkeeping.ProposalOut]:
    """Every proposal of the ledger by description, once the worker made ``count``."""
    found: dict[str, bookkeeping.ProposalOut] = {}
    for _ in range(200):
        found = {}
        for status in ("queued", "auto_booked", "accepted", "corrected"):
            query = ProposalQuery(status=status)
            found.update({p.description: p async for p in sdk.iter_proposals(ledger_id, query)})
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(found)} proposals, expected {count}")


async def test_review_queue_rules_policy_models_and_stats(sdk: AsyncClient) -> None:
    ledger = await sdk.create_ledger(
        schemas.LedgerCreate(name="Books", base_currency="USD", chart_template="small_business")
    )
    bank = await sdk.create_bank_account(
        banking.BankAccountCreate(
            ledger_id=ledger.id, gl_account="1110", name="Operating", currency="USD"
        )
    )
    await sdk.import_statement(bank.id, "january.csv", csv_statement(LINES))
    by_text = await proposed(sdk, ledger.id, len(LINES))
    assert {p.bank_account_id for p in by_text.values()} == {bank.id}

    # Filters and pages: the queue of one day, one proposal per page.
    rent = by_text["Office rent January"]
    page = await sdk.list_proposals(
        ledger.id,
        ProposalQuery(status=rent.status, date_from=date(2026, 1, 13), date_to=date(2026, 1, 13)),
        limit=1,
    )
    assert [p.id for p in page.data] == [rent.id]
    assert page.next_cursor is not None
    rest = await sdk.list_proposals(
        ledger.id, ProposalQuery(status=rent.status, date_from=date(2026, 1, 13)), limit=1,
        cursor=page.next_cursor,
    )  # fmt: skip
    assert rent.id not in {p.id for p in rest.data}
    assert (await sdk.get_proposal(rent.id)).bank_transaction_id == rent.bank_transaction_id

    corrected = await sdk.review_proposal(
        rent.id, bookkeeping.Review(action="correct", account="6100")
    )
    assert (corrected.status, corrected.account) == ("corrected", "6100")
    queued = [p.id for p in by_text.values() if p.status == "queued"]
    assert queued  # the invoice: the prior is not sure of it
    accepted = await sdk.bulk_accept(ledger.id, queued)
    assert {p.status for p in accepted.accepted} == {"accepted"}
    with pytest.raises(ApiError) as missing:
        await sdk.get_proposal(uuid.uuid4())
    assert (missing.value.status, missing.value.code) == (404, "categorize.proposal_not_found")

    rule = await sdk.create_rule(
        ledger.id, bookkeeping.RuleIn(account="6800", description_contains="account fee")
    )
    assert [r.id for r in await sdk.list_rules(ledger.id)] == [rule.id]
    assert (await sdk.deactivate_rule(ledger.id, rule.id)).active is False
    assert await sdk.list_rules(ledger.id) == []

    assert (await sdk.get_bookkeeping_settings(ledger.id)).min_feedback == 50
    policy = await sdk.put_bookkeeping_settings(
        ledger.id, bookkeeping.SettingsIn(auto_book=False, min_feedback=20)
    )
    assert (policy.auto_book, policy.min_feedback, policy.retrain_after) == (False, 20, 100)
    assert (await sdk.get_bookkeeping_settings(ledger.id)).auto_book is False

    retrained = await sdk.retrain(ledger.id)
    assert retrained.trained is None  # two labels are not enough to train on
    assert await sdk.list_models(ledger.id) == []
    with pytest.raises(ApiError) as unknown:
        await sdk.promote_model(ledger.id, uuid.uuid4())
    assert unknown.value.code == "categorize.model_not_found"

    numbers = await sdk.bookkeeping_stats(ledger.id)
    assert numbers.ledger_id == ledger.id
    assert numbers.proposals == len(LINES)
    assert numbers.labels == 1 + len(queued)
    assert numbers.queued == 0
    assert numbers.champion_version is None
    assert (await sdk.bookkeeping_stats()).proposals >= len(LINES)


def test_sync_client_pages_the_queue_with_its_filters_and_keys() -> None:
    ledger_id = uuid.uuid4()
    seen: list[httpx.Request] = []

    def proposal(n: int) -> dict[str, object]:
        return {
            "id": str(uuid.UUID(int=n)), "ledger_id": str(ledger_id),
            "bank_account_id": str(uuid.UUID(int=99)),
            "bank_transaction_id": str(uuid.UUID(int=100 + n)), "booking_date": "2026-01-02",
            "amount": "-3.50", "currency": "USD", "description": f"line {n}",
            "counterparty_name": None, "status": "queued",
            "top": [{"account": "6410", "probability": 0.7}], "confidence": 0.7,
            "source": "prior", "explanation": {}, "model_version": None, "account": None,
            "entry_id": None, "reviewed_by": None, "reviewed_at": None,
            "created_at": "2026-01-02T10:00:00Z",
        }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json=proposal(1) | {"status": "accepted"})
        if request.url.params.get("cursor") is None:
            return httpx.Response(200, json=[proposal(1)], headers={"X-Next-Cursor": "next"})
        return httpx.Response(200, json=[proposal(2)])

    with Client(BASE, "al_key", transport=httpx.MockTransport(handler)) as client:
        query = ProposalQuery(source="prior", max_confidence=0.9, date_from=date(2026, 1, 1))
        found = list(client.iter_proposals(ledger_id, query, page_size=1))
        reviewed = client.review_proposal(
            found[0].id, bookkeeping.Review(action="accept"), idempotency_key="k-1"
        )
    assert [p.description for p in found] == ["line 1", "line 2"]
    assert reviewed.status == "accepted"
    first, second, post = seen
    assert first.url.path == f"/v1/ledgers/{ledger_id}/proposals"
    assert dict(first.url.params) == {
        "status": "queued", "source": "prior", "max_confidence": "0.9", "from": "2026-01-01",
        "limit": "1",
    }  # fmt: skip
    assert second.url.params["cursor"] == "next"
    assert post.headers["Idempotency-Key"] == "k-1"
    assert json.loads(post.content) == {"action": "accept"}
