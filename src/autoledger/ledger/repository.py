"""Every ledger query, scoped by tenant. Locks are always taken in one global order —
ledger rows, then pending entries, then balance rows, each sorted by key — so concurrent
writers queue instead of deadlocking."""

import functools
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Select, Table, bindparam, func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from autoledger.db import sqlite_driver
from autoledger.ledger.tables import (
    Account,
    AccountDayTotal,
    AccountMonthTotal,
    Balance,
    JournalEntry,
    JournalLogRecord,
    Ledger,
    Period,
    Posting,
    TenantAsset,
)
from autoledger.platform import audit
from autoledger.platform.events import outbox
from autoledger.platform.events.envelope import Event


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """A locked ledger row's chain head."""

    tenant_id: uuid.UUID
    last_seq: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class AccountRow:
    """What the journal reads of an account (plain data, no ORM identity)."""

    id: uuid.UUID
    ledger_id: uuid.UUID
    code: str
    type: str
    asset: str | None
    status: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    balance_limit: int | None


@dataclass(frozen=True, slots=True)
class PostedTotal:
    """Amounts booked on one account and asset, effective ``day`` (report aggregates)."""

    tenant_id: uuid.UUID
    ledger_id: uuid.UUID
    account_id: uuid.UUID
    asset: str
    day: date
    debits: int
    credits: int


BalanceKey = tuple[uuid.UUID, str]
BalanceTotals = tuple[int, int, int, int, int]
"""``(debits_posted, credits_posted, debits_pending, credits_pending, version)``."""

AccountRefs = Mapping[tuple[uuid.UUID, uuid.UUID], tuple[Collection[uuid.UUID], Collection[str]]]
"""Accounts a journal call names, by ``(tenant_id, ledger_id)``: ids and codes."""


@dataclass(slots=True)
class JournalReads:
    """What the journal reads before it plans a call (see :meth:`LedgerRepository.journal_reads`)."""

    heads: dict[uuid.UUID, LedgerHead]
    custom_assets: dict[uuid.UUID, dict[str, int]]  # tenant -> asset code -> scale
    accounts: list[AccountRow]
    closed: dict[uuid.UUID, list[tuple[date, date]]]  # ledger -> closed periods
    client_entries: Sequence[JournalEntry]


@dataclass(slots=True)
class JournalWrites:
    """Everything one journal call writes, in this order (see
    :meth:`LedgerRepository.write_journal`)."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    postings: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)  # {id, status, resolved_at}
    posted: list[dict[str, Any]] = field(default_factory=list)  # {entry_id, index, posted_amount}
    totals: list[PostedTotal] = field(default_factory=list)
    balances: list[dict[str, Any]] = field(default_factory=list)  # account_id, asset, totals
    events: list[Event] = field(default_factory=list)
    heads: list[tuple[uuid.UUID, int, str]] = field(default_factory=list)  # ledger, seq, hash
    audit_entries: list[audit.AuditEntry] = field(default_factory=list)
    recorded_at: datetime | None = None  # when the audit records say it happened


_PG_ACCOUNTS = (
    "SELECT id, ledger_id, code, type, asset, status, debits_must_not_exceed_credits,"
    " credits_must_not_exceed_debits, balance_limit FROM accounts WHERE tenant_id = $1"
)
_PG_ACCOUNTS_BY_ID = _PG_ACCOUNTS + " AND id = any($2::uuid[])"
_PG_ACCOUNTS_BY_REF = (
    _PG_ACCOUNTS + " AND ledger_id = $2 AND (id = any($3::uuid[]) OR code = any($4::text[]))"
)

# Column order and PostgreSQL types of the journal's set-based inserts (``unnest`` of one
# array per column: one statement and one round trip whatever the number of rows).
_PG_INSERTS: dict[str, tuple[tuple[str, str], ...]] = {
    "journal_entries": (
        ("id", "uuid"),
        ("tenant_id", "uuid"),
        ("ledger_id", "uuid"),
        ("seq", "int8"),
        ("client_id", "text"),
        ("status", "text"),
        ("effective_date", "date"),
        ("recorded_at", "timestamptz"),
        ("description", "text"),
        ("metadata", "jsonb"),
        ("source_type", "text"),
        ("source_id", "text"),
        ("actor", "text"),
        ("reverses_id", "uuid"),
        ("expires_at", "timestamptz"),
        ("resolved_at", "timestamptz"),
    ),
    "postings": (
        ("entry_id", "uuid"),
        ("index", "int4"),
        ("tenant_id", "uuid"),
        ("ledger_id", "uuid"),
        ("account_id", "uuid"),
        ("asset", "text"),
        ("direction", "text"),
        ("amount", "int8"),
        ("posted_amount", "int8"),
        ("effective_date", "date"),
        ("seq", "int8"),
    ),
    "journal_log": (
        ("ledger_id", "uuid"),
        ("seq", "int8"),
        ("tenant_id", "uuid"),
        ("entry_id", "uuid"),
        ("action", "text"),
        ("recorded_at", "timestamptz"),
        ("digest", "text"),
        ("prev_hash", "text"),
        ("hash", "text"),
    ),
}


def _unnest_insert(table: str, columns: Sequence[tuple[str, str]]) -> str:
    names = ", ".join(f'"{name}"' for name, _ in columns)
    arrays = ", ".join(f"${i}::{pg_type}[]" for i, (_, pg_type) in enumerate(columns, 1))
    return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608 - constant identifiers  # nosec B608


_PG_INSERT_SQL = {table: _unnest_insert(table, columns) for table, columns in _PG_INSERTS.items()}

_PG_LOCK_BALANCES = """
SELECT b.account_id, b.asset, b.debits_posted, b.credits_posted, b.debits_pending,
       b.credits_pending, b.version
FROM balances AS b JOIN unnest($1::uuid[], $2::text[]) AS k(account_id, asset)
  ON b.account_id = k.account_id AND b.asset = k.asset
ORDER BY b.account_id, b.asset
FOR UPDATE OF b
"""
_PG_CREATE_BALANCES = """
INSERT INTO balances (account_id, asset, tenant_id, debits_posted, credits_posted,
                      debits_pending, credits_pending, version)
SELECT k.account_id, k.asset, k.tenant_id, 0, 0, 0, 0, 0
FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS k(account_id, asset, tenant_id)
ORDER BY k.account_id, k.asset
ON CONFLICT DO NOTHING
"""
# Report aggregates (ADR 0015): add the group's posted amounts to their day and month rows.
# Rows are pre-summed per key (ON CONFLICT may touch a row once per statement) and belong to
# accounts of ledgers whose row lock the caller holds, so concurrent writers never meet here.
_PG_ADD_TOTALS = """
INSERT INTO {table} (account_id, asset, {bucket}, tenant_id, ledger_id, debits, credits)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::date[], $4::uuid[], $5::uuid[], $6::int8[],
                     $7::int8[])
ON CONFLICT (account_id, asset, {bucket}) DO UPDATE
SET debits = {table}.debits + excluded.debits, credits = {table}.credits + excluded.credits
"""
_PG_ADD_DAY_TOTALS = _PG_ADD_TOTALS.format(table="account_day_totals", bucket="day")
_PG_ADD_MONTH_TOTALS = _PG_ADD_TOTALS.format(table="account_month_totals", bucket="month")
_PG_WRITE_BALANCES = """
UPDATE balances AS b
SET debits_posted = v.debits_posted, credits_posted = v.credits_posted,
    debits_pending = v.debits_pending, credits_pending = v.credits_pending, version = v.version
FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[])
  AS v(account_id, asset, debits_posted, credits_posted, debits_pending, credits_pending, version)
WHERE b.account_id = v.account_id AND b.asset = v.asset
"""


@functools.cache
def _sqlite_add_totals(table: type[AccountDayTotal] | type[AccountMonthTotal]) -> Any:
    """The upsert adding to an aggregate table on SQLite, built once: its ``excluded``
    column collection costs about a millisecond to build, every entry would pay it."""
    t = _table(table)
    stmt = sqlite_insert(t)
    return stmt.on_conflict_do_update(
        index_elements=["account_id", "asset", "day" if table is AccountDayTotal else "month"],
        set_={
            "debits": t.c.debits + stmt.excluded.debits,
            "credits": t.c.credits + stmt.excluded.credits,
        },
    )


_ACCOUNT_ROW = (
    Account.id,
    Account.ledger_id,
    Account.code,
    Account.type,
    Account.asset,
    Account.status,
    Account.debits_must_not_exceed_credits,
    Account.credits_must_not_exceed_debits,
    Account.balance_limit,
)
_BALANCE_VALUES = (
    "debits_posted",
    "credits_posted",
    "debits_pending",
    "credits_pending",
    "version",
)
_ZERO_BALANCE = dict.fromkeys(_BALANCE_VALUES, 0)


def _resolve_entries_statement() -> Any:
    table = _table(JournalEntry)
    return (
        update(table)
        .where(table.c.id == _bind("k_id"))
        .values(status=_bind("v_status"), resolved_at=_bind("v_resolved_at"))
    )


def _post_postings_statement() -> Any:
    table = _table(Posting)
    return (
        update(table)
        .where(table.c.entry_id == _bind("k_entry_id"), table.c.index == _bind("k_index"))
        .values(posted_amount=_bind("v_posted_amount"))
    )


def _write_balances_statement() -> Any:
    table = _table(Balance)
    return (
        update(table)
        .where(table.c.account_id == _bind("k_account_id"), table.c.asset == _bind("k_asset"))
        .values({name: _bind(f"v_{name}") for name in _BALANCE_VALUES})
    )


def _resolve_entries_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"k_id": r["id"], "v_status": r["status"], "v_resolved_at": r["resolved_at"]} for r in rows
    ]


def _post_postings_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"k_entry_id": r["entry_id"], "k_index": r["index"], "v_posted_amount": r["posted_amount"]}
        for r in rows
    ]


def _write_balances_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"k_account_id": r["account_id"], "k_asset": r["asset"]}
        | {f"v_{n}": r[n] for n in _BALANCE_VALUES}
        for r in rows
    ]


def _summed_totals(
    rows: Sequence[PostedTotal], bucket: str
) -> list[tuple[tuple[uuid.UUID, str, date], list[Any]]]:
    """``rows`` summed per account, asset and ``bucket`` (``day`` or ``month``), in key
    order: ``((account, asset, bucket), [tenant, ledger, debits, credits])``."""
    start = _day if bucket == "day" else _month
    summed: dict[tuple[uuid.UUID, str, date], list[Any]] = {}
    for r in rows:
        key = (r.account_id, r.asset, start(r.day))
        acc = summed.get(key)
        if acc is None:
            summed[key] = [r.tenant_id, r.ledger_id, r.debits, r.credits]
        else:
            acc[2] += r.debits
            acc[3] += r.credits
    return sorted(summed.items())


def _totals_rows(rows: Sequence[PostedTotal], bucket: str) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account_id,
            "asset": asset,
            bucket: day,
            "tenant_id": tenant_id,
            "ledger_id": ledger_id,
            "debits": debits,
            "credits": credits,
        }
        for (account_id, asset, day), (tenant_id, ledger_id, debits, credits) in _summed_totals(
            rows, bucket
        )
    ]


_AGGREGATE_KEYS = {
    bucket: ("account_id", "asset", bucket, "tenant_id", "ledger_id", "debits", "credits")
    for bucket in ("day", "month")
}


@dataclass(frozen=True, slots=True)
class _SqliteStatements:
    """The journal's statements on SQLite, compiled once (see ``db.sqlite_driver``)."""

    head: sqlite_driver.Prepared
    assets: sqlite_driver.Prepared
    account_by_id: sqlite_driver.Prepared
    account_by_code: sqlite_driver.Prepared
    closed_periods: sqlite_driver.Prepared
    entry_by_client_id: sqlite_driver.Prepared
    create_balance: sqlite_driver.Prepared
    balance: sqlite_driver.Prepared
    inserts: dict[str, sqlite_driver.Prepared]
    resolve_entry: sqlite_driver.Prepared
    post_posting: sqlite_driver.Prepared
    add_totals: dict[str, sqlite_driver.Prepared]  # by bucket: day, month
    write_balance: sqlite_driver.Prepared
    advance_ledger: sqlite_driver.Prepared


@functools.cache
def _sqlite(dialect: Dialect) -> _SqliteStatements:
    def prepared(statement: Any, keys: Sequence[str] | None = None) -> sqlite_driver.Prepared:
        return sqlite_driver.prepare(statement, dialect, keys)

    accounts = select(*_ACCOUNT_ROW).where(
        Account.tenant_id == _bind("tenant_id"), Account.ledger_id == _bind("ledger_id")
    )
    ledgers = _table(Ledger)
    return _SqliteStatements(
        head=prepared(
            select(Ledger.id, Ledger.tenant_id, Ledger.last_seq, Ledger.last_hash).where(
                Ledger.tenant_id == _bind("tenant_id"), Ledger.id == _bind("id")
            )
        ),
        assets=prepared(
            select(TenantAsset.code, TenantAsset.scale).where(
                TenantAsset.tenant_id == _bind("tenant_id")
            )
        ),
        account_by_id=prepared(accounts.where(Account.id == _bind("id"))),
        account_by_code=prepared(accounts.where(Account.code == _bind("code"))),
        closed_periods=prepared(
            select(Period.start_date, Period.end_date).where(
                Period.ledger_id == _bind("ledger_id"), Period.status == "closed"
            )
        ),
        entry_by_client_id=prepared(
            select(JournalEntry.id).where(
                JournalEntry.ledger_id == _bind("ledger_id"),
                JournalEntry.client_id == _bind("client_id"),
            )
        ),
        create_balance=prepared(
            sqlite_insert(Balance).on_conflict_do_nothing(),
            ("account_id", "asset", "tenant_id", *_BALANCE_VALUES),
        ),
        balance=prepared(
            select(*(getattr(Balance, name) for name in _BALANCE_VALUES)).where(
                Balance.account_id == _bind("account_id"), Balance.asset == _bind("asset")
            )
        ),
        inserts={
            table.name: prepared(insert(table), [name for name, _ in _PG_INSERTS[table.name]])
            for table in map(_table, (JournalEntry, Posting, JournalLogRecord))
        },
        resolve_entry=prepared(_resolve_entries_statement()),
        post_posting=prepared(_post_postings_statement()),
        add_totals={
            "day": prepared(_sqlite_add_totals(AccountDayTotal), _AGGREGATE_KEYS["day"]),
            "month": prepared(_sqlite_add_totals(AccountMonthTotal), _AGGREGATE_KEYS["month"]),
        },
        write_balance=prepared(_write_balances_statement()),
        advance_ledger=prepared(
            update(ledgers)
            .where(ledgers.c.id == _bind("k_id"))
            .values(last_seq=_bind("v_last_seq"), last_hash=_bind("v_last_hash"))
        ),
    )


def _heads_sqlite(
    statements: sqlite_driver.Statements, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[uuid.UUID, LedgerHead]:
    """The heads of the ledgers ``(tenant_id, ledger_id)`` that exist. No row lock: SQLite
    has one writer at a time, and a head read before this transaction's first write is
    checked by the journal log's key (a writer that committed since took the next seq)."""
    sql = _sqlite(statements.dialect)
    heads: dict[uuid.UUID, LedgerHead] = {}
    for tenant_id, ledger_id in keys:
        for found, tenant, last_seq, last_hash in statements.rows(
            sql.head, {"tenant_id": tenant_id, "id": ledger_id}
        ):
            heads[found] = LedgerHead(tenant, last_seq, last_hash)
    return heads


def _journal_reads_sqlite(
    statements: sqlite_driver.Statements,
    ledger_keys: Sequence[tuple[uuid.UUID, uuid.UUID]],
    tenant_ids: Sequence[uuid.UUID],
    refs: AccountRefs,
    client_keys: Sequence[tuple[uuid.UUID, str]],
) -> tuple[JournalReads, list[uuid.UUID]]:
    """:meth:`LedgerRepository.journal_reads` in the connection's thread: each lookup by
    key, on its index; the ids of entries with a wanted client id (loaded afterwards)."""
    sql = _sqlite(statements.dialect)
    heads = _heads_sqlite(statements, ledger_keys)
    assets = {
        tenant_id: dict(statements.rows(sql.assets, {"tenant_id": tenant_id}))
        for tenant_id in tenant_ids
    }
    accounts: dict[uuid.UUID, AccountRow] = {}
    for (tenant_id, ledger_id), (ids, codes) in refs.items():
        scope = {"tenant_id": tenant_id, "ledger_id": ledger_id}
        found_rows = [
            *(r for i in ids for r in statements.rows(sql.account_by_id, scope | {"id": i})),
            *(r for c in codes for r in statements.rows(sql.account_by_code, scope | {"code": c})),
        ]
        for row in found_rows:
            accounts[row[0]] = AccountRow(*row)
    closed = {
        ledger_id: [
            (start, end)
            for start, end in statements.rows(sql.closed_periods, {"ledger_id": ledger_id})
        ]
        for ledger_id in heads
    }
    client_entry_ids = [
        entry_id
        for ledger_id, client_id in client_keys
        for (entry_id,) in statements.rows(
            sql.entry_by_client_id, {"ledger_id": ledger_id, "client_id": client_id}
        )
    ]
    return JournalReads(heads, assets, list(accounts.values()), closed, []), client_entry_ids


def _lock_balance_totals_sqlite(
    statements: sqlite_driver.Statements,
    keys_by_tenant: Mapping[uuid.UUID, Collection[BalanceKey]],
    keys: Sequence[BalanceKey],
) -> dict[BalanceKey, BalanceTotals]:
    """:meth:`LedgerRepository.lock_balance_totals` in the connection's thread: missing rows
    created at zero first (the database's write lock is then held: SQLite has one writer,
    so the totals read next cannot change before this transaction ends)."""
    sql = _sqlite(statements.dialect)
    for tenant_id, tenant_keys in keys_by_tenant.items():
        statements.execute(
            sql.create_balance,
            [
                {"account_id": a, "asset": s, "tenant_id": tenant_id} | _ZERO_BALANCE
                for a, s in sorted(set(tenant_keys))
            ],
        )
    out: dict[BalanceKey, BalanceTotals] = {}
    for account_id, asset in keys:
        for totals in statements.rows(sql.balance, {"account_id": account_id, "asset": asset}):
            out[(account_id, asset)] = (totals[0], totals[1], totals[2], totals[3], totals[4])
    return out


def _insert_sqlite(
    statements: sqlite_driver.Statements, table: str, rows: Sequence[dict[str, Any]]
) -> None:
    statements.execute(_sqlite(statements.dialect).inserts[table], rows)


def _resolve_entries_sqlite(
    statements: sqlite_driver.Statements, rows: Sequence[dict[str, Any]]
) -> None:
    statements.execute(_sqlite(statements.dialect).resolve_entry, _resolve_entries_rows(rows))


def _post_postings_sqlite(
    statements: sqlite_driver.Statements, rows: Sequence[dict[str, Any]]
) -> None:
    statements.execute(_sqlite(statements.dialect).post_posting, _post_postings_rows(rows))


def _add_posted_totals_sqlite(
    statements: sqlite_driver.Statements, rows: Sequence[PostedTotal]
) -> None:
    sql = _sqlite(statements.dialect)
    for bucket in ("day", "month"):
        statements.execute(sql.add_totals[bucket], _totals_rows(rows, bucket))


def _write_balances_sqlite(
    statements: sqlite_driver.Statements, rows: Sequence[dict[str, Any]]
) -> None:
    statements.execute(_sqlite(statements.dialect).write_balance, _write_balances_rows(rows))


def _advance_ledgers_sqlite(
    statements: sqlite_driver.Statements, heads: Sequence[tuple[uuid.UUID, int, str]]
) -> None:
    statements.execute(
        _sqlite(statements.dialect).advance_ledger,
        [{"k_id": lid, "v_last_seq": seq, "v_last_hash": h} for lid, seq, h in heads],
    )


def _write_journal_sqlite(statements: sqlite_driver.Statements, writes: JournalWrites) -> None:
    """:meth:`LedgerRepository.write_journal` in the connection's thread."""
    _insert_sqlite(statements, "journal_entries", writes.entries)
    _insert_sqlite(statements, "postings", writes.postings)
    _insert_sqlite(statements, "journal_log", writes.log)
    _resolve_entries_sqlite(statements, writes.resolved)
    _post_postings_sqlite(statements, writes.posted)
    _add_posted_totals_sqlite(statements, writes.totals)
    _write_balances_sqlite(statements, writes.balances)
    outbox.append_in(statements, writes.events)
    _advance_ledgers_sqlite(statements, writes.heads)
    audit.record_in(statements, writes.audit_entries, now=writes.recorded_at)


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.bind.dialect.name if session.bind is not None else "sqlite"

    def _locking(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.with_for_update() if self.dialect == "postgresql" else stmt

    async def _pg(self) -> Any:
        """The session's asyncpg connection, inside the session's transaction.

        The journal's hot statements go to asyncpg directly (prepared once per connection,
        arrays instead of one bind per row), skipping SQLAlchemy's per-statement work. They
        run in the same transaction: SQLAlchemy begins it lazily on its first statement, so
        if none ran yet a trivial one does.
        """
        connection = await self.session.connection()
        fairy = await connection.get_raw_connection()
        if getattr(fairy.dbapi_connection, "_transaction", None) is None:
            await connection.execute(text("SELECT 1"))
        return fairy.driver_connection

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()

    # assets
    async def custom_assets(self, tenant_id: uuid.UUID) -> dict[str, int]:
        if self.dialect == "postgresql":
            conn = await self._pg()
            found = await conn.fetch(
                "SELECT code, scale FROM assets WHERE tenant_id = $1", tenant_id
            )
            return {code: scale for code, scale in found}
        rows = await self.session.execute(
            select(TenantAsset.code, TenantAsset.scale).where(TenantAsset.tenant_id == tenant_id)
        )
        return {code: scale for code, scale in rows.all()}

    async def assets(self, tenant_id: uuid.UUID) -> Sequence[TenantAsset]:
        return (
            await self.session.scalars(
                select(TenantAsset)
                .where(TenantAsset.tenant_id == tenant_id)
                .order_by(TenantAsset.code)
            )
        ).all()

    # ledgers
    async def ledger(self, tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> Ledger | None:
        return await self.session.scalar(
            select(Ledger).where(Ledger.tenant_id == tenant_id, Ledger.id == ledger_id)
        )

    async def ledgers(self, tenant_id: uuid.UUID) -> Sequence[Ledger]:
        return (
            await self.session.scalars(
                select(Ledger).where(Ledger.tenant_id == tenant_id).order_by(Ledger.id)
            )
        ).all()

    async def lock_ledgers(
        self, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[uuid.UUID, Ledger]:
        """Lock ``(tenant_id, ledger_id)`` rows in id order; returns the ones that exist.

        The lock is ``FOR NO KEY UPDATE`` (what an UPDATE of the head's non-key columns takes),
        not ``FOR UPDATE``: rows that reference the ledger (accounts, proposals, open items, ...)
        take ``KEY SHARE`` on it when inserted, and a transaction that inserts one and then
        locks the ledger with ``FOR UPDATE`` deadlocks against another doing the same. Writers
        of the chain still queue behind each other."""
        wanted = sorted(set(keys), key=lambda k: k[1])
        if not wanted:
            return {}
        stmt = (
            select(Ledger)
            .where(tuple_(Ledger.tenant_id, Ledger.id).in_(wanted))
            .order_by(Ledger.id)
            .execution_options(populate_existing=True)
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(key_share=True)
        rows = (await self.session.scalars(stmt)).all()
        return {row.id: row for row in rows}

    async def lock_heads(
        self, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[uuid.UUID, LedgerHead]:
        """Lock ``(tenant_id, ledger_id)`` rows in id order (``FOR NO KEY UPDATE``, see
        :meth:`lock_ledgers`); the heads of those that exist."""
        wanted = sorted(set(keys), key=lambda k: k[1])
        if not wanted:
            return {}
        if self.dialect == "postgresql":
            conn = await self._pg()
            rows = await conn.fetch(
                "SELECT l.id, l.tenant_id, l.last_seq, l.last_hash FROM ledgers AS l"
                " JOIN unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, id)"
                " ON l.id = k.id AND l.tenant_id = k.tenant_id"
                " ORDER BY l.id FOR NO KEY UPDATE OF l",
                [t for t, _ in wanted],
                [i for _, i in wanted],
            )
            return {_uuid(r[0]): LedgerHead(_uuid(r[1]), r[2], r[3]) for r in rows}
        return await sqlite_driver.run(self.session, functools.partial(_heads_sqlite, keys=wanted))

    async def journal_reads(
        self,
        ledger_keys: Iterable[tuple[uuid.UUID, uuid.UUID]],
        tenant_ids: Iterable[uuid.UUID],
        refs: AccountRefs,
        client_keys: Collection[tuple[uuid.UUID, str]],
    ) -> JournalReads:
        """What the journal reads before planning: the ledgers' heads (locked as by
        :meth:`lock_heads`), the tenants' assets, the named accounts, the ledgers' closed
        periods and the entries already made under wanted client ids ``(ledger_id,
        client_id)``. On SQLite all of it in one round trip to the driver."""
        wanted = sorted(set(ledger_keys), key=lambda k: k[1])
        tenants = sorted(set(tenant_ids))
        if self.dialect == "sqlite":
            reads, client_entry_ids = await sqlite_driver.run(
                self.session,
                functools.partial(
                    _journal_reads_sqlite,
                    ledger_keys=wanted,
                    tenant_ids=tenants,
                    refs=refs,
                    client_keys=sorted(client_keys),
                ),
            )
            if client_entry_ids:
                reads.client_entries = list((await self.entries_by_ids(client_entry_ids)).values())
            return reads
        heads = await self.lock_heads(wanted)
        accounts: list[AccountRow] = []
        assets = {tenant_id: await self.custom_assets(tenant_id) for tenant_id in tenants}
        for (tenant_id, ledger_id), (ids, codes) in refs.items():
            accounts.extend(await self.journal_accounts(tenant_id, ledger_id, ids, codes))
        return JournalReads(
            heads=heads,
            custom_assets=assets,
            accounts=accounts,
            closed=await self.closed_periods(list(heads)),
            client_entries=await self.entries_by_client_ids(client_keys),
        )

    async def write_journal(self, writes: JournalWrites) -> None:
        """Write ``writes`` in the caller's transaction: entries, postings, the journal log,
        resolved holds, report aggregates, balances, outbox events, the ledgers' chain heads
        and, last, the audit records (on SQLite all in one round trip to the driver). The
        audit heads are the last locks taken: after every ledger and balance lock (global
        order)."""
        if self.dialect == "sqlite":
            await sqlite_driver.run(
                self.session, functools.partial(_write_journal_sqlite, writes=writes)
            )
            self._loaded_heads(writes.heads)
            return
        await self.insert_many(JournalEntry, writes.entries)
        await self.insert_many(Posting, writes.postings)
        await self.insert_many(JournalLogRecord, writes.log)
        await self.resolve_entries(writes.resolved)
        await self.post_postings(writes.posted)
        await self.add_posted_totals(writes.totals)
        await self.write_balances(writes.balances)
        await outbox.append(self.session, writes.events)
        for ledger_id, last_seq, last_hash in writes.heads:
            await self.advance_ledger(ledger_id, last_seq, last_hash)
        await audit.record(self.session, writes.audit_entries, now=writes.recorded_at)

    async def advance_ledger(self, ledger_id: uuid.UUID, last_seq: int, last_hash: str) -> None:
        if self.dialect == "postgresql":
            conn = await self._pg()
            await conn.execute(
                "UPDATE ledgers SET last_seq = $2, last_hash = $3 WHERE id = $1",
                ledger_id,
                last_seq,
                last_hash,
            )
        else:
            await sqlite_driver.run(
                self.session,
                functools.partial(
                    _advance_ledgers_sqlite, heads=[(ledger_id, last_seq, last_hash)]
                ),
            )
        self._loaded_heads([(ledger_id, last_seq, last_hash)])

    def _loaded_heads(self, heads: Iterable[tuple[uuid.UUID, int, str]]) -> None:
        """Keep a Ledger this session already loaded in step with its advanced row."""
        for ledger_id, last_seq, last_hash in heads:
            loaded = self.session.identity_map.get(identity_key(Ledger, (ledger_id,)))
            if loaded is not None:
                set_committed_value(loaded, "last_seq", last_seq)
                set_committed_value(loaded, "last_hash", last_hash)

    # accounts
    async def account_by_ref(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, ref: str
    ) -> Account | None:
        """The ledger's account named by id or by code (an id of another ledger: None)."""
        try:
            account_id = uuid.UUID(ref)
        except ValueError:
            return await self.account_by_code(tenant_id, ledger_id, ref)
        account = await self.account(tenant_id, account_id)
        return account if account is not None and account.ledger_id == ledger_id else None

    async def account(self, tenant_id: uuid.UUID, account_id: uuid.UUID) -> Account | None:
        return await self.session.scalar(
            select(Account).where(Account.tenant_id == tenant_id, Account.id == account_id)
        )

    async def account_by_code(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, code: str
    ) -> Account | None:
        return await self.session.scalar(
            select(Account).where(
                Account.tenant_id == tenant_id, Account.ledger_id == ledger_id, Account.code == code
            )
        )

    async def accounts_by_refs(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        ids: Collection[uuid.UUID],
        codes: Collection[str],
    ) -> Sequence[Account]:
        conditions = []
        if ids:
            conditions.append(Account.id.in_(ids))
        if codes:
            conditions.append(Account.code.in_(codes))
        if not conditions:
            return []
        stmt = select(Account).where(
            Account.tenant_id == tenant_id, Account.ledger_id == ledger_id, or_(*conditions)
        )
        return (await self.session.scalars(stmt)).all()

    async def journal_accounts(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID | None,
        ids: Collection[uuid.UUID],
        codes: Collection[str] = (),
    ) -> list[AccountRow]:
        """Accounts of the tenant by id or (within ``ledger_id``) by code, as plain rows."""
        if not ids and not codes:
            return []
        if self.dialect == "postgresql":
            conn = await self._pg()
            if ledger_id is None:
                rows = await conn.fetch(_PG_ACCOUNTS_BY_ID, tenant_id, list(ids))
            else:
                rows = await conn.fetch(
                    _PG_ACCOUNTS_BY_REF, tenant_id, ledger_id, list(ids), list(codes)
                )
            return [AccountRow(_uuid(r[0]), _uuid(r[1]), *r[2:]) for r in rows]
        found = (
            await self.accounts_by_ids(tenant_id, ids)
            if ledger_id is None
            else await self.accounts_by_refs(tenant_id, ledger_id, ids, codes)
        )
        return [
            AccountRow(
                a.id,
                a.ledger_id,
                a.code,
                a.type,
                a.asset,
                a.status,
                a.debits_must_not_exceed_credits,
                a.credits_must_not_exceed_debits,
                a.balance_limit,
            )
            for a in found
        ]

    async def accounts_by_ids(
        self, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
    ) -> Sequence[Account]:
        if not ids:
            return []
        stmt = select(Account).where(Account.tenant_id == tenant_id, Account.id.in_(ids))
        return (await self.session.scalars(stmt)).all()

    async def accounts(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        *,
        after: str | None = None,
        limit: int | None = None,
        status: str | None = None,
        type_: str | None = None,
    ) -> Sequence[Account]:
        stmt = select(Account).where(Account.tenant_id == tenant_id, Account.ledger_id == ledger_id)
        if after is not None:
            stmt = stmt.where(Account.code > after)
        if status is not None:
            stmt = stmt.where(Account.status == status)
        if type_ is not None:
            stmt = stmt.where(Account.type == type_)
        stmt = stmt.order_by(Account.code)
        if limit is not None:
            stmt = stmt.limit(limit)
        return (await self.session.scalars(stmt)).all()

    # balances
    async def ensure_balances(
        self, tenant_id: uuid.UUID, keys: Iterable[tuple[uuid.UUID, str]]
    ) -> None:
        """Create missing balance rows (zero), tolerating a concurrent creator."""
        rows = [{"account_id": a, "asset": s, "tenant_id": tenant_id} for a, s in sorted(set(keys))]
        if not rows:
            return
        insert_ = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = insert_(Balance).on_conflict_do_nothing()
        await self.session.execute(
            stmt,
            [
                r
                | {
                    "debits_posted": 0,
                    "credits_posted": 0,
                    "debits_pending": 0,
                    "credits_pending": 0,
                    "version": 0,
                }
                for r in rows
            ],
        )

    async def lock_balance_totals(
        self, keys_by_tenant: Mapping[uuid.UUID, Collection[BalanceKey]]
    ) -> dict[BalanceKey, BalanceTotals]:
        """Lock the balance rows of ``keys`` (creating missing ones at zero); their totals.

        On PostgreSQL the existing rows are locked first, in key order, and only missing ones
        are then inserted (``ON CONFLICT DO NOTHING`` tolerates a concurrent creator) and
        locked: one round trip once an account has its row. Rows created late are locked
        out of key order, which cannot deadlock: every writer of these balances already
        holds their ledger's row lock, so they never wait on each other here.
        """
        keys = sorted({k for ks in keys_by_tenant.values() for k in ks})
        if not keys:
            return {}
        if self.dialect == "sqlite":
            return await sqlite_driver.run(
                self.session,
                functools.partial(
                    _lock_balance_totals_sqlite, keys_by_tenant=keys_by_tenant, keys=keys
                ),
            )
        conn = await self._pg()
        out: dict[BalanceKey, BalanceTotals] = {}

        async def lock(wanted: Sequence[BalanceKey]) -> None:
            for r in await conn.fetch(
                _PG_LOCK_BALANCES, [a for a, _ in wanted], [s for _, s in wanted]
            ):
                out[(_uuid(r[0]), r[1])] = (r[2], r[3], r[4], r[5], r[6])

        await lock(keys)
        if len(out) < len(keys):
            tenant_of = {k: t for t, ks in keys_by_tenant.items() for k in ks}
            missing = [k for k in keys if k not in out]
            await conn.execute(
                _PG_CREATE_BALANCES,
                [a for a, _ in missing],
                [s for _, s in missing],
                [tenant_of[k] for k in missing],
            )
            await lock(missing)
        return out

    async def balances(
        self, tenant_id: uuid.UUID, account_ids: Collection[uuid.UUID]
    ) -> Sequence[Balance]:
        if not account_ids:
            return []
        stmt = (
            select(Balance)
            .where(Balance.tenant_id == tenant_id, Balance.account_id.in_(account_ids))
            .order_by(Balance.account_id, Balance.asset)
        )
        return (await self.session.scalars(stmt)).all()

    async def write_balances(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows keyed ``account_id, asset, debits_posted, ... version`` (new absolute values)."""
        if not rows:
            return
        if self.dialect == "postgresql":
            conn = await self._pg()
            await conn.execute(
                _PG_WRITE_BALANCES,
                [r["account_id"] for r in rows],
                [r["asset"] for r in rows],
                *([r[name] for r in rows] for name in _BALANCE_VALUES),
            )
            return
        await sqlite_driver.run(self.session, functools.partial(_write_balances_sqlite, rows=rows))

    async def add_posted_totals(self, rows: Sequence[PostedTotal]) -> None:
        """Add posted amounts to the report aggregates: one row per account, asset and day
        (and the same summed per month). ``rows`` may repeat a key; they are summed here."""
        if not rows:
            return
        if self.dialect != "postgresql":
            await sqlite_driver.run(
                self.session, functools.partial(_add_posted_totals_sqlite, rows=rows)
            )
            return
        conn = await self._pg()
        for sql, bucket in ((_PG_ADD_DAY_TOTALS, "day"), (_PG_ADD_MONTH_TOTALS, "month")):
            summed = _summed_totals(rows, bucket)
            await conn.execute(
                sql,
                [k[0] for k, _ in summed],
                [k[1] for k, _ in summed],
                [k[2] for k, _ in summed],
                *([v[i] for _, v in summed] for i in range(4)),
            )

    async def posted_totals_as_of(
        self, tenant_id: uuid.UUID, account_ids: Collection[uuid.UUID], as_of: date
    ) -> list[tuple[uuid.UUID, str, str, int]]:
        """``(account, asset, direction, Σ posted)`` over postings effective on or before ``as_of``."""
        stmt = (
            select(
                Posting.account_id,
                Posting.asset,
                Posting.direction,
                func.sum(Posting.posted_amount),
            )
            .where(
                Posting.tenant_id == tenant_id,
                Posting.account_id.in_(account_ids),
                Posting.effective_date <= as_of,
                Posting.posted_amount.is_not(None),
            )
            .group_by(Posting.account_id, Posting.asset, Posting.direction)
        )
        return [(a, s, d, int(t or 0)) for a, s, d, t in (await self.session.execute(stmt)).all()]

    # entries
    async def entry(self, tenant_id: uuid.UUID, entry_id: uuid.UUID) -> JournalEntry | None:
        return await self.session.scalar(
            select(JournalEntry).where(
                JournalEntry.tenant_id == tenant_id, JournalEntry.id == entry_id
            )
        )

    async def lock_entries(
        self, keys: Collection[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[uuid.UUID, JournalEntry]:
        if not keys:
            return {}
        stmt = (
            select(JournalEntry)
            .where(
                tuple_(JournalEntry.tenant_id, JournalEntry.id).in_(
                    sorted(keys, key=lambda k: k[1])
                )
            )
            .order_by(JournalEntry.id)
            .execution_options(populate_existing=True)
        )
        rows = (await self.session.scalars(self._locking(stmt))).all()
        return {row.id: row for row in rows}

    async def entries_by_client_ids(
        self, keys: Collection[tuple[uuid.UUID, str]]
    ) -> Sequence[JournalEntry]:
        if not keys:
            return []
        stmt = select(JournalEntry).where(
            tuple_(JournalEntry.ledger_id, JournalEntry.client_id).in_(list(keys))
        )
        return (await self.session.scalars(stmt)).all()

    async def reversals_of(self, entry_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        if not entry_ids:
            return {}
        rows = await self.session.execute(
            select(JournalEntry.reverses_id, JournalEntry.id).where(
                JournalEntry.reverses_id.in_(entry_ids)
            )
        )
        return {target: entry for target, entry in rows.all() if target is not None}

    async def postings(self, entry_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Posting]]:
        out: dict[uuid.UUID, list[Posting]] = {e: [] for e in entry_ids}
        if not entry_ids:
            return out
        stmt = (
            select(Posting)
            .where(Posting.entry_id.in_(entry_ids))
            .order_by(Posting.entry_id, Posting.index)
        )
        for row in (await self.session.scalars(stmt)).all():
            out[row.entry_id].append(row)
        return out

    async def entries(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        *,
        account_id: uuid.UUID | None,
        date_from: date | None,
        date_to: date | None,
        status: str | None,
        source_type: str | None,
        source_id: str | None,
        metadata: dict[str, str],
        before_seq: int | None,
        limit: int,
    ) -> Sequence[JournalEntry]:
        """Newest first (by commit sequence), keyset-paginated."""
        stmt = select(JournalEntry).where(
            JournalEntry.tenant_id == tenant_id, JournalEntry.ledger_id == ledger_id
        )
        if account_id is not None:
            stmt = stmt.where(
                JournalEntry.id.in_(
                    select(Posting.entry_id).where(Posting.account_id == account_id)
                )
            )
        if date_from is not None:
            stmt = stmt.where(JournalEntry.effective_date >= date_from)
        if date_to is not None:
            stmt = stmt.where(JournalEntry.effective_date <= date_to)
        if status is not None:
            stmt = stmt.where(JournalEntry.status == status)
        if source_type is not None:
            stmt = stmt.where(JournalEntry.source_type == source_type)
        if source_id is not None:
            stmt = stmt.where(JournalEntry.source_id == source_id)
        for key, value in metadata.items():
            stmt = stmt.where(JournalEntry.meta[key].as_string() == value)
        if before_seq is not None:
            stmt = stmt.where(JournalEntry.seq < before_seq)
        stmt = stmt.order_by(JournalEntry.seq.desc()).limit(limit)
        return (await self.session.scalars(stmt)).all()

    async def expired_pending(self, now: Any, limit: int) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
        stmt = (
            select(JournalEntry.tenant_id, JournalEntry.id)
            .where(JournalEntry.status == "pending", JournalEntry.expires_at <= now)
            .order_by(JournalEntry.expires_at)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).all())

    async def insert_many(self, mapped: Any, rows: Sequence[dict[str, Any]]) -> None:
        """One set-based INSERT: ``unnest`` of column arrays on PostgreSQL for the journal's
        tables, else a Core executemany (batched into multi-row VALUES by SQLAlchemy)."""
        if not rows:
            return
        table = _table(mapped)
        columns = _PG_INSERTS.get(table.name) if self.dialect == "postgresql" else None
        if columns is None:
            await self.session.execute(insert(table), list(rows))
            return
        conn = await self._pg()
        arrays = []
        for name, pg_type in columns:
            values = [r[name] for r in rows]
            if pg_type == "jsonb":  # the dialect's jsonb codec takes JSON text
                values = [orjson.dumps(v).decode() for v in values]
            arrays.append(values)
        await conn.execute(_PG_INSERT_SQL[table.name], *arrays)

    async def resolve_entries(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows ``{id, status, resolved_at}``: the one allowed pending → posted|voided change."""
        if rows:
            await self.session.execute(_resolve_entries_statement(), _resolve_entries_rows(rows))

    async def post_postings(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows ``{entry_id, index, posted_amount}``: set once, when a hold is posted."""
        if rows:
            await self.session.execute(_post_postings_statement(), _post_postings_rows(rows))

    # statement
    async def statement(
        self,
        tenant_id: uuid.UUID,
        account_id: uuid.UUID,
        asset: str,
        *,
        date_from: date | None,
        date_to: date | None,
        after: tuple[date, int, int] | None,
        limit: int,
    ) -> Sequence[tuple[Posting, JournalEntry]]:
        stmt = (
            select(Posting, JournalEntry)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(
                Posting.tenant_id == tenant_id,
                Posting.account_id == account_id,
                Posting.asset == asset,
                Posting.posted_amount.is_not(None),
            )
        )
        if date_from is not None:
            stmt = stmt.where(Posting.effective_date >= date_from)
        if date_to is not None:
            stmt = stmt.where(Posting.effective_date <= date_to)
        if after is not None:
            stmt = stmt.where(tuple_(Posting.effective_date, Posting.seq, Posting.index) > after)
        stmt = stmt.order_by(Posting.effective_date, Posting.seq, Posting.index).limit(limit)
        return list((await self.session.execute(stmt)).all())

    async def net_before(
        self,
        tenant_id: uuid.UUID,
        account_id: uuid.UUID,
        asset: str,
        position: tuple[date, int, int] | None,
        date_from: date | None,
    ) -> int:
        """Σ(debit - credit) of posted postings strictly before ``position`` (or ``date_from``)."""
        debit = func.coalesce(
            func.sum(Posting.posted_amount).filter(Posting.direction == "debit"), 0
        )
        credit = func.coalesce(
            func.sum(Posting.posted_amount).filter(Posting.direction == "credit"), 0
        )
        stmt = select(debit, credit).where(
            Posting.tenant_id == tenant_id,
            Posting.account_id == account_id,
            Posting.asset == asset,
            Posting.posted_amount.is_not(None),
        )
        if position is not None:
            stmt = stmt.where(
                tuple_(Posting.effective_date, Posting.seq, Posting.index) <= position
            )
        elif date_from is not None:
            stmt = stmt.where(Posting.effective_date < date_from)
        else:
            return 0
        d, c = (await self.session.execute(stmt)).one()
        return int(d or 0) - int(c or 0)

    # periods
    async def periods(self, tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> Sequence[Period]:
        stmt = (
            select(Period)
            .where(Period.tenant_id == tenant_id, Period.ledger_id == ledger_id)
            .order_by(Period.start_date)
        )
        return (await self.session.scalars(stmt)).all()

    async def period(self, tenant_id: uuid.UUID, period_id: uuid.UUID) -> Period | None:
        return await self.session.scalar(
            select(Period).where(Period.tenant_id == tenant_id, Period.id == period_id)
        )

    async def closed_periods(
        self, ledger_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[date, date]]]:
        out: dict[uuid.UUID, list[tuple[date, date]]] = {lid: [] for lid in ledger_ids}
        if not ledger_ids:
            return out
        if self.dialect == "postgresql":
            conn = await self._pg()
            for ledger_id, start, end in await conn.fetch(
                "SELECT ledger_id, start_date, end_date FROM periods"
                " WHERE ledger_id = any($1::uuid[]) AND status = 'closed'",
                list(ledger_ids),
            ):
                out[ledger_id].append((start, end))
            return out
        stmt = select(Period.ledger_id, Period.start_date, Period.end_date).where(
            Period.ledger_id.in_(ledger_ids), Period.status == "closed"
        )
        for ledger_id, start, end in (await self.session.execute(stmt)).all():
            out[ledger_id].append((start, end))
        return out

    # chain
    async def log(
        self, ledger_id: uuid.UUID, after_seq: int, limit: int
    ) -> Sequence[JournalLogRecord]:
        stmt = (
            select(JournalLogRecord)
            .where(JournalLogRecord.ledger_id == ledger_id, JournalLogRecord.seq > after_seq)
            .order_by(JournalLogRecord.seq)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def entries_by_ids(
        self, entry_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, JournalEntry]:
        if not entry_ids:
            return {}
        rows = (
            await self.session.scalars(select(JournalEntry).where(JournalEntry.id.in_(entry_ids)))
        ).all()
        return {row.id: row for row in rows}

    async def resolved_entry_ids(self, ledger_id: uuid.UUID) -> set[uuid.UUID]:
        stmt = select(JournalLogRecord.entry_id).where(
            JournalLogRecord.ledger_id == ledger_id, JournalLogRecord.action != "create"
        )
        return set((await self.session.scalars(stmt)).all())


def _day(day: date) -> date:
    return day


def _month(day: date) -> date:
    return day.replace(day=1)


def _table(mapped: Any) -> Table:
    table: Table = mapped.__table__
    return table


def _uuid(value: uuid.UUID) -> uuid.UUID:
    """asyncpg's own UUID subclass as a plain ``uuid.UUID`` (orjson refuses the subclass)."""
    return uuid.UUID(int=value.int)


def _bind(name: str) -> Any:
    return bindparam(name)
