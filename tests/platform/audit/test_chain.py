"""The audit chain: records link per tenant, verify replays them, the database refuses to
change them, and a change made behind the triggers' back is named. SQLite and PostgreSQL."""

import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, delete, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from autoledger.platform.audit import AuditEntry, change_digest, record
from autoledger.platform.audit import service as audit
from autoledger.platform.audit.chain import GENESIS_HASH
from autoledger.platform.audit.tables import AuditRecord
from autoledger.platform.auth import service as auth
from tests.conftest import BACKENDS
from tests.ledger.support import fresh_database, fresh_sessionmaker
from tests.platform.audit.conftest import audit_records

log = cast(Table, AuditRecord.__table__)
Maker = async_sessionmaker[AsyncSession]


def _entry(tenant_id: uuid.UUID, action: str, **extra: Any) -> AuditEntry:
    return AuditEntry(
        tenant_id=tenant_id,
        actor="key:00000000-0000-0000-0000-000000000001",
        action=action,
        target_type="thing",
        target_id=action,
        change_digest=change_digest({"action": action}),
        details={"n": 1},
        **extra,
    )


async def _tenants(sm: Maker, n: int) -> list[uuid.UUID]:
    async with sm() as session:
        ids = [
            (await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")).id for _ in range(n)
        ]
        await session.commit()
    return ids


async def _record(sm: Maker, *entries: AuditEntry) -> None:
    async with sm() as session:
        await record(session, entries)
        await session.commit()


async def _behind_the_triggers(sm: Maker, backend: str, statement: Any) -> None:
    """What someone with direct database access could do: switch the guard off, change rows."""
    async with sm() as session:
        if backend == "postgresql":
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        await session.execute(statement)
        await session.commit()


async def _verify(sm: Maker, tenant_id: uuid.UUID) -> audit.VerifyReport:
    async with sm() as session:
        return await audit.verify(session, tenant_id)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_records_chain_per_tenant_and_a_change_behind_the_triggers_is_named(
    backend: str, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as settings, fresh_sessionmaker(settings) as sm:
        a, b = await _tenants(sm, 2)
        assert (await _verify(sm, a)).ok  # an empty chain verifies
        await _record(sm, _entry(a, "one"), _entry(b, "other"), _entry(a, "two"))
        await _record(sm, _entry(a, "three", request_id="req-3", actor_type="cli"))

        rows = await audit_records(sm, a)
        assert [r.seq for r in rows] == [1, 2, 3]
        assert [r.action for r in rows] == ["one", "two", "three"]
        assert rows[0].prev_hash == GENESIS_HASH
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert rows[0].actor_type == "api_key"
        assert (rows[2].actor_type, rows[2].request_id) == ("cli", "req-3")
        assert [r.seq for r in await audit_records(sm, b)] == [1]

        report = await _verify(sm, a)
        assert report.ok, report
        assert (report.records_checked, report.head_seq, report.head_hash) == (3, 3, rows[2].hash)

        await _behind_the_triggers(
            sm,
            backend,
            update(log).where(log.c.tenant_id == a, log.c.seq == 2).values(actor="key:someone"),
        )
        report = await _verify(sm, a)
        assert not report.ok
        assert (report.first_broken_seq, report.first_broken_id) == (2, rows[1].id)
        assert report.records_checked == 1
        assert report.reason is not None
        assert "hash" in report.reason
        assert (await _verify(sm, b)).ok  # another tenant's chain is its own


@pytest.mark.parametrize("backend", BACKENDS)
async def test_removed_records_break_the_chain(backend: str, tmp_path: Path) -> None:
    async with fresh_database(backend, tmp_path) as settings, fresh_sessionmaker(settings) as sm:
        [a] = await _tenants(sm, 1)
        await _record(sm, *(_entry(a, f"a{i}") for i in range(4)))
        rows = await audit_records(sm, a)

        await _behind_the_triggers(sm, backend, delete(log).where(log.c.id == rows[3].id))
        report = await _verify(sm, a)  # the tail: the head still points at seq 4
        assert (report.ok, report.first_broken_seq) == (False, 4)
        assert report.reason is not None
        assert "head" in report.reason

        await _behind_the_triggers(sm, backend, delete(log).where(log.c.id == rows[1].id))
        report = await _verify(sm, a)
        assert (report.ok, report.first_broken_seq, report.first_broken_id) == (
            False,
            3,
            rows[2].id,
        )
        assert report.reason is not None
        assert "missing" in report.reason


async def _refused(engine: AsyncEngine, statement: Any) -> None:
    async with engine.connect() as conn:
        with pytest.raises((DBAPIError, IntegrityError)) as excinfo:
            await conn.execute(statement)
        await conn.rollback()
    assert "append-only" in str(excinfo.value)


async def test_the_database_refuses_to_change_or_delete_records(
    engine: AsyncEngine, sessionmaker: Maker
) -> None:
    [a] = await _tenants(sessionmaker, 1)
    await _record(sessionmaker, _entry(a, "kept"))
    await _refused(engine, update(log).where(log.c.tenant_id == a).values(action="changed"))
    await _refused(engine, delete(log).where(log.c.tenant_id == a))
    if engine.dialect.name == "postgresql":
        await _refused(engine, text("TRUNCATE audit_log"))
    [row] = await audit_records(sessionmaker, a)
    assert row.action == "kept"
    assert (await _verify(sessionmaker, a)).ok


def test_actor_types_follow_the_actor() -> None:
    assert audit.actor_type_of("key:1f") == "api_key"
    assert audit.actor_type_of("system:expiry") == "system"
    assert audit.actor_type_of("consumer:webhooks") == "worker"
    assert audit.actor_type_of("model:cat-7") == "model"
    assert audit.actor_type_of("agent:close-books") == "agent"
    assert audit.actor_type_of("cli") == "cli"
