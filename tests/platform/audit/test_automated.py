"""Audit records of work no HTTP request asked for (expiry, CLI replays) and of concurrent
writers: the chain stays contiguous and verifies."""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.ledger import journal
from autoledger.ledger import service as ledger_service
from autoledger.ledger.expiry import expire_pending
from autoledger.ledger.types import AccountType
from autoledger.ledger.views import EntryView
from autoledger.ledger.writer import JournalWriter
from autoledger.platform.audit import AuditEntry, change_digest, record
from autoledger.platform.audit import service as audit
from autoledger.platform.events import consumers
from tests.ledger.support import (
    create,
    fresh_database,
    fresh_sessionmaker,
    new_account,
    new_ledger,
    transfer,
)
from tests.platform.audit.conftest import audit_records
from tests.platform.audit.test_api import _dead_letter

Maker = async_sessionmaker[AsyncSession]


async def test_a_batch_of_n_entries_writes_n_records_and_expiry_is_the_system(
    sessionmaker: Maker,
) -> None:
    setup = await new_ledger(sessionmaker)
    await new_account(sessionmaker, setup, "1000")
    await new_account(sessionmaker, setup, "4000", AccountType.REVENUE)
    commands = [
        transfer(setup, "1000", "4000", f"{i}.00", request_id=f"req-{i}") for i in range(1, 6)
    ]
    async with sessionmaker() as session:
        outcomes = await journal.execute(session, commands)
        await session.commit()
    rows = await audit_records(sessionmaker, setup.tenant_id)
    assert [r.target_id for r in rows] == [str(o.id) for o in outcomes if isinstance(o, EntryView)]
    assert [r.request_id for r in rows] == [f"req-{i}" for i in range(1, 6)]
    assert {(r.actor, r.action) for r in rows} == {("test", "ledger.entry.create")}

    hold = await create(
        sessionmaker,
        transfer(
            setup,
            "1000",
            "4000",
            "1.00",
            pending=True,
            expires_at=utcnow() + timedelta(seconds=0.3),
        ),
    )
    await asyncio.sleep(0.4)
    # the sweep here, or the running service's own expiry worker if it came first (the
    # database is shared): either way the system voids the hold, once
    await expire_pending(JournalWriter(sessionmaker), sessionmaker)
    [expired] = await audit_records(
        sessionmaker, setup.tenant_id, target_id=str(hold.id), action="ledger.entry.void"
    )
    assert (expired.actor, expired.actor_type, expired.request_id) == (
        "system:expiry",
        "system",
        None,
    )
    async with sessionmaker() as session:
        assert (await audit.verify(session, setup.tenant_id)).ok
        assert (await ledger_service.verify_chain(session, setup.tenant_id, setup.ledger_id)).ok


async def test_a_dead_letter_replayed_outside_a_request_is_recorded_as_the_cli(
    sessionmaker: Maker, tenant: object
) -> None:
    letter_id = await _dead_letter(sessionmaker, tenant)  # type: ignore[arg-type]
    async with sessionmaker() as session:
        await consumers.replay(session, None, letter_id)
        await session.commit()
    [row] = await audit_records(sessionmaker, tenant.id)  # type: ignore[attr-defined]
    assert (row.actor, row.actor_type, row.action, row.target_id) == (
        "cli",
        "cli",
        "events.dead_letter.replay",
        str(letter_id),
    )


@pytest.mark.postgres
async def test_concurrent_writers_keep_one_contiguous_chain(tmp_path: Path) -> None:
    """20 transactions of one tenant at once — journal groups and plain writes mixed — on
    PostgreSQL: heads serialize them, no deadlock, seqs 1..n, the chain verifies."""
    async with (
        fresh_database("postgresql", tmp_path) as settings,
        fresh_sessionmaker(settings) as sm,
    ):
        setup = await new_ledger(sm)
        await new_account(sm, setup, "1000")
        await new_account(sm, setup, "4000", AccountType.REVENUE)
        baseline = len(await audit_records(sm, setup.tenant_id))

        async def journal_write(i: int) -> None:
            async with sm() as session:
                await journal.execute(session, [transfer(setup, "1000", "4000", f"{i}.00")])
                await session.commit()

        async def plain_write(i: int) -> None:
            async with sm() as session:
                await record(
                    session,
                    [
                        AuditEntry(
                            tenant_id=setup.tenant_id,
                            actor="cli",
                            action="test.write",
                            target_type="thing",
                            target_id=str(uuid.uuid4()),
                            change_digest=change_digest({"i": i}),
                        )
                    ],
                )
                await session.commit()

        await asyncio.gather(*(journal_write(i) if i % 2 else plain_write(i) for i in range(1, 21)))
        rows = await audit_records(sm, setup.tenant_id)
        assert [r.seq for r in rows] == list(range(1, baseline + 21))
        async with sm() as session:
            report = await audit.verify(session, setup.tenant_id)
            assert report.ok, report
            assert report.head_seq == baseline + 20
            assert (await ledger_service.verify_chain(session, setup.tenant_id, setup.ledger_id)).ok
