"""Migrations run forwards and backwards on both backends and leave the schema at the head."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from autoledger.db.engine import create_engine
from autoledger.db.migrate import current_revision, downgrade, head_revision, upgrade
from autoledger.kit.settings import Settings
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.errors import TenantNotFound
from autoledger.platform.events import outbox
from tests.conftest import BACKENDS, make_settings, postgres_database

# Tables the head schema must have; "alembic_version" is Alembic's own bookkeeping.
FOUNDATION_TABLES = {"tenants", "api_keys"}


@pytest.fixture(params=BACKENDS)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings for a fresh, never migrated database of the parametrized backend."""
    if request.param == "postgresql":
        async with postgres_database() as url:
            yield make_settings(url, tmp_path)
    else:
        yield make_settings(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", tmp_path)


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def schema(engine: AsyncEngine) -> tuple[str | None, set[str]]:
    """The database's revision and tables, read over a connection of its own."""
    revision = await current_revision(engine)
    async with engine.connect() as connection:
        tables = await connection.run_sync(_table_names)
    await engine.dispose()
    return revision, tables - {"alembic_version"}


def test_head_is_a_single_revision() -> None:
    assert head_revision()


async def test_upgrade_downgrade_upgrade_round_trips(empty_database: Settings) -> None:
    engine = create_engine(empty_database)
    try:
        assert await schema(engine) == (None, set())

        await asyncio.to_thread(upgrade, empty_database)
        revision, tables = await schema(engine)
        assert revision == head_revision()
        assert tables >= FOUNDATION_TABLES

        await asyncio.to_thread(downgrade, empty_database, "base")
        assert await schema(engine) == (None, set())

        await asyncio.to_thread(upgrade, empty_database)
        assert await schema(engine) == (head_revision(), tables)
    finally:
        await engine.dispose()


async def test_upgrading_at_head_changes_nothing(empty_database: Settings) -> None:
    engine = create_engine(empty_database)
    try:
        await asyncio.to_thread(upgrade, empty_database)
        before = await schema(engine)
        await asyncio.to_thread(upgrade, empty_database)
        assert await schema(engine) == before
    finally:
        await engine.dispose()


async def test_a_downgrade_past_outbox_bundles_waits_for_them_to_drain(
    empty_database: Settings,
) -> None:
    """Below 0017 a bundle would be read as one plain event: its events would be lost."""
    owner = empty_database.system_database_url or empty_database.database_url
    engine = create_engine(Settings(database_url=owner))  # the outbox is the system's
    try:
        await asyncio.to_thread(upgrade, empty_database)
        async with async_sessionmaker(engine)() as session:
            await outbox.append_bundle(
                session,
                expander="test.pings",
                bundle_id=uuid.uuid4(),
                tenant_id=uuid.uuid4(),
                type_="test.ping.v1",
                partitionkey="k",
                weight=7,
                body=b"{}",
            )
            await session.commit()
        with pytest.raises(RuntimeError, match="7 events wait in unsent outbox bundles"):
            await asyncio.to_thread(downgrade, empty_database, "20261124_0016")
        assert await current_revision(engine) == head_revision()
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE event_outbox SET published_at = created_at"))
        await asyncio.to_thread(downgrade, empty_database, "20261124_0016")
        assert await current_revision(engine) == "20261124_0016"
    finally:
        await engine.dispose()


async def test_the_test_database_is_at_head(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()


async def test_a_rollback_undoes_work_done_under_a_savepoint(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """pysqlite used to commit a SAVEPOINT taken before the first write (its implicit
    transactions); creating a tenant takes one, so a rollback must still undo it."""
    name = f"t-{uuid.uuid4().hex[:16]}"
    async with sessionmaker() as session:
        await auth.create_tenant(session, name)
        await session.rollback()
    async with sessionmaker() as session:
        with pytest.raises(TenantNotFound):
            await auth.get_tenant_by_name(session, name)
