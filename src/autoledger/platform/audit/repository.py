"""Every audit query, scoped by tenant.

Chain heads are locked last in any transaction that also writes the ledger (after ledger and
balance rows), and in tenant-id order among themselves, so the global lock order holds."""

import functools
import json
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.db import sqlite_driver
from autoledger.platform.audit.chain import GENESIS_HASH
from autoledger.platform.audit.tables import AuditHead, AuditRecord

_LOG = cast(Table, AuditRecord.__table__)
_HEADS = cast(Table, AuditHead.__table__)

_PG_COLUMNS = (
    ("id", "uuid"),
    ("tenant_id", "uuid"),
    ("seq", "bigint"),
    ("occurred_at", "timestamptz"),
    ("actor", "text"),
    ("actor_type", "text"),
    ("action", "text"),
    ("target_type", "text"),
    ("target_id", "text"),
    ("request_id", "text"),
    ("change_digest", "text"),
    ("details", "jsonb"),
    ("prev_hash", "text"),
    ("hash", "text"),
)
_PG_APPEND = text(
    f"INSERT INTO audit_log ({', '.join(name for name, _ in _PG_COLUMNS)})"  # noqa: S608 - constants  # nosec B608
    " SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {pg_type}[])" for name, pg_type in _PG_COLUMNS)
    + ")"
)

Head = tuple[int, str]
"""``(last_seq, last_hash)`` of a tenant's chain."""

Link = Callable[[dict[uuid.UUID, Head]], list[dict[str, Any]]]
"""Records linked to the given heads, the heads moved to their last records."""


def _advance_statement() -> Any:
    return (
        update(_HEADS)
        .where(_HEADS.c.tenant_id == bindparam("head_tenant"))
        .values(last_seq=bindparam("head_seq"), last_hash=bindparam("head_hash"))
    )


def _advance_rows(heads: Mapping[uuid.UUID, Head]) -> list[dict[str, Any]]:
    return [
        {"head_tenant": t, "head_seq": seq, "head_hash": hash_}
        for t, (seq, hash_) in sorted(heads.items())
    ]


@dataclass(frozen=True, slots=True)
class _SqliteStatements:
    create_head: sqlite_driver.Prepared
    head: sqlite_driver.Prepared
    append: sqlite_driver.Prepared
    advance: sqlite_driver.Prepared


@functools.cache
def _sqlite(dialect: Dialect) -> _SqliteStatements:
    return _SqliteStatements(
        create_head=sqlite_driver.prepare(
            sqlite_insert(_HEADS).on_conflict_do_nothing(),
            dialect,
            ("tenant_id", "last_seq", "last_hash"),
        ),
        head=sqlite_driver.prepare(
            select(_HEADS.c.last_seq, _HEADS.c.last_hash).where(
                _HEADS.c.tenant_id == bindparam("tenant_id")
            ),
            dialect,
        ),
        append=sqlite_driver.prepare(insert(_LOG), dialect, [c.key for c in _LOG.c]),
        advance=sqlite_driver.prepare(_advance_statement(), dialect),
    )


def append_linked_in(
    statements: sqlite_driver.Statements, tenant_ids: Sequence[uuid.UUID], link: Link
) -> None:
    """:meth:`AuditRepository.append_linked` on SQLite, among other statements of one round
    trip (:func:`autoledger.db.sqlite_driver.run`). SQLite has one writer at a time: the
    heads need no row lock."""
    sql = _sqlite(statements.dialect)
    statements.execute(
        sql.create_head,
        [{"tenant_id": t, "last_seq": 0, "last_hash": GENESIS_HASH} for t in tenant_ids],
    )
    heads: dict[uuid.UUID, Head] = {}
    for tenant_id in tenant_ids:
        for last_seq, last_hash in statements.rows(sql.head, {"tenant_id": tenant_id}):
            heads[tenant_id] = (last_seq, last_hash)
    statements.execute(sql.append, link(heads))
    statements.execute(sql.advance, _advance_rows(heads))


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.bind.dialect.name if session.bind is not None else "sqlite"

    async def append_linked(self, tenant_ids: Collection[uuid.UUID], link: Link) -> None:
        """Lock the chain heads of ``tenant_ids`` (creating missing ones), append the records
        ``link`` makes from them and move the heads where ``link`` left them."""
        wanted = sorted(set(tenant_ids))
        if not wanted:
            return
        if self.dialect == "sqlite":
            await sqlite_driver.run(
                self.session,
                functools.partial(append_linked_in, tenant_ids=wanted, link=link),
            )
            return
        heads = await self.lock_heads(wanted)
        await self.append(link(heads))
        await self.advance(heads)

    async def lock_heads(self, tenant_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Head]:
        """Create missing heads (``ON CONFLICT DO NOTHING``), then lock every head in
        tenant-id order (``FOR UPDATE`` on PostgreSQL; SQLite has one writer anyway)."""
        wanted = sorted(set(tenant_ids))
        if not wanted:
            return {}
        insert_ = pg_insert if self.dialect == "postgresql" else sqlite_insert
        await self.session.execute(
            insert_(_HEADS)
            .values([{"tenant_id": t, "last_seq": 0, "last_hash": GENESIS_HASH} for t in wanted])
            .on_conflict_do_nothing()
        )
        query = (
            select(_HEADS.c.tenant_id, _HEADS.c.last_seq, _HEADS.c.last_hash)
            .where(_HEADS.c.tenant_id.in_(wanted))
            .order_by(_HEADS.c.tenant_id)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update()
        return {row[0]: (row[1], row[2]) for row in await self.session.execute(query)}

    async def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """One set-based INSERT: on PostgreSQL one statement of column arrays (a journal group
        appends hundreds of records), elsewhere a multi-row insert."""
        if not rows:
            return
        if self.dialect != "postgresql":
            await self.session.execute(insert(_LOG), list(rows))
            return
        params: dict[str, Any] = {name: [r[name] for r in rows] for name, _ in _PG_COLUMNS}
        params["details"] = [json.dumps(r["details"], separators=(",", ":")) for r in rows]
        await self.session.execute(_PG_APPEND, params)

    async def advance(self, heads: Mapping[uuid.UUID, Head]) -> None:
        if not heads:
            return
        await self.session.execute(_advance_statement(), _advance_rows(heads))

    async def head(self, tenant_id: uuid.UUID) -> Head | None:
        row = (
            await self.session.execute(
                select(_HEADS.c.last_seq, _HEADS.c.last_hash).where(_HEADS.c.tenant_id == tenant_id)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def chained_tenants(self) -> Sequence[uuid.UUID]:
        return (await self.session.scalars(select(_HEADS.c.tenant_id).order_by("tenant_id"))).all()

    async def records(
        self,
        tenant_id: uuid.UUID,
        *,
        after_seq: int = 0,
        limit: int,
        actor: str | None = None,
        action: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[Row[Any]]:
        """Plain rows (no identity map, so a long export stays flat in memory), oldest first,
        keyset by ``seq``; ``since`` inclusive, ``until`` exclusive."""
        query: Select[Any] = (
            select(*_LOG.c)
            .where(_LOG.c.tenant_id == tenant_id, _LOG.c.seq > after_seq)
            .order_by(_LOG.c.seq)
            .limit(limit)
        )
        for column, value in (
            (_LOG.c.actor, actor),
            (_LOG.c.action, action),
            (_LOG.c.target_type, target_type),
            (_LOG.c.target_id, target_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(_LOG.c.occurred_at >= since)
        if until is not None:
            query = query.where(_LOG.c.occurred_at < until)
        rows: Sequence[Row[Any]] = (await self.session.execute(query)).all()
        return rows
