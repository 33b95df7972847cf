"""The one-hop SQLite cursor behaves as a DBAPI cursor (rows, rowcount, lastrowid,
executemany, errors, transactions) and sends each statement to aiosqlite's thread once; and
statements prepared once and sent together (``run``) store and read what SQLAlchemy would,
in the session's transaction, in one round trip."""

import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Uuid,
    bindparam,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from autoledger.db.base import UTCDateTime
from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.sqlite_driver import OneHopDialect, Statements, prepare, run
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


# --- several statements in one hop (sqlite_driver.run) ------------------------------------

_meta = MetaData()
_typed = Table(
    "typed",
    _meta,
    Column("id", Uuid(), primary_key=True),
    Column("at", UTCDateTime()),
    Column("day", Date()),
    Column("doc", JSON()),
    Column("flag", Boolean()),
    Column("amount", BigInteger()),
    Column("weight", Integer(), nullable=False, default=1),
    Column("made", Uuid(), default=uuid.uuid4),
)


@pytest.fixture
async def typed(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.run_sync(_meta.create_all)
    return engine


def _row(n: int) -> dict[str, Any]:
    return {
        "id": uuid.UUID(int=n),
        "at": datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC),
        "day": date(2026, 1, n),
        "doc": {"n": n, "text": "café"},
        "flag": n % 2 == 0,
        "amount": 10**15 + n,
        "made": uuid.UUID(int=1000 + n),
    }


_KEYS = ("id", "at", "day", "doc", "flag", "amount", "made")


async def test_prepared_parameters_are_what_sqlalchemy_sends(typed: AsyncEngine) -> None:
    sent: list[Any] = []

    def capture(*args: Any) -> None:
        sent.append(args[3])  # the DBAPI parameters

    event.listen(typed.sync_engine, "before_cursor_execute", capture)
    try:
        async with typed.begin() as conn:
            await conn.execute(insert(_typed), [_row(1)])
    finally:
        event.remove(typed.sync_engine, "before_cursor_execute", capture)
    prepared = prepare(insert(_typed), typed.dialect, _KEYS)
    assert prepared.parameters(_row(1)) == tuple(sent[0])  # weight: the column's default


async def test_a_hop_writes_and_reads_in_the_session_transaction(
    typed: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    into = prepare(insert(_typed), typed.dialect, _KEYS)
    query = select(*_typed.c).where(_typed.c.day >= bindparam("since")).order_by(_typed.c.id)
    read = prepare(query, typed.dialect)

    def write_then_read(statements: Statements) -> list[tuple[Any, ...]]:
        assert statements.execute(into, [_row(1), _row(2), _row(3)]) == 3
        return statements.rows(read, {"since": date(2026, 1, 2)})

    maker = create_sessionmaker(typed)
    async with maker() as session:
        hops = count_hops(monkeypatch)
        rows = await run(session, write_then_read)
        assert hops == ["_work"]  # three inserts and a select: one round trip
        await session.rollback()
    columns = ("id", "at", "day", "doc", "flag", "amount", "weight", "made")
    assert rows == [tuple((_row(n) | {"weight": 1})[k] for k in columns) for n in (2, 3)]
    async with maker() as session:
        assert await run(session, lambda s: s.rows(read, {"since": date(2026, 1, 1)})) == []
        await run(session, lambda s: s.execute(into, [_row(4)]))
        await session.commit()
    async with maker() as session:
        kept = await session.execute(select(_typed.c.id, _typed.c.at, _typed.c.doc))
        assert [tuple(r) for r in kept] == [(uuid.UUID(int=4), _row(4)["at"], _row(4)["doc"])]


async def test_errors_in_a_hop_are_sqlalchemy_errors(typed: AsyncEngine) -> None:
    into = prepare(insert(_typed), typed.dialect, _KEYS)
    maker = create_sessionmaker(typed)
    async with maker() as session:
        with pytest.raises(IntegrityError) as raised:
            await run(session, lambda s: s.execute(into, [_row(1), _row(1)]))
        assert isinstance(raised.value.orig, sqlite3.IntegrityError)
        await session.rollback()
        textual = prepare(text("SELECT 1, 'a'"), typed.dialect)
        assert await run(session, lambda s: s.rows(textual)) == [(1, "a")]  # as the driver gives
        broken = prepare(text("SELECT * FROM missing"), typed.dialect)
        with pytest.raises(OperationalError, match="no such table"):
            await run(session, lambda s: s.rows(broken))


def test_prepare_refuses_what_it_cannot_fill_in(typed: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="made"):
        prepare(insert(_typed), typed.dialect, ("id",))  # a computed default
    with pytest.raises(ValueError, match="expands"):
        prepare(select(_typed.c.id).where(_typed.c.id.in_(bindparam("ids"))), typed.dialect)
    orphan = Table("orphan", MetaData(), Column("ref", ForeignKey("nowhere.id")))
    with pytest.raises(TypeError, match="no type"):  # typed by a table not loaded yet
        prepare(insert(orphan), typed.dialect, ("ref",))
