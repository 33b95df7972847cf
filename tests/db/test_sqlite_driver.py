"""The one-hop SQLite cursor behaves as a DBAPI cursor (rows, rowcount, lastrowid,
executemany, errors, transactions) and sends each statement to aiosqlite's thread once."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from autoledger.db.engine import create_engine
from autoledger.db.sqlite_driver import OneHopDialect
from tests.conftest import make_settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}", tmp_path))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


def count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def test_sqlite_urls_use_the_one_hop_dialect(engine: AsyncEngine) -> None:
    assert isinstance(engine.dialect, OneHopDialect)


async def test_rows_rowcount_and_lastrowid(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert inserted.lastrowid == 1
        await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
        updated = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert updated.rowcount == 2
        rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b!"), (3, "c!")]
        first = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).first()
        assert first is not None
        assert first.name == "a"
        empty = await conn.execute(text("SELECT name FROM t WHERE id = 99"))
        assert empty.first() is None
        assert list(empty.keys()) == ["name"]


async def test_each_statement_is_one_round_trip(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.connect() as conn:
        hops = count_hops(monkeypatch)
        await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
        await conn.execute(text("SELECT * FROM t"))
        await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "y"}, {"n": "z"}])
        assert hops == ["_run", "_run", "_run"]
        await conn.commit()


async def test_errors_are_sqlalchemy_errors_and_roll_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('dup')"))

    async def duplicate_after_a_write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('kept?')"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('dup')"))

    async def missing_table() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM missing"))

    with pytest.raises(IntegrityError):
        await duplicate_after_a_write()
    with pytest.raises(OperationalError, match="no such table"):
        await missing_table()
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["dup"]  # the failed transaction left nothing behind


async def test_streaming_results_still_work(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO t (name) VALUES (:n)"), [{"n": str(i)} for i in range(50)]
        )
    async with engine.connect() as conn:
        result = await conn.stream(text("SELECT name FROM t ORDER BY id"))
        seen = [row.name async for row in result]
    assert seen == [str(i) for i in range(50)]
