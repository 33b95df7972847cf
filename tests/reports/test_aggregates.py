"""The report aggregates the journal keeps equal a full replay of the postings, whatever
the mix of posted, held, partly posted, voided and reversed entries and their (back-)dates,
on both backends; and the repository's range sums equal sums over the postings."""

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.ledger import journal
from autoledger.ledger.commands import Command, PostPending, ReverseEntry, VoidPending
from autoledger.ledger.tables import AccountDayTotal, AccountMonthTotal, Posting
from autoledger.ledger.types import AccountType
from autoledger.ledger.views import EntryView
from autoledger.reports.repository import ReportRepository
from tests.conftest import BACKENDS
from tests.ledger.support import (
    Setup,
    fresh_database,
    fresh_sessionmaker,
    new_account,
    new_ledger,
    transfer,
)

T = TypeVar("T")
DAYS = st.dates(date(2025, 11, 1), date(2026, 3, 31))
# Each step: (kind, day, debit pick, credit pick, amount in cents, target pick)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["post", "hold", "post_hold", "part_hold", "void", "reverse"]),
        DAYS,
        st.integers(0, 3),
        st.integers(0, 3),
        st.integers(1, 99_999),
        st.integers(0, 50),
    ),
    min_size=1,
    max_size=25,
)


def _run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


def _money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


Totals = dict[tuple[uuid.UUID, str, date], tuple[int, int]]


async def _stored(session: AsyncSession, setup: Setup) -> tuple[Totals, Totals]:
    days = {
        (r.account_id, r.asset, r.day): (r.debits, r.credits)
        for r in (
            await session.scalars(
                select(AccountDayTotal).where(AccountDayTotal.ledger_id == setup.ledger_id)
            )
        ).all()
    }
    months = {
        (r.account_id, r.asset, r.month): (r.debits, r.credits)
        for r in (
            await session.scalars(
                select(AccountMonthTotal).where(AccountMonthTotal.ledger_id == setup.ledger_id)
            )
        ).all()
    }
    return days, months


async def _replayed(session: AsyncSession, setup: Setup) -> tuple[Totals, Totals]:
    days: dict[tuple[uuid.UUID, str, date], list[int]] = defaultdict(lambda: [0, 0])
    months: dict[tuple[uuid.UUID, str, date], list[int]] = defaultdict(lambda: [0, 0])
    rows = await session.scalars(select(Posting).where(Posting.ledger_id == setup.ledger_id))
    for p in rows.all():
        if not p.posted_amount:
            continue
        side = 0 if p.direction == "debit" else 1
        days[(p.account_id, p.asset, p.effective_date)][side] += p.posted_amount
        months[(p.account_id, p.asset, p.effective_date.replace(day=1))][side] += p.posted_amount

    def nonzero(t: dict[tuple[uuid.UUID, str, date], list[int]]) -> Totals:
        return {k: (v[0], v[1]) for k, v in t.items() if any(v)}

    return nonzero(days), nonzero(months)


async def _scenario(sm: async_sessionmaker[AsyncSession], steps: list[Any]) -> None:
    setup = await new_ledger(sm)
    accounts = [
        await new_account(sm, setup, code, type_)
        for code, type_ in [
            ("1000", AccountType.ASSET),
            ("2000", AccountType.LIABILITY),
            ("4000", AccountType.REVENUE),
            ("6000", AccountType.EXPENSE),
        ]
    ]
    posted: list[EntryView] = []
    held: list[EntryView] = []
    for kind, day, debit, credit, amount, pick in steps:
        if debit == credit:
            credit = (credit + 1) % len(accounts)
        command: Command
        if (
            kind in ("post", "hold")
            or (kind != "reverse" and not held)
            or (kind == "reverse" and not posted)
        ):
            command = transfer(
                setup,
                accounts[debit],
                accounts[credit],
                _money(amount),
                pending=kind == "hold",
                effective_date=day,
            )
        elif kind == "reverse":
            command = ReverseEntry(
                setup.tenant_id, posted.pop(pick % len(posted)).id, "test", effective_date=day
            )
        else:
            target = held.pop(pick % len(held))
            if kind == "void":
                command = VoidPending(setup.tenant_id, target.id, "test")
            else:
                amounts = None
                if kind == "part_hold":
                    part = _money(max(0, target.postings[0].amount - 1))
                    amounts = (part, part)
                command = PostPending(setup.tenant_id, target.id, "test", amounts)
        async with sm() as session:
            [outcome] = await journal.execute(session, [command])
            await session.commit()
        if isinstance(outcome, EntryView):
            if outcome.status == "pending":
                held.append(outcome)
            elif outcome.status == "posted" and outcome.reverses_id is None:
                posted.append(outcome)
    async with sm() as session:
        assert await _stored(session, setup) == await _replayed(session, setup)
        repo = ReportRepository(session)
        postings = (
            await session.scalars(select(Posting).where(Posting.ledger_id == setup.ledger_id))
        ).all()
        for start, end in [
            (None, date(2026, 1, 15)),
            (date(2025, 12, 10), date(2026, 2, 28)),
            (date(2026, 1, 1), date(2026, 1, 31)),
            (date(2026, 2, 3), date(2026, 2, 5)),
        ]:
            expected: dict[uuid.UUID, int] = defaultdict(int)
            for p in postings:
                after = start is None or p.effective_date >= start
                if p.posted_amount and after and p.effective_date <= end:
                    sign = 1 if p.direction == "debit" else -1
                    expected[p.account_id] += sign * p.posted_amount
            found = await repo.nets(setup.tenant_id, setup.ledger_id, "USD", start, end)
            assert {k: v for k, v in found.items() if v} == {k: v for k, v in expected.items() if v}


@pytest.mark.parametrize("backend", BACKENDS)
def test_aggregates_equal_a_replay_of_the_postings(backend: str, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    try:
        config = _run(loop, stack.enter_async_context(fresh_database(backend, tmp_path)))
        sm = _run(loop, stack.enter_async_context(fresh_sessionmaker(config)))

        @settings(
            max_examples=10 if backend == "sqlite" else 6,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            database=None,
        )
        @given(STEPS)
        @example(
            [
                ("post", date(2026, 3, 5), 0, 2, 5_000, 0),
                ("hold", date(2026, 1, 31), 3, 1, 2_500, 0),
                ("hold", date(2025, 12, 1), 0, 1, 700, 0),
                ("post_hold", date(2026, 3, 1), 0, 0, 1, 0),
                ("part_hold", date(2026, 3, 1), 0, 0, 1, 0),
                ("post", date(2025, 11, 30), 1, 2, 900, 0),  # back-dated
                ("reverse", date(2026, 2, 2), 0, 0, 1, 1),
                ("hold", date(2026, 2, 14), 2, 3, 300, 0),
                ("void", date(2026, 2, 14), 0, 0, 1, 0),
            ]
        )
        def check(steps: list[Any]) -> None:
            _run(loop, _scenario(sm, steps))

        check()
    finally:
        _run(loop, stack.aclose())
        loop.close()
