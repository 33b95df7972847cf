"""Every banking query. Takes a session, never commits."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Table, and_, func, or_, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.banking.events import SOURCE, TRANSACTION_IMPORTED, ordering_key
from autoledger.banking.tables import (
    BankAccount,
    BankTransactionRecord,
    CsvProfileRecord,
    StatementImport,
)
from autoledger.kit.ids import new_ids
from autoledger.platform.events import outbox

_T: Table = BankTransactionRecord.__table__  # type: ignore[assignment]  # a Table, typed as FromClause

#: the columns a :class:`LineBatch` carries per line, in the order of the SQL below
LINE_COLUMNS = (
    "id",
    "line_no",
    "statement_index",
    "booking_date",
    "value_date",
    "amount",
    "description",
    "counterparty_name",
    "counterparty_account_enc",
    "counterparty_account_masked",
    "bank_reference",
    "end_to_end_id",
    "transaction_code",
    "running_balance",
    "extra",
    "raw",
    "dedup_key",
)
_SQL_TYPES = (
    "uuid",
    "int4",
    "int4",
    "date",
    "date",
    "int8",
    *["text"] * 7,
    "int8",
    "jsonb",
    "text",
    "text",
)


@dataclass(slots=True)
class LineBatch:
    """A chunk of new bank lines of one import, column by column (the shape the bulk insert
    sends: building one list per column is cheaper than a dict per line). ``extra`` holds
    JSON text; ``counterparty_account`` the plaintext account, which is never stored: the
    events carry it masked."""

    tenant_id: uuid.UUID
    bank_account_id: uuid.UUID
    import_id: uuid.UUID
    currency: str
    scale: int
    id: list[uuid.UUID] = field(default_factory=list)
    line_no: list[int] = field(default_factory=list)
    statement_index: list[int] = field(default_factory=list)
    booking_date: list[date] = field(default_factory=list)
    value_date: list[date | None] = field(default_factory=list)
    amount: list[int] = field(default_factory=list)
    description: list[str] = field(default_factory=list)
    counterparty_name: list[str | None] = field(default_factory=list)
    counterparty_account_enc: list[str | None] = field(default_factory=list)
    counterparty_account: list[str | None] = field(default_factory=list)
    counterparty_account_masked: list[str | None] = field(default_factory=list)
    bank_reference: list[str | None] = field(default_factory=list)
    end_to_end_id: list[str | None] = field(default_factory=list)
    transaction_code: list[str | None] = field(default_factory=list)
    running_balance: list[int | None] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    dedup_key: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.id)

    def row(self, index: int, now: datetime) -> dict[str, Any]:
        """Line ``index`` as a row of the table."""
        row = {name: getattr(self, name)[index] for name in LINE_COLUMNS}
        row["extra"] = orjson.loads(row["extra"])
        row.update(
            tenant_id=self.tenant_id,
            bank_account_id=self.bank_account_id,
            import_id=self.import_id,
            currency=self.currency,
            created_at=now,
        )
        return row


def _money_sql(column: str) -> str:
    # format_amount in SQL: exactly :scale decimals, a leading "-" only when negative
    return f"round({column}::numeric / power(10::numeric, CAST(:scale AS int4)), CAST(:scale AS int4))::text"


#: the outbox expander of a chunk of new lines (see :func:`_expand_lines`)
LINES_BUNDLE = "banking.imported-lines"

# The bulk insert of an import on PostgreSQL: one statement per chunk, arrays instead of
# one bind per value. A line whose key the account already has is skipped. The new lines
# are announced by **one** outbox bundle (ADR 0020) that stands for their
# banking.transaction.imported.v1 events: the relay builds them from the committed lines
# (see _PG_LINE_EVENTS) when it publishes, so the import writes no event rows of its own.
_PG_INSERT_LINES = text(
    "WITH l AS (SELECT * FROM unnest("  # noqa: S608 - constants only  # nosec B608
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(LINE_COLUMNS, _SQL_TYPES, strict=True))
    + ") AS l("
    + ", ".join(LINE_COLUMNS)
    + ")),"
    " inserted AS (INSERT INTO bank_transactions ("
    + ", ".join(LINE_COLUMNS)
    + ", tenant_id, bank_account_id, import_id, currency, created_at) SELECT "
    + ", ".join(LINE_COLUMNS)
    + ", CAST(:tenant_id AS uuid), CAST(:bank_account_id AS uuid), CAST(:import_id AS uuid),"
    " CAST(:currency AS text), CAST(:created_at AS timestamptz) FROM l"
    " ON CONFLICT (bank_account_id, dedup_key) DO NOTHING RETURNING 1),"
    " counted AS (SELECT count(*) AS n FROM inserted),"
    " bundled AS (INSERT INTO event_outbox (event_id, dedup_id, tenant_id, type, ordering_key,"
    " body, created_at, attempts, expander, weight)"
    " SELECT CAST(:bundle_id AS uuid), CAST(:bundle_id AS text), CAST(:tenant_id AS uuid),"
    " CAST(:event_type AS text), CAST(:partitionkey AS text), CAST(:bundle AS bytea),"
    " CAST(:created_at AS timestamptz), 0, CAST(:expander AS text), n FROM counted WHERE n > 0)"
    " SELECT n FROM counted"
)

# The events of one bundle: the chunk's new lines (an import's lines have increasing ids, in
# file order; duplicates were never inserted, and other imports' lines are filtered out),
# each event's id derived from its line's (see line_event_id), its payload the JSON form of
# schemas.BankTransactionOut built by the database (a test holds it equal to the API's).
_LINE_EVENT_ID = (
    "encode(set_byte(uuid_send(l.id), 15, get_byte(uuid_send(l.id), 15) # 1), 'hex')::uuid"
)
_PG_LINE_EVENTS = text(
    f"SELECT CAST({_LINE_EVENT_ID} AS text), "  # noqa: S608 - constants only  # nosec B608
    + outbox.event_body_sql(
        id_sql=_LINE_EVENT_ID,
        subject_sql="'bank-transactions/' || l.id",
        data_sql=outbox.json_object_sql(
            [
                ("id", "l.id", "quoted"),
                ("bank_account_id", "l.bank_account_id", "quoted"),
                ("import_id", "l.import_id", "quoted"),
                ("line", "l.line_no", "json"),
                ("booking_date", "to_char(l.booking_date, 'YYYY-MM-DD')", "quoted"),
                ("value_date", "to_char(l.value_date, 'YYYY-MM-DD')", "quoted"),
                ("amount", _money_sql("l.amount"), "quoted"),
                ("currency", "l.currency", "string"),
                ("description", "l.description", "string"),
                ("counterparty_name", "l.counterparty_name", "string"),
                ("counterparty_account", "l.counterparty_account_masked", "string"),
                ("bank_reference", "l.bank_reference", "string"),
                ("end_to_end_id", "l.end_to_end_id", "string"),
                ("transaction_code", "l.transaction_code", "string"),
                ("running_balance", _money_sql("l.running_balance"), "quoted"),
                ("extra", "l.extra", "json"),
                ("raw", "NULL", "json"),
            ]
        ),
    )
    + " FROM bank_transactions l WHERE l.import_id = CAST(:import_id AS uuid)"
    " AND l.id BETWEEN CAST(:first AS uuid) AND CAST(:last AS uuid) ORDER BY l.id"
)


def line_event_id(line_id: uuid.UUID) -> uuid.UUID:
    """The id of a line's ``banking.transaction.imported.v1`` event when a bundle announced
    it: the line's id with its last bit flipped, so that expanding the bundle again gives the
    same id (the broker and the consumers' inboxes drop the repeat) and it stays time-ordered."""
    return uuid.UUID(int=line_id.int ^ 1)


async def _expand_lines(session: AsyncSession, bundle: bytes) -> list[tuple[str, bytes]]:
    """The events of a bundle of new lines (its body: which lines, and the envelope members
    they share)."""
    params = orjson.loads(bundle)
    rows = (await session.execute(_PG_LINE_EVENTS, params)).all()
    return [(dedup_id, bytes(body)) for dedup_id, body in rows]


outbox.register_expander(LINES_BUNDLE, _expand_lines)


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
    async def insert_lines(self, lines: LineBatch, now: datetime) -> list[uuid.UUID]:
        """Insert the lines whose dedup key is new for their account; the ids of those.
        (SQLite; PostgreSQL announces them too, in :meth:`insert_and_announce_lines`.)"""
        if not lines:
            return []
        statement = (
            sqlite_insert(_T)
            .values([lines.row(i, now) for i in range(len(lines))])
            .on_conflict_do_nothing(index_elements=["bank_account_id", "dedup_key"])
            .returning(_T.c.id)
        )
        return [r[0] for r in await self.session.execute(statement)]

    async def insert_and_announce_lines(self, lines: LineBatch, now: datetime) -> int:
        """PostgreSQL: insert the lines whose dedup key is new for their account and queue
        one outbox bundle for their ``banking.transaction.imported.v1`` events, in one
        statement; how many were new."""
        if not lines:
            return 0
        shared = outbox.announce_params(
            source=SOURCE,
            event_type=TRANSACTION_IMPORTED.name,
            tenant_id=lines.tenant_id,
            partitionkey=ordering_key(lines.tenant_id, lines.bank_account_id),
            at=now,
        )
        bundle = {
            "import_id": str(lines.import_id),
            "first": str(min(lines.id)),
            "last": str(max(lines.id)),
            "scale": lines.scale,
            **{k: shared[k] for k in ("event_head", "event_middle", "event_tail")},
        }
        params: dict[str, Any] = {name: getattr(lines, name) for name in LINE_COLUMNS}
        params.update(
            tenant_id=lines.tenant_id,
            bank_account_id=lines.bank_account_id,
            import_id=lines.import_id,
            currency=lines.currency,
            created_at=now,
            bundle_id=new_ids(1)[0],
            event_type=TRANSACTION_IMPORTED.name,
            partitionkey=shared["event_partitionkey"],
            bundle=orjson.dumps(bundle),
            expander=LINES_BUNDLE,
        )
        return int((await self.session.execute(_PG_INSERT_LINES, params)).scalar_one())

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
