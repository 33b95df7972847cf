"""SQLite through aiosqlite in one thread hop per statement.

SQLAlchemy's aiosqlite adapter sends every step of a statement to aiosqlite's thread on its
own: make a cursor, execute, fetch the rows, close the cursor — four round trips between the
event loop and the connection's thread for one SELECT. On a small machine each round trip
costs 0.1-0.3 ms of wall time (a queue put, a thread switch, a loop wake-up), so a journal
entry's twenty statements spent more time hopping than in SQLite itself (ADR 0019).

:class:`OneHopCursor` runs the whole statement — cursor, execute, fetch, close — as one call
in the connection's thread and keeps what the DBAPI cursor reported (description, rowcount,
lastrowid) for SQLAlchemy to read afterwards. Everything else (transactions, the connection,
errors, server-side cursors) stays SQLAlchemy's and aiosqlite's own. It relies on two private
members, ``aiosqlite.Connection._execute`` (queue a function on the connection's thread) and
``_conn`` (the ``sqlite3.Connection``), both present since aiosqlite 0.17; the versions are
pinned by ``uv.lock`` and the whole test suite runs through this cursor.

:func:`register` makes ``sqlite+aiosqlite`` URLs use it (SQLAlchemy's dialect registry looks
at registered names before its built-in dialects).
"""

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any] | None, int, int | None]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In the connection's thread: the whole statement, the cursor closed before returning."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A DBAPI cursor whose statements each cost one round trip to aiosqlite's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # no aiosqlite cursor: each statement makes and closes its own in the thread
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # nothing is open between statements

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run_async(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._run_async(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run_async(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows) if rows else collections.deque()

    def nextset(self) -> None:
        return None  # SQLite has one result set per statement


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]  # a subclass; SQLAlchemy infers the exact class


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


class OneHopDialect(SQLiteDialect_aiosqlite):
    """``sqlite+aiosqlite`` with :class:`OneHopCursor`."""

    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


def register() -> None:
    """``sqlite+aiosqlite`` URLs use :class:`OneHopDialect` from now on (idempotent)."""
    registry.register("sqlite.aiosqlite", __name__, "OneHopDialect")
