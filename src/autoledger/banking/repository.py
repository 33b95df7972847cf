"""Every banking query. Takes a session, never commits."""

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Table, and_, func, or_, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.banking.tables import (
    BankAccount,
    BankTransactionRecord,
    CsvProfileRecord,
    StatementImport,
)

_T: Table = BankTransactionRecord.__table__  # type: ignore[assignment]  # a Table, typed as FromClause
# The bulk insert of an import on PostgreSQL: one statement per chunk, arrays instead of one
# bind per value; a line whose key the account already has is skipped, and only the new
# lines come back.
_PG_INSERT_LINES = text(
    "INSERT INTO bank_transactions (id, tenant_id, bank_account_id, import_id, line_no,"
    " statement_index, booking_date, value_date, amount, currency, description,"
    " counterparty_name, counterparty_account_enc, bank_reference, end_to_end_id,"
    " transaction_code, running_balance, extra, raw, dedup_key, created_at)"
    " SELECT l.*, CAST(:created_at AS timestamptz) FROM unnest("
    "CAST(:id AS uuid[]), CAST(:tenant_id AS uuid[]), CAST(:bank_account_id AS uuid[]),"
    " CAST(:import_id AS uuid[]), CAST(:line_no AS int4[]), CAST(:statement_index AS int4[]),"
    " CAST(:booking_date AS date[]), CAST(:value_date AS date[]), CAST(:amount AS int8[]),"
    " CAST(:currency AS text[]), CAST(:description AS text[]),"
    " CAST(:counterparty_name AS text[]), CAST(:counterparty_account_enc AS text[]),"
    " CAST(:bank_reference AS text[]), CAST(:end_to_end_id AS text[]),"
    " CAST(:transaction_code AS text[]), CAST(:running_balance AS int8[]),"
    " CAST(:extra AS jsonb[]), CAST(:raw AS text[]), CAST(:dedup_key AS text[])) AS l"
    " ON CONFLICT (bank_account_id, dedup_key) DO NOTHING"
    " RETURNING id"
)
LINE_COLUMNS = (
    "id",
    "tenant_id",
    "bank_account_id",
    "import_id",
    "line_no",
    "statement_index",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "description",
    "counterparty_name",
    "counterparty_account_enc",
    "bank_reference",
    "end_to_end_id",
    "transaction_code",
    "running_balance",
    "extra",
    "raw",
    "dedup_key",
)


class BankingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.bind.dialect.name if session.bind is not None else "sqlite"

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()

    # bank accounts
    async def bank_account(
        self, tenant_id: uuid.UUID, bank_account_id: uuid.UUID
    ) -> BankAccount | None:
        return await self.session.scalar(
            select(BankAccount).where(
                BankAccount.tenant_id == tenant_id, BankAccount.id == bank_account_id
            )
        )

    async def bank_account_by_number(self, tenant_id: uuid.UUID, index: str) -> BankAccount | None:
        return await self.session.scalar(
            select(BankAccount).where(
                BankAccount.tenant_id == tenant_id, BankAccount.account_number_index == index
            )
        )

    async def bank_accounts(self, tenant_id: uuid.UUID) -> Sequence[BankAccount]:
        return (
            await self.session.scalars(
                select(BankAccount)
                .where(BankAccount.tenant_id == tenant_id)
                .order_by(BankAccount.created_at, BankAccount.id)
            )
        ).all()

    # profiles
    async def profile(self, tenant_id: uuid.UUID, name: str) -> CsvProfileRecord | None:
        return await self.session.scalar(
            select(CsvProfileRecord).where(
                CsvProfileRecord.tenant_id == tenant_id, CsvProfileRecord.name == name
            )
        )

    async def profiles(self, tenant_id: uuid.UUID) -> Sequence[CsvProfileRecord]:
        return (
            await self.session.scalars(
                select(CsvProfileRecord)
                .where(CsvProfileRecord.tenant_id == tenant_id)
                .order_by(CsvProfileRecord.name)
            )
        ).all()

    # imports
    async def statement_import(
        self, tenant_id: uuid.UUID, import_id: uuid.UUID
    ) -> StatementImport | None:
        return await self.session.scalar(
            select(StatementImport).where(
                StatementImport.tenant_id == tenant_id, StatementImport.id == import_id
            )
        )

    async def imports(
        self, tenant_id: uuid.UUID, bank_account_id: uuid.UUID, *, limit: int
    ) -> Sequence[StatementImport]:
        return (
            await self.session.scalars(
                select(StatementImport)
                .where(
                    StatementImport.tenant_id == tenant_id,
                    StatementImport.bank_account_id == bank_account_id,
                )
                .order_by(StatementImport.created_at.desc(), StatementImport.id.desc())
                .limit(limit)
            )
        ).all()

    async def claim_import(
        self, owner: str, now: datetime, lease_until: datetime
    ) -> tuple[uuid.UUID, uuid.UUID, int] | None:
        """Lease the oldest queued import (or one whose worker's lease ran out) to ``owner``;
        ``(tenant_id, import_id, attempts)`` or None. Several workers never hold the same
        import."""
        due = or_(
            StatementImport.status == "queued",
            and_(StatementImport.status == "processing", StatementImport.lease_until < now),
        )
        candidate = (
            select(StatementImport.id).where(due).order_by(StatementImport.created_at).limit(1)
        )
        if self.dialect == "postgresql":
            candidate = candidate.with_for_update(skip_locked=True)
        row = (
            await self.session.execute(
                update(StatementImport)
                .where(StatementImport.id == candidate.scalar_subquery(), due)
                .values(
                    status="processing",
                    lease_owner=owner,
                    lease_until=lease_until,
                    attempts=StatementImport.attempts + 1,
                    started_at=func.coalesce(StatementImport.started_at, now),
                )
                .returning(StatementImport.tenant_id, StatementImport.id, StatementImport.attempts)
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    async def renew_lease(
        self, import_id: uuid.UUID, owner: str, lease_until: datetime, processed: int
    ) -> bool:
        result = await self.session.execute(
            update(StatementImport)
            .where(StatementImport.id == import_id, StatementImport.lease_owner == owner)
            .values(lease_until=lease_until, progress_lines=processed)
            .returning(StatementImport.id)
        )
        return result.first() is not None

    # lines
    async def insert_lines(self, rows: Sequence[dict[str, Any]], now: datetime) -> list[uuid.UUID]:
        """Insert the lines whose dedup key is new for their account; the ids of those."""
        if not rows:
            return []
        if self.dialect == "postgresql":
            params: dict[str, Any] = {name: [r[name] for r in rows] for name in LINE_COLUMNS}
            params["extra"] = [_json(r["extra"]) for r in rows]
            params["created_at"] = now
            result = await self.session.execute(_PG_INSERT_LINES, params)
            return [uuid.UUID(int=r[0].int) for r in result]
        statement = (
            sqlite_insert(_T)
            .values([{**r, "created_at": now} for r in rows])
            .on_conflict_do_nothing(index_elements=["bank_account_id", "dedup_key"])
            .returning(_T.c.id)
        )
        return [r[0] for r in await self.session.execute(statement)]

    async def lines_by_ids(self, ids: Sequence[uuid.UUID]) -> Sequence[BankTransactionRecord]:
        return (
            await self.session.scalars(
                select(BankTransactionRecord).where(BankTransactionRecord.id.in_(ids))
            )
        ).all()

    async def lines(
        self,
        tenant_id: uuid.UUID,
        bank_account_id: uuid.UUID,
        *,
        after: tuple[date, uuid.UUID] | None,
        limit: int,
        date_from: date | None = None,
        date_to: date | None = None,
        min_amount: int | None = None,
        max_amount: int | None = None,
        text_query: str | None = None,
        import_id: uuid.UUID | None = None,
    ) -> Sequence[BankTransactionRecord]:
        t = BankTransactionRecord
        stmt = select(t).where(t.tenant_id == tenant_id, t.bank_account_id == bank_account_id)
        if after is not None:
            stmt = stmt.where(
                or_(t.booking_date > after[0], and_(t.booking_date == after[0], t.id > after[1]))
            )
        if date_from is not None:
            stmt = stmt.where(t.booking_date >= date_from)
        if date_to is not None:
            stmt = stmt.where(t.booking_date <= date_to)
        if min_amount is not None:
            stmt = stmt.where(t.amount >= min_amount)
        if max_amount is not None:
            stmt = stmt.where(t.amount <= max_amount)
        if import_id is not None:
            stmt = stmt.where(t.import_id == import_id)
        if text_query:
            pattern = (
                "%" + text_query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            stmt = stmt.where(
                or_(
                    func.lower(t.description).like(pattern.lower(), escape="\\"),
                    func.lower(t.counterparty_name).like(pattern.lower(), escape="\\"),
                )
            )
        stmt = stmt.order_by(t.booking_date, t.id).limit(limit)
        return (await self.session.scalars(stmt)).all()


def _json(value: dict[str, str]) -> str:
    return orjson.dumps(value).decode()
