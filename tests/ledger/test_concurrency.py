"""Concurrent writers on PostgreSQL: two group-commit writers (as if two processes) and
direct journal transactions hammer a few constrained hot accounts; nothing is lost, no
constraint breaks, no deadlock surfaces. And one Idempotency-Key sent ten times at once
creates one entry."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.api.app import create_app
from autoledger.kit.errors import AutoledgerError
from autoledger.kit.settings import Settings
from autoledger.ledger import journal, service
from autoledger.ledger.commands import Command, PostPending, VoidPending
from autoledger.ledger.errors import InsufficientFunds
from autoledger.ledger.journal import Outcome
from autoledger.ledger.tables import JournalEntry
from autoledger.ledger.types import AccountType
from autoledger.ledger.views import EntryView
from autoledger.ledger.writer import JournalWriter
from autoledger.platform.auth.roles import Role
from tests.conftest import make_tenant
from tests.ledger.support import (
    create,
    fresh_database,
    fresh_sessionmaker,
    new_account,
    new_ledger,
    nonzero,
    replayed_balances,
    stored_balances,
    transfer,
)

pytestmark = pytest.mark.postgres

WRITERS = 32
OPS_PER_WRITER = 8
FUNDING = 10_000  # minor units per hot account


@pytest.fixture
async def pg_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    """A dedicated PostgreSQL database (skips, or fails in CI, when PostgreSQL is down)."""
    async with fresh_database("postgresql", tmp_path) as settings:
        yield settings


async def test_hot_accounts_under_concurrent_writers(pg_settings: Settings) -> None:
    async with (
        fresh_sessionmaker(pg_settings) as sm_a,
        fresh_sessionmaker(pg_settings) as sm_b,
        fresh_sessionmaker(pg_settings) as sm_direct,
    ):
        setup = await new_ledger(sm_a)
        source = await new_account(sm_a, setup, "3000", AccountType.EQUITY)
        sink = await new_account(sm_a, setup, "5000", AccountType.EXPENSE)
        hot = [
            await new_account(sm_a, setup, f"2{i}00", AccountType.LIABILITY, guarded=True)
            for i in range(3)
        ]
        for account in hot:
            await create(sm_a, transfer(setup, source, account, f"{FUNDING // 100}.00"))

        writers = [JournalWriter(sm_a, max_group=64), JournalWriter(sm_b, max_group=64)]
        for writer in writers:
            await writer.start()

        async def direct(commands: Sequence[Command]) -> list[Outcome]:
            async with sm_direct() as session:
                outcomes = await journal.execute(session, commands)
                await session.commit()
            return outcomes

        async def submit(worker: int, command: Command) -> Outcome:
            if worker % 4 == 3:
                [outcome] = await direct([command])
                return outcome
            return await writers[worker % 2].submit(command)

        outcomes: list[Outcome] = []

        async def work(worker: int) -> None:
            rng = random.Random(worker)
            for _ in range(OPS_PER_WRITER):
                a, b = rng.sample(hot, 2)
                amount = f"{rng.randint(1, 900) / 100:.2f}"
                kind = rng.choice(["spend", "move", "hold", "batch"])
                if kind == "spend":
                    outcomes.append(await submit(worker, transfer(setup, a, sink, amount)))
                elif kind == "move":  # locks two hot rows, in either order
                    outcomes.append(await submit(worker, transfer(setup, a, b, amount)))
                elif kind == "hold":
                    held = await submit(worker, transfer(setup, a, sink, amount, pending=True))
                    outcomes.append(held)
                    if isinstance(held, EntryView):
                        finish: Command = (
                            PostPending(setup.tenant_id, held.id, "test")
                            if rng.random() < 0.5
                            else VoidPending(setup.tenant_id, held.id, "test")
                        )
                        resolved = await submit(worker, finish)
                        assert isinstance(resolved, EntryView), resolved
                        outcomes.append(resolved)
                else:  # a direct multi-entry transaction touching every hot account
                    outcomes.extend(
                        await direct(
                            [
                                transfer(setup, x, y, amount)
                                for x, y in zip(hot, hot[1:] + hot[:1], strict=True)
                            ]
                            + [transfer(setup, b, sink, amount)]
                        )
                    )

        try:
            await asyncio.wait_for(asyncio.gather(*(work(w) for w in range(WRITERS))), 90)
        finally:
            for writer in writers:
                await writer.stop()

        unexpected = [
            o
            for o in outcomes
            if isinstance(o, AutoledgerError) and not isinstance(o, InsufficientFunds)
        ]
        assert unexpected == []
        created = [o for o in outcomes if isinstance(o, EntryView)]
        assert len(created) > WRITERS  # the books really were hammered
        assert len(created) < len(outcomes)  # ...and the constraints really did refuse some

        async with sm_a() as session:
            stored = await stored_balances(session, setup.tenant_id)
            replay = await replayed_balances(session, setup.tenant_id)
            report = await service.verify_chain(session, setup.tenant_id, setup.ledger_id)
            entry_count = await session.scalar(
                select(func.count()).where(JournalEntry.ledger_id == setup.ledger_id)
            )
        assert nonzero(stored) == nonzero(replay)  # no lost update
        assert sum(dp - cp for dp, cp, _, _ in stored.values()) == 0
        assert sum(dpend - cpend for _, _, dpend, cpend in stored.values()) == 0
        for account in hot:
            dp, cp, dpend, cpend = stored[(account, "USD")]
            assert dp + dpend <= cp
            assert (dpend, cpend) == (0, 0)  # every hold was resolved
        assert stored[(source, "USD")][:2] == (3 * FUNDING, 0)
        assert report.ok, report
        assert report.records_checked == report.head_seq
        # one create per entry, plus one post/void per resolved hold
        resolutions = sum(1 for o in created if o.status != "pending" and o.resolved_at)
        assert entry_count is not None
        assert report.records_checked == entry_count + resolutions


async def test_concurrent_requests_with_one_idempotency_key(pg_settings: Settings) -> None:
    app = create_app(pg_settings)
    async with LifespanManager(app):
        sm: async_sessionmaker[AsyncSession] = app.state.system_sessionmaker
        tenant = await make_tenant(sm)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.post(
                "/v1/ledgers",
                json={"name": "B", "base_currency": "USD", "chart_template": "small_business"},
                headers=tenant.headers(Role.ACCOUNTANT),
            )
            assert r.status_code == 201, r.text
            ledger_id = r.json()["id"]
            body = {
                "postings": [
                    {"account": "1110", "direction": "debit", "amount": "5.00", "asset": "USD"},
                    {"account": "4100", "direction": "credit", "amount": "5.00", "asset": "USD"},
                ]
            }
            headers = {**tenant.headers(Role.ACCOUNTANT), "Idempotency-Key": f"k-{uuid.uuid4()}"}
            responses = await asyncio.gather(
                *(
                    client.post(f"/v1/ledgers/{ledger_id}/entries", json=body, headers=headers)
                    for _ in range(10)
                )
            )
            listed = await client.get(
                f"/v1/ledgers/{ledger_id}/entries", headers=tenant.headers(Role.VIEWER)
            )
            late = await client.post(f"/v1/ledgers/{ledger_id}/entries", json=body, headers=headers)

    fresh = [r for r in responses if "Idempotency-Replayed" not in r.headers]
    replays = [r for r in responses if r.headers.get("Idempotency-Replayed") == "true"]
    assert len(fresh) + len(replays) == 10
    created = [r for r in fresh if r.status_code == 201]
    in_flight = [r for r in fresh if r.status_code == 409]
    assert len(created) == 1, [(r.status_code, r.text) for r in responses]
    assert len(created) + len(in_flight) == len(fresh)
    assert all(r.json()["code"] == "idempotency.in_flight" for r in in_flight)
    assert all(r.status_code == 201 and r.json() == created[0].json() for r in replays)
    assert [e["id"] for e in listed.json()["data"]] == [created[0].json()["id"]]
    assert late.status_code == 201
    assert late.headers["Idempotency-Replayed"] == "true"
    assert late.json()["id"] == created[0].json()["id"]


async def test_referencing_the_ledger_then_writing_it_does_not_deadlock(
    pg_settings: Settings,
) -> None:
    """Inserting a row that references the ledger takes KEY SHARE on the ledger row; two
    transactions that each do that and then post an entry must queue on the chain's head,
    not deadlock (the bookkeeping consumer inserts a proposal, then books). The head is
    locked FOR NO KEY UPDATE, which KEY SHARE does not block."""
    async with fresh_sessionmaker(pg_settings) as sm:
        setup = await new_ledger(sm)
        cash = await new_account(sm, setup, "1000", AccountType.ASSET)
        income = await new_account(sm, setup, "4000", AccountType.REVENUE)
        both_referenced = asyncio.Barrier(2)

        async def reference_then_post(code: str) -> EntryView:
            async with sm() as session, session.begin():
                await service.create_account(
                    session, setup.tenant_id, setup.ledger_id,
                    code=code, name=code, type=AccountType.EXPENSE,
                )  # fmt: skip
                await both_referenced.wait()
                return await journal.execute_one(session, transfer(setup, cash, income, "1.00"))

        views = await asyncio.wait_for(
            asyncio.gather(reference_then_post("6100"), reference_then_post("6200")), 30
        )
        assert len({view.id for view in views}) == 2
        async with sm() as session:
            stored = await session.scalar(
                select(func.count()).where(JournalEntry.ledger_id == setup.ledger_id)
            )
        assert stored == 2
