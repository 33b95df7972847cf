"""Every ledger query, scoped by tenant. Locks are always taken in one global order —
ledger rows, then pending entries, then balance rows, each sorted by key — so concurrent
writers queue instead of deadlocking."""

import functools
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Select, Table, bindparam, func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

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
        return {
            row.id: LedgerHead(row.tenant_id, row.last_seq, row.last_hash)
            for row in (await self.lock_ledgers(wanted)).values()
        }

    async def advance_ledger(self, ledger_id: uuid.UUID, last_seq: int, last_hash: str) -> None:
        if self.dialect == "postgresql":
            conn = await self._pg()
            await conn.execute(
                "UPDATE ledgers SET last_seq = $2, last_hash = $3 WHERE id = $1",
                ledger_id,
                last_seq,
                last_hash,
            )
            # Keep a Ledger this session already loaded in step with the row.
            loaded = self.session.identity_map.get(identity_key(Ledger, (ledger_id,)))
            if loaded is not None:
                set_committed_value(loaded, "last_seq", last_seq)
                set_committed_value(loaded, "last_hash", last_hash)
            return
        await self.session.execute(
            update(Ledger)
            .where(Ledger.id == ledger_id)
            .values(last_seq=last_seq, last_hash=last_hash)
        )

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
        if self.dialect != "postgresql":
            for tenant_id, tenant_keys in keys_by_tenant.items():
                await self.ensure_balances(tenant_id, tenant_keys)
            return {
                key: (
                    r.debits_posted,
                    r.credits_posted,
                    r.debits_pending,
                    r.credits_pending,
                    r.version,
                )
                for key, r in (await self.lock_balances(keys)).items()
            }
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

    async def lock_balances(
        self, keys: Collection[tuple[uuid.UUID, str]]
    ) -> dict[tuple[uuid.UUID, str], Balance]:
        if not keys:
            return {}
        stmt = (
            select(Balance)
            .where(tuple_(Balance.account_id, Balance.asset).in_(sorted(keys)))
            .order_by(Balance.account_id, Balance.asset)
            .execution_options(populate_existing=True)
        )
        rows = (await self.session.scalars(self._locking(stmt))).all()
        return {(row.account_id, row.asset): row for row in rows}

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
        table = _table(Balance)
        stmt = (
            update(table)
            .where(table.c.account_id == _bind("k_account_id"), table.c.asset == _bind("k_asset"))
            .values({name: _bind(f"v_{name}") for name in _BALANCE_VALUES})
        )
        params = [
            {"k_account_id": r["account_id"], "k_asset": r["asset"]}
            | {f"v_{n}": r[n] for n in _BALANCE_VALUES}
            for r in rows
        ]
        await self.session.execute(stmt, params)

    async def add_posted_totals(self, rows: Sequence[PostedTotal]) -> None:
        """Add posted amounts to the report aggregates: one row per account, asset and day
        (and the same summed per month). ``rows`` may repeat a key; they are summed here."""
        if not rows:
            return
        for table, bucket in ((AccountDayTotal, _day), (AccountMonthTotal, _month)):
            summed: dict[tuple[uuid.UUID, str, date], list[Any]] = {}
            for r in rows:
                key = (r.account_id, r.asset, bucket(r.day))
                acc = summed.get(key)
                if acc is None:
                    summed[key] = [r.tenant_id, r.ledger_id, r.debits, r.credits]
                else:
                    acc[2] += r.debits
                    acc[3] += r.credits
            keys = sorted(summed)
            if self.dialect == "postgresql":
                conn = await self._pg()
                await conn.execute(
                    _PG_ADD_DAY_TOTALS if table is AccountDayTotal else _PG_ADD_MONTH_TOTALS,
                    [k[0] for k in keys],
                    [k[1] for k in keys],
                    [k[2] for k in keys],
                    *([summed[k][i] for k in keys] for i in range(4)),
                )
                continue
            column = "day" if table is AccountDayTotal else "month"
            await self.session.execute(
                _sqlite_add_totals(table),
                [
                    {
                        "account_id": k[0],
                        "asset": k[1],
                        column: k[2],
                        "tenant_id": summed[k][0],
                        "ledger_id": summed[k][1],
                        "debits": summed[k][2],
                        "credits": summed[k][3],
                    }
                    for k in keys
                ],
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
        if not rows:
            return
        table = _table(JournalEntry)
        stmt = (
            update(table)
            .where(table.c.id == _bind("k_id"))
            .values(status=_bind("v_status"), resolved_at=_bind("v_resolved_at"))
        )
        await self.session.execute(
            stmt,
            [
                {"k_id": r["id"], "v_status": r["status"], "v_resolved_at": r["resolved_at"]}
                for r in rows
            ],
        )

    async def post_postings(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows ``{entry_id, index, posted_amount}``: set once, when a hold is posted."""
        if not rows:
            return
        table = _table(Posting)
        stmt = (
            update(table)
            .where(table.c.entry_id == _bind("k_entry_id"), table.c.index == _bind("k_index"))
            .values(posted_amount=_bind("v_posted_amount"))
        )
        await self.session.execute(
            stmt,
            [
                {
                    "k_entry_id": r["entry_id"],
                    "k_index": r["index"],
                    "v_posted_amount": r["posted_amount"],
                }
                for r in rows
            ],
        )

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


_BALANCE_VALUES = (
    "debits_posted",
    "credits_posted",
    "debits_pending",
    "credits_pending",
    "version",
)


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
