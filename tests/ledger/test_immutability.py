"""The database itself refuses changes to the books, and the hash chain catches a change
made behind the triggers' back. On SQLite and PostgreSQL."""

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import Table, delete, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from autoledger.api.app import create_app
from autoledger.ledger import service
from autoledger.ledger.tables import JournalEntry, JournalLogRecord, Posting
from autoledger.ledger.types import AccountType
from autoledger.ledger.views import EntryView
from autoledger.platform.auth.roles import Role
from tests.conftest import BACKENDS, make_tenant
from tests.ledger.support import (
    Setup,
    create,
    fresh_database,
    fresh_sessionmaker,
    new_account,
    new_ledger,
    transfer,
)

entries = cast(Table, JournalEntry.__table__)
postings = cast(Table, Posting.__table__)
log = cast(Table, JournalLogRecord.__table__)


async def _posted_entry(sm: async_sessionmaker[AsyncSession]) -> tuple[Setup, EntryView]:
    setup = await new_ledger(sm)
    await new_account(sm, setup, "1000")
    await new_account(sm, setup, "4000", AccountType.REVENUE)
    return setup, await create(sm, transfer(setup, "1000", "4000", "10.00"))


async def _refused(engine: AsyncEngine, statement: Any) -> str:
    async with engine.connect() as conn:
        with pytest.raises((DBAPIError, IntegrityError)) as excinfo:
            await conn.execute(statement)
        await conn.rollback()
    message = str(excinfo.value)
    assert "append-only" in message, message
    return message


Change = Callable[[EntryView], Any]

CHANGES: dict[str, Change] = {
    "entry-description": lambda e: (
        update(entries).where(entries.c.id == e.id).values(description="edited")
    ),
    "entry-status": lambda e: update(entries).where(entries.c.id == e.id).values(status="voided"),
    "entry-delete": lambda e: delete(entries).where(entries.c.id == e.id),
    "posting-amount": lambda e: (
        update(postings)
        .where(postings.c.entry_id == e.id, postings.c.index == 0)
        .values(amount=1, posted_amount=1)
    ),
    "posting-posted-amount": lambda e: (
        update(postings).where(postings.c.entry_id == e.id).values(posted_amount=999)
    ),
    "posting-delete": lambda e: delete(postings).where(postings.c.entry_id == e.id),
    "log-update": lambda e: update(log).where(log.c.entry_id == e.id).values(digest="0" * 64),
    "log-delete": lambda e: delete(log).where(log.c.entry_id == e.id),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_posted_rows_are_append_only(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], change: str
) -> None:
    setup, entry = await _posted_entry(sessionmaker)
    await _refused(engine, CHANGES[change](entry))
    async with sessionmaker() as session:
        report = await service.verify_chain(session, setup.tenant_id, setup.ledger_id)
        stored = await service.get_entry(session, setup.tenant_id, entry.id)
    assert report.ok, report
    assert stored.description == entry.description
    assert [p.posted_amount for p in stored.postings] == [1000, 1000]


async def test_a_pending_entry_changes_only_once(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    setup = await new_ledger(sessionmaker)
    await new_account(sessionmaker, setup, "1000")
    await new_account(sessionmaker, setup, "4000", AccountType.REVENUE)
    hold = await create(sessionmaker, transfer(setup, "1000", "4000", "5.00", pending=True))
    # other columns of a pending entry are frozen too
    await _refused(engine, update(entries).where(entries.c.id == hold.id).values(description="x"))
    await _refused(
        engine,
        update(entries).where(entries.c.id == hold.id).values(status="pending", description="y"),
    )
    await _refused(
        engine,
        update(postings).where(postings.c.entry_id == hold.id).values(amount=1),
    )
    async with engine.connect() as conn:  # the allowed transition, once
        await conn.execute(update(entries).where(entries.c.id == hold.id).values(status="voided"))
        await conn.commit()
    await _refused(engine, update(entries).where(entries.c.id == hold.id).values(status="posted"))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_tampering_behind_the_triggers_is_detected(backend: str, tmp_path: Path) -> None:
    async with (
        fresh_database(backend, tmp_path) as settings,
        fresh_sessionmaker(settings) as sm,
    ):
        setup, first = await _posted_entry(sm)
        second = await create(sm, transfer(setup, "1000", "4000", "2.50"))
        third = await create(sm, transfer(setup, "4000", "1000", "1.00"))
        async with sm() as session:
            assert (await service.verify_chain(session, setup.tenant_id, setup.ledger_id)).ok
        # someone with direct database access turns the guard off and edits a posting
        async with sm() as session:
            if backend == "postgresql":
                await session.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                await session.execute(text("DROP TRIGGER postings_guard_update"))
            await session.execute(
                update(postings)
                .where(postings.c.entry_id == second.id)
                .values(amount=25, posted_amount=25)
            )
            await session.commit()
        async with sm() as session:
            report = await service.verify_chain(session, setup.tenant_id, setup.ledger_id)
        assert not report.ok
        assert report.first_broken_entry_id == second.id
        assert report.first_broken_seq == second.seq
        assert report.records_checked == 1
        assert first.id != second.id != third.id

    async with fresh_database(backend, tmp_path) as settings:
        app = create_app(settings)
        async with LifespanManager(app):
            sm2: async_sessionmaker[AsyncSession] = app.state.system_sessionmaker
            tenant = await make_tenant(sm2)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                r = await client.post(
                    "/v1/ledgers",
                    json={"name": "B", "base_currency": "USD", "chart_template": "small_business"},
                    headers=tenant.headers(Role.ACCOUNTANT),
                )
                ledger_id = r.json()["id"]
                body = {
                    "description": "original",
                    "postings": [
                        {"account": "1110", "direction": "debit", "amount": "9.00", "asset": "USD"},
                        {
                            "account": "4100",
                            "direction": "credit",
                            "amount": "9.00",
                            "asset": "USD",
                        },
                    ],
                }
                url = f"/v1/ledgers/{ledger_id}/entries"
                entry = (await client.post(url, json=body, headers=tenant.headers())).json()
                await client.post(url, json=body, headers=tenant.headers())
                verify = f"/v1/ledgers/{ledger_id}/verify"
                assert (await client.get(verify, headers=tenant.headers())).json()["ok"] is True
                async with sm2() as session:
                    if backend == "postgresql":
                        await session.execute(text("SET LOCAL session_replication_role = replica"))
                    else:
                        await session.execute(text("DROP TRIGGER journal_entries_guard_update"))
                    await session.execute(
                        update(entries)
                        .where(entries.c.id == uuid.UUID(entry["id"]))
                        .values(description="rewritten")
                    )
                    await session.commit()
                report = (await client.get(verify, headers=tenant.headers())).json()
                assert report["ok"] is False
                assert report["first_broken_entry_id"] == entry["id"]
                assert report["first_broken_seq"] == 1
                assert report["reason"]
