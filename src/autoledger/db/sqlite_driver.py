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

A hot path that sends several statements in a row (the journal: ledger heads, accounts,
periods; then every insert of an entry) can go further with :func:`run`: a function runs in
the connection's thread, inside the session's transaction, and sends any number of
:class:`Prepared` statements — each compiled once by SQLAlchemy for the dialect, its
parameters converted by the column types' own bind processors and its rows by their result
processors, so what is stored and read is exactly what the ORM stores and reads — straight
to ``sqlite3``: one round trip and none of SQLAlchemy's per-statement work for all of them.
"""

import collections
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

T = TypeVar("T")

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


# --- several statements in one hop ---------------------------------------------------------

Processor = Callable[[Any], Any]
_GIVEN = object()  # a bind whose value each execution gives


@dataclass(frozen=True, slots=True)
class Prepared:
    """A Core statement compiled once for a SQLite dialect (see :func:`prepare`)."""

    sql: str
    binds: tuple[tuple[str, Processor | None, Any], ...]
    """Positional binds: name, the type's bind processor, and the bind's own value (a
    literal of the statement, a scalar column default) or ``_GIVEN``."""
    results: tuple[Processor | None, ...]
    """The result columns' processors (a SELECT's), in column order; none for a textual
    statement, whose rows are returned as the driver gives them."""

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, process, own in self.binds:
            value = values[name] if own is _GIVEN else values.get(name, own)
            out.append(value if process is None else process(value))
        return tuple(out)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        if not self.results:
            return tuple(raw)
        return tuple(
            value if process is None else process(value)
            for process, value in zip(self.results, raw, strict=True)
        )


def prepare(
    statement: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None
) -> Prepared:
    """Compile ``statement`` (an INSERT for ``column_keys``) once for ``dialect``.

    Values the execution context would fill in (scalar column defaults) are taken from the
    columns; a column whose default is computed (a callable, a SQL expression) must be
    given. Expanding binds (``IN`` lists) are refused: a prepared statement has one shape;
    so is a bind without a type (see below).
    """
    compiled = statement.compile(
        dialect=dialect, column_keys=None if column_keys is None else list(column_keys)
    )
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
        raise TypeError("a SQL statement for a positional (qmark) dialect is needed")
    own: dict[str, Any] = {}
    for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
        default = column.default
        if default is None or not default.is_scalar:
            raise ValueError(f"column {column.key} has a computed default: give its value")
        own[column.key] = default.arg  # type: ignore[attr-defined]
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    binds = []
    for name in compiled.positiontup:
        bind = by_name[name]
        if bind.expanding:
            raise ValueError(f"bind {name} expands to a list: not a prepared statement")
        if isinstance(bind.type, NullType):
            # a column typed by its foreign key's target, whose table is not loaded yet:
            # nothing would convert the value (nothing is cached either, as this raises)
            raise TypeError(f"bind {name} has no type yet: is its foreign key's table imported?")
        if name in own:
            value = own[name]
        elif bind.required:
            value = _GIVEN
        else:
            value = bind.effective_value
        binds.append((name, bind.type.dialect_impl(dialect).bind_processor(dialect), value))
    columns = getattr(statement, "selected_columns", ())
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    return Prepared(compiled.string, tuple(binds), results)


class Statements:
    """The session's ``sqlite3`` connection inside :func:`run` (in aiosqlite's thread).

    Driver errors are raised as SQLAlchemy raises them (``IntegrityError``,
    ``OperationalError``, ... with the driver's error as ``orig``)."""

    __slots__ = ("_connection", "dialect")

    def __init__(self, connection: sqlite3.Connection, dialect: Dialect) -> None:
        self._connection = connection
        self.dialect = dialect

    def rows(
        self, statement: Prepared, values: Mapping[str, Any] = EMPTY_DICT
    ) -> list[tuple[Any, ...]]:
        """Every row of ``statement`` with ``values``, converted as the ORM would."""
        parameters = statement.parameters(values)
        try:
            cursor = self._connection.execute(statement.sql, parameters)
            try:
                raw = cursor.fetchall()
            finally:
                cursor.close()
        except sqlite3.Error as error:
            raise _wrapped(statement.sql, parameters, error) from error
        return [statement.row(r) for r in raw]

    def execute(self, statement: Prepared, rows: Iterable[Mapping[str, Any]]) -> int:
        """``statement`` once per row of values (executemany); the rows it changed."""
        parameters = [statement.parameters(r) for r in rows]
        if not parameters:
            return 0
        try:
            cursor = self._connection.executemany(statement.sql, parameters)
            try:
                return cursor.rowcount
            finally:
                cursor.close()
        except sqlite3.Error as error:
            raise _wrapped(statement.sql, parameters, error) from error


def _wrapped(sql: str, parameters: Any, error: sqlite3.Error) -> BaseException:
    return DBAPIError.instance(sql, parameters, error, sqlite3.Error)


async def run(session: AsyncSession, work: Callable[[Statements], T]) -> T:
    """``work`` in the connection's thread, in the session's transaction: one round trip.

    The session's transaction is begun first if it was not (SQLAlchemy begins lazily), so
    the session's commit or rollback covers what ``work`` writes; ``sqlite3`` opens the
    database transaction at the first write, as it does for statements SQLAlchemy sends.
    Nothing else may use the connection meanwhile (the adapter's mutex is held)."""
    connection = await session.connection()
    fairy = await connection.get_raw_connection()
    adapted = fairy.dbapi_connection
    if not isinstance(adapted, AsyncAdapt_aiosqlite_connection):
        raise TypeError(f"not an aiosqlite connection: {type(adapted).__name__}")
    driver = adapted._connection
    dialect = connection.dialect
    async with adapted._execute_mutex:
        result: T = await driver._execute(_work, driver._conn, dialect, work)
    return result


def _work(connection: sqlite3.Connection, dialect: Dialect, work: Callable[[Statements], T]) -> T:
    return work(Statements(connection, dialect))
