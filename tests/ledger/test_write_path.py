"""The fast write path keeps what callers see: responses rendered once by the journal equal
the entry as read back, and a session that already holds a ledger sees its new head; on
SQLite a journal call costs a fixed number of round trips to the driver."""

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.ledger import journal, schemas, service
from autoledger.ledger.commands import CreateEntry, PostingInput
from autoledger.ledger.types import AccountType, Direction
from autoledger.ledger.views import EntryView
from autoledger.platform.audit import service as audit_service
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.roles import Role
from tests.conftest import TenantKeys
from tests.db.test_sqlite_driver import count_hops
from tests.ledger.support import fresh_database, fresh_sessionmaker


async def _ledger(client: httpx.AsyncClient, tenant: TenantKeys) -> tuple[str, dict[str, str]]:
    headers = tenant.headers(Role.ACCOUNTANT)
    r = await client.post(
        "/v1/ledgers", json={"name": "B", "base_currency": "USD"}, headers=headers
    )
    assert r.status_code == 201, r.text
    ledger_id = r.json()["id"]
    for code, type_ in (("1000", "asset"), ("4000", "revenue")):
        body = {"code": code, "name": code, "type": type_, "asset": "USD"}
        r = await client.post(f"/v1/ledgers/{ledger_id}/accounts", json=body, headers=headers)
        assert r.status_code == 201, r.text
    return ledger_id, headers


def _entry(amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "postings": [
            {"account": "1000", "direction": "debit", "amount": amount, "asset": "USD"},
            {"account": "4000", "direction": "credit", "amount": amount, "asset": "USD"},
        ],
        "metadata": {"note": "café"},
        **extra,
    }


async def _stored(client: httpx.AsyncClient, tenant: TenantKeys, entry_id: str) -> Any:
    r = await client.get(f"/v1/entries/{entry_id}", headers=tenant.headers(Role.VIEWER))
    assert r.status_code == 200, r.text
    return r.json()


async def test_entry_responses_equal_the_stored_entry(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ledger_id, headers = await _ledger(client, tenant)
    url = f"/v1/ledgers/{ledger_id}/entries"
    for extra in ({}, {"status": "pending"}, {"id": "w-1"}):
        r = await client.post(url, json=_entry("12.30", **extra), headers=headers)
        assert r.status_code == 201, r.text
        schemas.EntryOut.model_validate_json(r.content)
        assert r.json() == await _stored(client, tenant, r.json()["id"])
    # a replay by client id is rendered from the stored rows, and says so with a 200
    r = await client.post(url, json=_entry("12.30", id="w-1"), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == await _stored(client, tenant, r.json()["id"])


async def test_batch_response_is_a_batch_result_of_stored_entries(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ledger_id, headers = await _ledger(client, tenant)
    url = f"/v1/ledgers/{ledger_id}/entries:batch"
    await client.post(url, json={"entries": [_entry("1.00", id="b-0")]}, headers=headers)
    entries = [_entry("1.00", id="b-0"), _entry("2.00"), _entry("3.00")]
    entries[2]["postings"][1]["account"] = "9999"  # unknown: this item fails alone
    r = await client.post(url, json={"entries": entries, "atomic": False}, headers=headers)
    assert r.status_code == 200, r.text
    result = schemas.BatchResult.model_validate_json(r.content)
    assert r.json() == result.model_dump(mode="json")
    assert [i.status for i in result.items] == ["replayed", "created", "failed"]
    assert (result.created, result.replayed, result.failed) == (1, 1, 1)
    for item in r.json()["items"][:2]:
        assert item["entry"] == await _stored(client, tenant, item["entry"]["id"])


async def test_a_loaded_ledger_sees_the_head_the_journal_advanced(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        tenant_id, ledger_id = await _two_accounts(session, f"t-{uuid.uuid4().hex[:16]}")
        [outcome] = await journal.execute(session, [_command(tenant_id, ledger_id)])
        await session.commit()
        assert isinstance(outcome, EntryView)
        reread = await service.get_ledger(session, tenant_id, ledger_id)
        assert reread.last_seq == outcome.seq == 1
        report = await service.verify_chain(session, tenant_id, ledger_id)
        assert report.ok
        assert report.head_hash == reread.last_hash


async def _two_accounts(session: AsyncSession, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant ``name`` with a ledger of two asset accounts, 1000 and 4000 (committed)."""
    tenant = await auth.create_tenant(session, name)
    ledger = await service.create_ledger(
        session, tenant.id, name="B", base_currency="USD", metadata={}
    )
    for code in ("1000", "4000"):
        await service.create_account(
            session, tenant.id, ledger.id, code=code, name=code, type=AccountType.ASSET
        )
    await session.commit()
    return tenant.id, ledger.id


def _command(tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> CreateEntry:
    return CreateEntry(
        tenant_id,
        ledger_id,
        (
            PostingInput("1000", Direction.DEBIT, "5.00", "USD"),
            PostingInput("4000", Direction.CREDIT, "5.00", "USD"),
        ),
        actor="test",
    )


async def test_on_sqlite_a_journal_call_is_three_round_trips_whatever_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads, balances, then every write (audit records included): each sent to the
    driver's thread once (ADR 0019), so a booking's cost does not grow with its statements."""
    async with fresh_database("sqlite", tmp_path) as settings, fresh_sessionmaker(settings) as sm:
        async with sm() as session:
            tenant_id, ledger_id = await _two_accounts(session, "t")
        for size in (1, 20):
            async with sm() as session:
                await session.connection()
                hops = count_hops(monkeypatch)
                outcomes = await journal.execute(
                    session,
                    [
                        replace(_command(tenant_id, ledger_id), client_id=f"{size}-{i}")
                        for i in range(size)
                    ],
                )
                assert hops == ["_work"] * 3
                monkeypatch.undo()
                await session.commit()
            assert all(isinstance(o, EntryView) and not o.replayed for o in outcomes)
        async with sm() as session:
            report = await service.verify_chain(session, tenant_id, ledger_id)
            audited = await audit_service.verify(session, tenant_id)
        assert report.ok
        assert report.head_seq == 21
        assert audited.ok
        assert audited.records_checked == 21
