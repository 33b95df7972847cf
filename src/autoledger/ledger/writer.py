"""Group commit: concurrent single-entry requests share one database transaction.

One writer task per process drains a bounded queue: whatever has accumulated while the
previous transaction ran becomes the next group (up to ``max_group``). The journal applies
the group with one lock pass and set-based writes; a command that fails a check fails
alone. If the group's transaction itself fails (a lost connection, a unique-key race with
another process), its commands are retried one by one, so one bad command never takes
its neighbours down. A full queue is refused at once (``Overloaded`` → 503 Retry-After):
backpressure instead of unbounded latency. See docs/adr/0004-group-commit.md.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.db.tenancy import acting_for
from autoledger.kit.errors import Unavailable
from autoledger.ledger import journal
from autoledger.ledger.commands import Command
from autoledger.ledger.journal import Outcome

log = structlog.get_logger("autoledger.ledger.writer")

Finish = Callable[[AsyncSession, Outcome], Awaitable[None]]


class Overloaded(Unavailable):
    code = "service.overloaded"
    title = "Write path saturated"


@dataclass(slots=True)
class _Item:
    command: Command
    future: "asyncio.Future[Outcome]"
    finish: Finish | None


class JournalWriter:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_group: int = 512,
        max_queue: int = 20_000,
        serialize: bool = False,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.max_group = max_group
        self.queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=max_queue)
        # SQLite has one writer at a time: direct batches and groups take turns in-process.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if serialize else None
        self._task: asyncio.Task[None] | None = None
        self.groups = 0
        self.commands = 0

    def _guard(self) -> AbstractAsyncContextManager[object]:
        return self._write_lock if self._write_lock is not None else nullcontext()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="journal-writer")

    async def stop(self) -> None:
        """Finish everything queued, then stop."""
        if self._task is None:
            return
        await self.queue.put(None)
        await self._task
        self._task = None

    async def submit(self, command: Command, finish: Finish | None = None) -> Outcome:
        if self._task is None:
            raise Overloaded("the journal writer is not running", headers={"Retry-After": "1"})
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait(_Item(command, future, finish))
        except asyncio.QueueFull:
            raise Overloaded(
                "too many writes in flight; retry shortly", headers={"Retry-After": "1"}
            ) from None
        return await future

    async def execute(
        self,
        commands: Sequence[Command],
        *,
        atomic: bool,
        finish: Callable[[AsyncSession, list[Outcome]], Awaitable[None]] | None = None,
    ) -> list[Outcome]:
        """A batch in its own transaction (not coalesced): all-or-nothing when ``atomic``.

        Each transaction acts for one tenant (row-level security, ADR 0009): a non-atomic
        batch spanning tenants (the expiry sweep) runs one transaction per tenant."""
        tenants = {c.tenant_id for c in commands}
        if len(tenants) > 1:
            if atomic or finish is not None:
                raise ValueError("an atomic batch belongs to one tenant")
            by_tenant = _by_tenant(commands)
            results: dict[int, Outcome] = {}
            for indexes in by_tenant.values():
                part = await self.execute([commands[i] for i in indexes], atomic=False)
                results.update(zip(indexes, part, strict=True))
            return [results[i] for i in range(len(commands))]
        with acting_for(next(iter(tenants))) if tenants else nullcontext():
            async with self._guard(), self.sessionmaker() as session:
                try:
                    outcomes = await journal.execute(session, commands, atomic=atomic)
                    if finish is not None:
                        await finish(session, outcomes)
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        return outcomes

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self.queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < self.max_group and not self.queue.empty():
                item = self.queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                group.append(item)
            by_tenant = _by_tenant([item.command for item in group])
            for indexes in by_tenant.values():  # one transaction per tenant (ADR 0009)
                await self._commit([group[i] for i in indexes])

    async def _commit(self, group: list[_Item]) -> None:
        try:
            with acting_for(group[0].command.tenant_id):
                async with self._guard(), self.sessionmaker() as session:
                    outcomes = await journal.execute(session, [item.command for item in group])
                    for item, outcome in zip(group, outcomes, strict=True):
                        if item.finish is not None:
                            await item.finish(session, outcome)
                    await session.commit()
        except Exception as exc:
            if len(group) > 1:
                log.warning("journal.group_failed", size=len(group), error=type(exc).__name__)
                for item in group:
                    await self._commit([item])
                return
            if not group[0].future.done():
                group[0].future.set_exception(exc)
            return
        self.groups += 1
        self.commands += len(group)
        for item, outcome in zip(group, outcomes, strict=True):
            if not item.future.done():
                item.future.set_result(outcome)


def _by_tenant(commands: Sequence[Command]) -> dict[uuid.UUID, list[int]]:
    """Command indexes per tenant, tenants in order of first appearance."""
    groups: dict[uuid.UUID, list[int]] = {}
    for i, command in enumerate(commands):
        groups.setdefault(command.tenant_id, []).append(i)
    return groups
