"""A stateful property test of the journal against a reference model.

Hypothesis drives random sequences of account creation, entries, holds, partial posts,
voids, reversals and period closes straight into :func:`autoledger.ledger.journal.execute`
(one session and commit per step) and predicts every outcome with a tiny in-memory model.
After every step the invariants of the books are checked against the database.

The state machine runs synchronously on a dedicated event loop with its own engine on a
dedicated database, apart from the pytest-asyncio session loop.
"""

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.kit.errors import AutoledgerError
from autoledger.ledger import journal, service
from autoledger.ledger.commands import Command, PostPending, ReverseEntry, VoidPending
from autoledger.ledger.types import AccountType, Direction
from autoledger.ledger.views import EntryView
from tests.conftest import BACKENDS
from tests.ledger.support import (
    Setup,
    fresh_database,
    fresh_sessionmaker,
    new_account,
    new_ledger,
    nonzero,
    replayed_balances,
    stored_balances,
    transfer,
)

T = TypeVar("T")
ASSET = "USD"
PERIODS = {
    "jan": (date(2020, 1, 1), date(2020, 1, 31)),
    "feb": (date(2020, 2, 1), date(2020, 2, 29)),
}
DATES = [None, date(2020, 1, 15), date(2020, 2, 10)]
amounts = st.integers(min_value=1, max_value=50_000)
picks = st.integers(min_value=0, max_value=10_000)


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@dataclass
class Bal:
    dp: int = 0
    cp: int = 0
    dpend: int = 0
    cpend: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.dp, self.cp, self.dpend, self.cpend)


@dataclass
class ModelEntry:
    id: uuid.UUID
    legs: list[tuple[uuid.UUID, Direction, int]]
    status: str
    day: date
    posted: list[int] = field(default_factory=list)
    reversed: bool = False


class Model:
    def __init__(self) -> None:
        self.bal: dict[uuid.UUID, Bal] = defaultdict(Bal)
        self.guarded: set[uuid.UUID] = set()
        self.closed: set[str] = set()

    def is_closed(self, day: date) -> bool:
        return any(PERIODS[p][0] <= day <= PERIODS[p][1] for p in self.closed)

    def try_apply(self, changes: list[tuple[uuid.UUID, str, int]], check: bool) -> str | None:
        """Apply (account, field, delta) changes unless a guarded account would go short."""
        trial = {a: Bal(*self.bal[a].as_tuple()) for a, _, _ in changes}
        for account, name, delta in changes:
            setattr(trial[account], name, getattr(trial[account], name) + delta)
        if check:
            for account, b in trial.items():
                if account in self.guarded and b.dp + b.dpend > b.cp:
                    return "ledger.insufficient_funds"
        self.bal.update(trial)
        return None


def _run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


def make_machine(
    loop: asyncio.AbstractEventLoop, sm: async_sessionmaker[AsyncSession]
) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model = Model()
            self.accounts: list[uuid.UUID] = []
            self.entries: list[ModelEntry] = []
            self.periods: dict[str, uuid.UUID] = {}
            self.setup = Setup(uuid.uuid4(), uuid.uuid4())

        # plumbing
        def execute(self, command: Command) -> EntryView | AutoledgerError:
            async def go() -> EntryView | AutoledgerError:
                async with sm() as session:
                    [outcome] = await journal.execute(session, [command])
                    await session.commit()
                return outcome

            return _run(loop, go())

        def expect(self, outcome: EntryView | AutoledgerError, code: str | None) -> None:
            got = outcome.code if isinstance(outcome, AutoledgerError) else None
            assert got == code, (code, outcome)

        def pick(self, items: list[T], i: int) -> T:
            return items[i % len(items)]

        def today(self) -> date:
            return utcnow().date()

        @initialize()
        def books(self) -> None:
            async def go() -> None:
                self.setup = await new_ledger(sm)
                for code in ("1000", "4000"):
                    self.accounts.append(
                        await new_account(
                            sm,
                            self.setup,
                            code,
                            AccountType.ASSET if code == "1000" else AccountType.REVENUE,
                        )
                    )
                async with sm() as session:
                    for name, (start, end) in PERIODS.items():
                        period = await service.create_period(
                            session,
                            self.setup.tenant_id,
                            self.setup.ledger_id,
                            name=name,
                            start_date=start,
                            end_date=end,
                        )
                        self.periods[name] = period.id
                    await session.commit()

            _run(loop, go())

        # rules
        @rule(guarded=st.booleans())
        def create_account(self, guarded: bool) -> None:
            code = f"A{len(self.accounts)}"
            account = _run(
                loop,
                new_account(sm, self.setup, code, AccountType.LIABILITY, guarded=guarded),
            )
            self.accounts.append(account)
            if guarded:
                self.model.guarded.add(account)

        def _create(self, i: int, j: int, amount: int, day: int, pending: bool) -> None:
            debit, credit = self.pick(self.accounts, i), self.pick(self.accounts, j)
            if debit == credit:
                credit = self.accounts[(self.accounts.index(debit) + 1) % len(self.accounts)]
            effective = DATES[day]
            real_day = effective or self.today()
            outcome = self.execute(
                transfer(
                    self.setup,
                    debit,
                    credit,
                    money(amount),
                    pending=pending,
                    effective_date=effective,
                )
            )
            if self.model.is_closed(real_day):
                expected: str | None = "ledger.period_closed"
            else:
                fields = ("dpend", "cpend") if pending else ("dp", "cp")
                expected = self.model.try_apply(
                    [(debit, fields[0], amount), (credit, fields[1], amount)], check=True
                )
            self.expect(outcome, expected)
            if isinstance(outcome, EntryView):
                self.entries.append(
                    ModelEntry(
                        outcome.id,
                        [(debit, Direction.DEBIT, amount), (credit, Direction.CREDIT, amount)],
                        "pending" if pending else "posted",
                        real_day,
                        [] if pending else [amount, amount],
                    )
                )

        @rule(i=picks, j=picks, amount=amounts, day=st.integers(0, len(DATES) - 1))
        def post_entry(self, i: int, j: int, amount: int, day: int) -> None:
            self._create(i, j, amount, day, pending=False)

        @rule(i=picks, j=picks, amount=amounts, day=st.integers(0, len(DATES) - 1))
        def hold(self, i: int, j: int, amount: int, day: int) -> None:
            self._create(i, j, amount, day, pending=True)

        def _pending(self) -> list[ModelEntry]:
            return [e for e in self.entries if e.status == "pending"]

        def _release(self, entry: ModelEntry) -> list[tuple[uuid.UUID, str, int]]:
            return [
                (a, "dpend" if d is Direction.DEBIT else "cpend", -amt) for a, d, amt in entry.legs
            ]

        @precondition(lambda self: any(e.status == "pending" for e in self.entries))
        @rule(k=picks, fraction=st.integers(1, 100))
        def post_hold(self, k: int, fraction: int) -> None:
            entry = self.pick(self._pending(), k)
            part = max(1, entry.legs[0][2] * fraction // 100)
            outcome = self.execute(
                PostPending(
                    self.setup.tenant_id,
                    entry.id,
                    "test",
                    None if fraction == 100 else (money(part), money(part)),
                )
            )
            if self.model.is_closed(entry.day):
                expected: str | None = "ledger.period_closed"
            else:
                book = [(a, "dp" if d is Direction.DEBIT else "cp", part) for a, d, _ in entry.legs]
                expected = self.model.try_apply(self._release(entry) + book, check=True)
            self.expect(outcome, expected)
            if expected is None:
                entry.status, entry.posted = "posted", [part, part]

        @precondition(lambda self: any(e.status == "pending" for e in self.entries))
        @rule(k=picks)
        def void_hold(self, k: int) -> None:
            entry = self.pick(self._pending(), k)
            outcome = self.execute(VoidPending(self.setup.tenant_id, entry.id, "test"))
            if self.model.is_closed(entry.day):
                expected: str | None = "ledger.period_closed"
            else:
                expected = self.model.try_apply(self._release(entry), check=False)
            self.expect(outcome, expected)
            if expected is None:
                entry.status = "voided"
            # a second attempt is refused whatever happened
            again = self.execute(PostPending(self.setup.tenant_id, entry.id, "test"))
            if entry.status == "voided":
                self.expect(again, "ledger.entry_not_pending")

        @precondition(lambda self: any(e.status != "pending" for e in self.entries))
        @rule(k=picks)
        def reverse(self, k: int) -> None:
            entry = self.pick([e for e in self.entries if e.status != "pending"], k)
            outcome = self.execute(ReverseEntry(self.setup.tenant_id, entry.id, "test"))
            if entry.status == "voided":
                expected: str | None = "ledger.entry_not_posted"
            elif entry.reversed:
                expected = "ledger.already_reversed"
            else:
                flipped = [
                    (a, "cp" if d is Direction.DEBIT else "dp", posted)
                    for (a, d, _), posted in zip(entry.legs, entry.posted, strict=True)
                ]
                expected = self.model.try_apply(flipped, check=True)
            self.expect(outcome, expected)
            if isinstance(outcome, EntryView):
                entry.reversed = True
                flip = {Direction.DEBIT: Direction.CREDIT, Direction.CREDIT: Direction.DEBIT}
                legs = [
                    (a, flip[d], p) for (a, d, _), p in zip(entry.legs, entry.posted, strict=True)
                ]
                self.entries.append(
                    ModelEntry(outcome.id, legs, "posted", self.today(), list(entry.posted))
                )

        @rule(name=st.sampled_from(sorted(PERIODS)), closed=st.booleans())
        def set_period(self, name: str, closed: bool) -> None:
            async def go() -> None:
                async with sm() as session:
                    await service.set_period_status(
                        session,
                        self.setup.tenant_id,
                        self.periods[name],
                        closed=closed,
                        actor="test",
                    )
                    await session.commit()

            _run(loop, go())
            (self.model.closed.add if closed else self.model.closed.discard)(name)

        # invariants
        @invariant()
        def books_hold(self) -> None:
            async def go() -> None:
                async with sm() as session:
                    stored = await stored_balances(session, self.setup.tenant_id)
                    replay = await replayed_balances(session, self.setup.tenant_id)
                    report = await service.verify_chain(
                        session, self.setup.tenant_id, self.setup.ledger_id
                    )
                assert report.ok, report
                assert nonzero(stored) == nonzero(replay)
                posted_sum = sum(dp - cp for dp, cp, _, _ in stored.values())
                pending_sum = sum(dpend - cpend for _, _, dpend, cpend in stored.values())
                assert (posted_sum, pending_sum) == (0, 0)
                for account in self.model.guarded:
                    dp, cp, dpend, _ = stored.get((account, ASSET), (0, 0, 0, 0))
                    assert dp + dpend <= cp, (account, stored[(account, ASSET)])
                model = {(a, ASSET): b.as_tuple() for a, b in self.model.bal.items()}
                assert nonzero(stored) == nonzero(model)

            if self.accounts:
                _run(loop, go())

    return LedgerMachine


@pytest.mark.parametrize("backend", BACKENDS)
def test_journal_matches_reference_model(backend: str, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    try:
        config = _run(loop, stack.enter_async_context(fresh_database(backend, tmp_path)))
        sm = _run(loop, stack.enter_async_context(fresh_sessionmaker(config)))
        run_state_machine_as_test(
            make_machine(loop, sm),
            settings=settings(
                max_examples=12 if backend == "sqlite" else 8,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                database=None,
            ),
        )
    finally:
        _run(loop, stack.aclose())
        loop.close()
