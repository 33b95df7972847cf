"""Helpers for ledger tests that drive the service and the journal directly."""

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.migrate import upgrade
from autoledger.db.tenancy import system_settings
from autoledger.kit.settings import Settings
from autoledger.ledger import journal, service
from autoledger.ledger.commands import CreateEntry, PostingInput
from autoledger.ledger.tables import Balance, JournalEntry, Posting
from autoledger.ledger.types import AccountType, Direction
from autoledger.ledger.views import EntryView
from autoledger.platform.auth import service as auth
from tests.conftest import make_settings, postgres_database


@dataclass(frozen=True)
class Setup:
    tenant_id: uuid.UUID
    ledger_id: uuid.UUID


async def new_ledger(sm: async_sessionmaker[AsyncSession], currency: str = "USD") -> Setup:
    async with sm() as session:
        tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
        ledger = await service.create_ledger(
            session, tenant.id, name="Books", base_currency=currency, metadata={}
        )
        await session.commit()
    return Setup(tenant.id, ledger.id)


async def new_account(
    sm: async_sessionmaker[AsyncSession],
    setup: Setup,
    code: str,
    type_: AccountType = AccountType.ASSET,
    *,
    asset: str | None = "USD",
    guarded: bool = False,
) -> uuid.UUID:
    async with sm() as session:
        account = await service.create_account(
            session,
            setup.tenant_id,
            setup.ledger_id,
            code=code,
            name=code,
            type=type_,
            asset=asset,
            debits_must_not_exceed_credits=guarded,
        )
        await session.commit()
    return account.id


def transfer(
    setup: Setup,
    debit: uuid.UUID | str,
    credit: uuid.UUID | str,
    amount: str,
    *,
    pending: bool = False,
    asset: str = "USD",
    **extra: object,
) -> CreateEntry:
    return CreateEntry(
        setup.tenant_id,
        setup.ledger_id,
        (
            PostingInput(debit, Direction.DEBIT, amount, asset),
            PostingInput(credit, Direction.CREDIT, amount, asset),
        ),
        actor="test",
        pending=pending,
        **extra,  # type: ignore[arg-type]
    )


async def create(sm: async_sessionmaker[AsyncSession], command: CreateEntry) -> EntryView:
    async with sm() as session:
        [outcome] = await journal.execute(session, [command])
        await session.commit()
    assert isinstance(outcome, EntryView), outcome
    return outcome


Totals = dict[tuple[uuid.UUID, str], tuple[int, int, int, int]]


async def stored_balances(session: AsyncSession, tenant_id: uuid.UUID) -> Totals:
    rows = (await session.scalars(select(Balance).where(Balance.tenant_id == tenant_id))).all()
    return {
        (r.account_id, r.asset): (
            r.debits_posted,
            r.credits_posted,
            r.debits_pending,
            r.credits_pending,
        )
        for r in rows
    }


async def replayed_balances(session: AsyncSession, tenant_id: uuid.UUID) -> Totals:
    """Balances recomputed from the postings alone (pending = held amount of unresolved
    entries; posted = posted_amount)."""

    rows = (
        await session.execute(
            select(Posting, JournalEntry.status)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(Posting.tenant_id == tenant_id)
        )
    ).all()
    totals: dict[tuple[uuid.UUID, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for posting, status in rows:
        t = totals[(posting.account_id, posting.asset)]
        debit = posting.direction == Direction.DEBIT
        if posting.posted_amount is not None:
            t[0 if debit else 1] += posting.posted_amount
        if status == "pending":
            t[2 if debit else 3] += posting.amount
    return {k: (v[0], v[1], v[2], v[3]) for k, v in totals.items()}


def nonzero(totals: Totals) -> Totals:
    return {k: v for k, v in totals.items() if any(v)}


@asynccontextmanager
async def fresh_database(backend: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """A dedicated, migrated database (never the shared test database)."""
    async with AsyncExitStack() as stack:
        if backend == "postgresql":
            url = await stack.enter_async_context(postgres_database())
        else:
            url = f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
        settings = make_settings(url, tmp_path / "data")
        await asyncio.to_thread(upgrade, settings)
        yield settings


@asynccontextmanager
async def fresh_sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """System (owner) sessions on a fresh database: tests arrange data across tenants."""
    engine = create_engine(system_settings(settings))
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
