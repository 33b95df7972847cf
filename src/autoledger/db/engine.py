"""Engines and sessions. A request or a consumer owns the transaction; services never commit."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from autoledger.db import sqlite_driver
from autoledger.kit.settings import Settings

sqlite_driver.register()  # sqlite+aiosqlite: one thread hop per statement


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; busy_timeout makes a second writer wait
    # instead of failing at once; foreign keys are off in SQLite unless asked for.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_savepoint(connection: Any, _name: str) -> None:
    # pysqlite opens its implicit transaction only at the first write, so a SAVEPOINT taken
    # before any write *is* the outermost transaction and its RELEASE commits: a later
    # rollback could not undo the work. Open the transaction first. (Reads stay outside a
    # transaction until the first write, which keeps WAL readers from blocking writers.)
    driver = connection.connection.dbapi_connection
    if not driver.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL (``None`` for in-memory or other dialects)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    options: dict[str, Any] = {}
    if settings.is_sqlite:
        # no pre-ping: a file has no server to lose, and the ping cost every transaction a
        # statement
        path = sqlite_path(settings.database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    else:
        options |= {
            "pool_pre_ping": True,  # a restarted server's dead connections are replaced
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            # Every pooled connection starts with a statement timeout: a runaway query is
            # cancelled by the server (the transaction then fails and rolls back) instead of
            # holding locks and a connection forever. In milliseconds, as PostgreSQL reads it.
            "connect_args": {
                "server_settings": {
                    "statement_timeout": str(round(settings.db_statement_timeout_seconds * 1000))
                }
            },
        }
    options |= overrides
    engine = create_async_engine(settings.database_url, **options)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _sqlite_savepoint)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
