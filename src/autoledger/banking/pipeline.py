"""Running an import: a stored file in, bank lines out, all or nothing.

The file is parsed as a stream (the parser runs in a thread, a chunk at a time, so the
event loop stays free) and written in chunks inside **one** transaction: the import's lines,
their ``banking.transaction.imported.v1`` events (on PostgreSQL one outbox bundle per chunk,
which the relay expands from the committed lines: ADR 0020) and the completed import commit
together, or nothing does. A failed import is then recorded in a transaction of its own,
with the report that says why. While it runs, the worker renews its lease and publishes
progress in short separate transactions; a worker that loses its lease rolls back.

Decisions (ADR 0010):
- a rejected line fails the import unless ``skip_invalid``; the report lists every rejected
  line (the first :data:`MAX_REPORTED` of them in full, and the count);
- a statement whose opening balance plus its lines is not its closing balance fails the
  import unless ``accept_unbalanced`` (or ``skip_invalid`` with lines rejected, since a
  rejected line is bound to unbalance it), and is reported either way;
- a statement for another account or currency than the bank account's fails the import;
- NUL characters, which PostgreSQL text cannot hold, become U+FFFD in stored text.
"""

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.banking import events, service
from autoledger.banking.dedup import DedupKeys
from autoledger.banking.errors import WrongAccount
from autoledger.banking.intake import take_in
from autoledger.banking.parsers.camt import parse_camt
from autoledger.banking.parsers.delimited import CsvProfile, parse_csv, sniff
from autoledger.banking.parsers.mt940 import parse_mt940
from autoledger.banking.parsers.ofx import parse_ofx
from autoledger.banking.repository import BankingRepository, LineBatch
from autoledger.banking.statement import (
    BankTransaction,
    Format,
    Item,
    Rejected,
    StatementEnd,
    StatementError,
    StatementStart,
    currency_scale,
)
from autoledger.banking.tables import BankAccount, StatementImport
from autoledger.db.tenancy import acting_for
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import AutoledgerError
from autoledger.kit.ids import new_ids
from autoledger.kit.money import format_amount
from autoledger.kit.sensitive import mask
from autoledger.platform.crypto.service import field_sealer
from autoledger.platform.events import outbox
from autoledger.platform.storage import ObjectStore, copy_out

log = structlog.get_logger("autoledger.banking")

CHUNK = 5_000  # lines per insert statement and per hop to the parser thread
MAX_REPORTED = 1_000  # rejected lines listed in full in a report
LEASE = timedelta(seconds=60)
SQLITE_LEASE = timedelta(minutes=30)


class ImportFailed(AutoledgerError):
    """Raised inside the import's transaction to roll it back; carries what was read, for
    the report of the failed import."""

    code = "banking.import_failed"
    status = 422
    title = "Import failed"

    def __init__(self, detail: str, progress: "Progress | None" = None, scale: int = 0) -> None:
        super().__init__(detail)
        self.progress, self.scale = progress, scale


class LinesRejected(ImportFailed):
    code = "banking.lines_rejected"


class StatementUnbalanced(ImportFailed):
    code = "banking.statement_unbalanced"


class LeaseLost(Exception):
    """Another worker took the import over (this one was presumed dead): roll back."""


@dataclass
class Check:
    index: int
    statement_id: str | None = None
    opening: int | None = None
    closing: int | None = None
    opening_date: date | None = None
    closing_date: date | None = None
    first_line: date | None = None
    last_line: date | None = None
    total: int = 0
    lines: int = 0

    def add(self, booked: date, amount: int) -> None:
        self.total += amount
        self.lines += 1
        if self.first_line is None or booked < self.first_line:
            self.first_line = booked
        if self.last_line is None or booked > self.last_line:
            self.last_line = booked

    def balanced(self) -> bool | None:
        if self.opening is None or self.closing is None:
            return None
        return self.opening + self.total == self.closing

    def as_report(self, scale: int) -> dict[str, Any]:
        def amount(value: int | None) -> str | None:
            return None if value is None else format_amount(value, scale)

        return {
            "index": self.index,
            "statement_id": self.statement_id,
            "opening_balance": amount(self.opening),
            "closing_balance": amount(self.closing),
            "opening_date": _iso(self.opening_date),
            "closing_date": _iso(self.closing_date),
            "first_line": _iso(self.first_line),
            "last_line": _iso(self.last_line),
            "lines_sum": format_amount(self.total, scale),
            "lines": self.lines,
            "balanced": self.balanced(),
        }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


@dataclass
class Progress:
    total: int = 0
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejected_lines: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[int, Check] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def reject(self, line: int, field_: str, reason: str) -> None:
        self.rejected += 1
        if len(self.rejected_lines) < MAX_REPORTED:
            self.rejected_lines.append({"line": line, "field": field_, "reason": reason})

    def report(self, scale: int) -> dict[str, Any]:
        return {
            "statements": [c.as_report(scale) for c in self.checks.values()],
            "rejected": self.rejected_lines,
            "rejected_truncated": self.rejected > len(self.rejected_lines),
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Importer:
    """What running an import needs; one per process (the API and workers share it)."""

    sessionmaker: async_sessionmaker[AsyncSession]  # tenant sessions (row-level security)
    system_sessionmaker: async_sessionmaker[AsyncSession]
    store: ObjectStore
    workdir: Path
    max_bytes: int
    # Whether progress and lease renewals can commit beside the import's transaction: not on
    # SQLite, whose one writer is the import itself. There the lease is long instead, and
    # progress shows when the import ends.
    heartbeats: bool = True

    @property
    def lease(self) -> timedelta:
        return LEASE if self.heartbeats else SQLITE_LEASE

    async def run(self, tenant_id: uuid.UUID, import_id: uuid.UUID, owner: str) -> None:
        """Process the import leased to ``owner``: complete it, or record why it failed.
        A lost lease or an infrastructure fault leaves it for a retry."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with acting_for(tenant_id), tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            try:
                async with self.sessionmaker() as session, session.begin():
                    await _Run(self, session, tenant_id, import_id, owner, Path(tmp)).execute()
                return
            except ImportFailed as failure:
                code, detail = failure.code, failure.detail
                progress, scale = failure.progress, failure.scale
            except AutoledgerError as exc:
                if exc.status >= 500:
                    raise
                # The file (or the request) can never import as it is: say why, for good.
                code, detail, progress, scale = exc.code, exc.detail, None, 0
            except LeaseLost:
                log.warning("banking.import.lease_lost", import_id=str(import_id))
                return
            async with self.sessionmaker() as session, session.begin():
                record = await service.get_import(session, tenant_id, import_id)
                if record.lease_owner != owner:
                    return
                _finish(record, "failed", progress, scale, imported=False)
                record.error_code, record.error_detail = code, detail
            log.info("banking.import.failed", import_id=str(import_id), code=code, detail=detail)


def _finish(
    record: StatementImport,
    status: str,
    progress: "Progress | None",
    scale: int,
    *,
    imported: bool,
) -> None:
    record.status = status
    if progress is not None:
        record.report = progress.report(scale)
        record.lines_total, record.lines_rejected = progress.total, progress.rejected
        # A failed import was rolled back: none of its lines is new, none a duplicate.
        record.lines_new = progress.new if imported else 0
        record.lines_duplicate = progress.duplicate if imported else 0
        record.progress_lines = progress.total + progress.rejected
    record.finished_at = utcnow()
    record.lease_owner, record.lease_until = None, None


class _Run:
    def __init__(
        self,
        importer: Importer,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        import_id: uuid.UUID,
        owner: str,
        tmp: Path,
    ) -> None:
        self.importer = importer
        self.session = session
        self.tenant_id = tenant_id
        self.import_id = import_id
        self.owner = owner
        self.tmp = tmp
        self.repository = BankingRepository(session)
        self.progress = Progress()

    async def execute(self) -> None:
        record = await service.get_import(self.session, self.tenant_id, self.import_id)
        if record.status != "processing" or record.lease_owner != self.owner:
            raise LeaseLost
        account = await service.get_bank_account(
            self.session, self.tenant_id, record.bank_account_id
        )
        scale = currency_scale(account.currency)
        path = await asyncio.to_thread(
            copy_out, self.importer.store, record.storage_key, self.tmp / "upload"
        )
        intake = await asyncio.to_thread(
            take_in, path, workdir=self.tmp, max_bytes=self.importer.max_bytes
        )
        items, profile = await asyncio.to_thread(
            self._open, intake.path, intake.format, record, account
        )
        number = await service.account_number(self.session, account)
        seal = await field_sealer(
            self.session, self.tenant_id, service.LINES, "counterparty_account"
        )
        try:
            await self._load(record, account, items, number, seal, scale)
        finally:
            items.close()
        p = self.progress
        unbalanced = [c for c in p.checks.values() if c.balanced() is False]
        if p.rejected and not record.skip_invalid:
            raise LinesRejected(
                f"{p.rejected} line(s) could not be read; nothing was imported (see the report,"
                " or import again with skip_invalid=true to take the valid lines)",
                p,
                scale,
            )
        if unbalanced and not record.accept_unbalanced and not (record.skip_invalid and p.rejected):
            first = unbalanced[0]
            raise StatementUnbalanced(
                f"statement {first.index} does not balance: opening"
                f" {format_amount(first.opening or 0, scale)} + lines"
                f" {format_amount(first.total, scale)} != closing"
                f" {format_amount(first.closing or 0, scale)}; nothing was imported"
                " (accept_unbalanced=true imports it anyway)",
                p,
                scale,
            )
        for check in unbalanced:
            p.warnings.append(f"statement {check.index} does not balance (accepted)")
        if p.total == 0:
            p.warnings.append("the file holds no booked lines")
        if profile is not None and record.profile is None:
            record.profile = profile.to_dict()
            account.csv_profile = record.profile  # the next file of this bank is read alike
            account.updated_at = utcnow()
        _finish(record, "completed", p, scale, imported=True)
        out = service.import_out(record)
        await outbox.append(
            self.session,
            [
                events.import_completed(
                    self.tenant_id,
                    events.ImportCompleted(
                        id=record.id,
                        bank_account_id=record.bank_account_id,
                        format=record.format,
                        filename=record.filename,
                        counts=out.counts,
                        statements=out.statements,
                        warnings=out.warnings,
                        finished_at=record.finished_at or utcnow(),
                    ),
                )
            ],
        )

    def _open(
        self, path: Path, format_: Format, record: StatementImport, account: BankAccount
    ) -> tuple[Generator[Item, None, None], CsvProfile | None]:
        stream: BinaryIO = path.open("rb")
        profile: CsvProfile | None = None
        try:
            if format_ is Format.CSV:
                profile = self._csv_profile(stream, record, account)
                items = parse_csv(stream, currency=account.currency, profile=profile)
            else:
                items = parser_for(format_)(stream, currency=account.currency)
        except BaseException:
            stream.close()
            raise
        return _closing(items, stream), profile

    def _csv_profile(
        self, stream: BinaryIO, record: StatementImport, account: BankAccount
    ) -> CsvProfile:
        if record.profile is not None:
            return CsvProfile.from_dict(record.profile)
        if account.csv_profile is not None:
            saved = CsvProfile.from_dict(account.csv_profile)
            if _fits(saved, stream, account.currency):
                return saved
            self.progress.warnings.append(
                "the bank account's saved CSV profile does not fit this file; read it afresh"
            )
        stream.seek(0)
        detected = sniff(stream)
        stream.seek(0)
        return detected

    async def _load(
        self,
        record: StatementImport,
        account: BankAccount,
        items: Iterator[Item],
        number: str | None,
        seal: Callable[[str], str],
        scale: int,
    ) -> None:
        keys = DedupKeys()
        # Three stages overlap: the parser reads chunk N+2 in its thread, this coroutine
        # prepares chunk N+1, and the database writes chunk N (one statement at a time on the
        # import's connection: a write starts only when the previous one is done).
        upcoming = asyncio.ensure_future(asyncio.to_thread(_take, items, CHUNK))
        writing: asyncio.Future[None] | None = None
        try:
            while chunk := await upcoming:
                upcoming = asyncio.ensure_future(asyncio.to_thread(_take, items, CHUNK))
                lines = self._prepare(chunk, record, account, keys, number, seal, scale)
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(self._write(lines))
            if writing is not None:
                await writing
        finally:
            for pending in (upcoming, writing):
                if pending is not None and not pending.done():
                    # Never leave the parser on a file being closed, nor a write on a
                    # transaction being rolled back.
                    with contextlib.suppress(BaseException):
                        await pending

    def _prepare(
        self,
        chunk: list[Item],
        record: StatementImport,
        account: BankAccount,
        keys: DedupKeys,
        number: str | None,
        seal: Callable[[str], str],
        scale: int,
    ) -> LineBatch:
        p = self.progress
        lines = LineBatch(self.tenant_id, account.id, record.id, account.currency, scale)
        ids = iter(new_ids(len(chunk)))
        for item in chunk:
            if isinstance(item, BankTransaction):
                if item.currency != account.currency:
                    p.reject(
                        item.line_no,
                        "currency",
                        f"the line is in {item.currency}; the account is in {account.currency}",
                    )
                    continue
                p.total += 1
                check = p.checks.setdefault(item.statement_index, Check(item.statement_index))
                check.add(item.booking_date, item.amount)
                _add(lines, next(ids), item, keys.key(item), seal)
            elif isinstance(item, Rejected):
                p.reject(item.line_no, item.field, item.reason)
            elif isinstance(item, StatementStart):
                self._start(item, account, number)
            elif isinstance(item, StatementEnd):
                check = p.checks.setdefault(item.index, Check(item.index))
                check.closing, check.closing_date = item.closing_balance, item.closing_date
        return lines

    async def _write(self, lines: LineBatch) -> None:
        processed = self.progress.total + self.progress.rejected
        await self._insert(lines)
        await self._heartbeat(processed)

    def _start(self, item: StatementStart, account: BankAccount, number: str | None) -> None:
        if item.account and number and not service.same_account(item.account, number):
            raise WrongAccount(
                f"the statement is for account {mask(service.normalize_account_number(item.account))},"
                f" not this bank account ({mask(number)})"
            )
        if item.currency and item.currency.upper() != account.currency:
            raise WrongAccount(
                f"the statement is in {item.currency.upper()}; the bank account is in"
                f" {account.currency}"
            )
        check = self.progress.checks.setdefault(item.index, Check(item.index))
        check.statement_id, check.opening = item.statement_id, item.opening_balance
        check.opening_date = item.opening_date

    async def _insert(self, lines: LineBatch) -> None:
        new = await insert_lines(self.session, lines, utcnow())
        self.progress.new += new
        self.progress.duplicate += len(lines) - new

    async def _heartbeat(self, processed: int) -> None:
        if not self.importer.heartbeats:
            return
        async with self.importer.system_sessionmaker() as session, session.begin():
            renewed = await BankingRepository(session).renew_lease(
                self.import_id, self.owner, utcnow() + self.importer.lease, processed
            )
        if not renewed:
            raise LeaseLost


async def insert_lines(session: AsyncSession, lines: LineBatch, now: datetime) -> int:
    """Insert the lines new to their account and queue their ``banking.transaction.imported.v1``
    events (on PostgreSQL as one outbox bundle); how many were new."""
    if not lines:
        return 0
    repository = BankingRepository(session)
    if repository.dialect == "postgresql":
        return await repository.insert_and_announce_lines(lines, now)
    inserted = set(await repository.insert_lines(lines, now))
    await outbox.append(
        session,
        [
            events.transaction_imported(
                lines.tenant_id, lines.bank_account_id, line_payload(lines, i), now
            )
            for i, line_id in enumerate(lines.id)
            if line_id in inserted
        ],
    )
    return len(inserted)


def parser_for(format_: Format) -> Callable[..., Iterator[Item]]:
    """The parser of a format (CSV takes a profile too: see ``parse_csv``)."""
    parsers: dict[Format, Callable[..., Iterator[Item]]] = {
        Format.CSV: parse_csv,
        Format.OFX: parse_ofx,
        Format.CAMT053: parse_camt,
        Format.MT940: parse_mt940,
    }
    return parsers[format_]


def _add(
    lines: LineBatch,
    line_id: uuid.UUID,
    item: BankTransaction,
    dedup_key: str,
    seal: Callable[[str], str],
) -> None:
    counterparty = _text(item.counterparty_account)
    lines.id.append(line_id)
    lines.line_no.append(item.line_no)
    lines.statement_index.append(item.statement_index)
    lines.booking_date.append(item.booking_date)
    lines.value_date.append(item.value_date)
    lines.amount.append(item.amount)
    lines.description.append(_text(item.description) or "")
    lines.counterparty_name.append(_text(item.counterparty_name))
    lines.counterparty_account.append(counterparty)
    lines.counterparty_account_enc.append(seal(counterparty) if counterparty else None)
    lines.counterparty_account_masked.append(mask(counterparty) if counterparty else None)
    lines.bank_reference.append(_text(item.bank_reference))
    lines.end_to_end_id.append(_text(item.end_to_end_id))
    lines.transaction_code.append(_text(item.transaction_code))
    lines.running_balance.append(item.running_balance)
    lines.extra.append(
        orjson.dumps({_text(k) or "": _text(v) or "" for k, v in item.extra.items()}).decode()
        if item.extra
        else "{}"
    )
    lines.raw.append(_text(item.raw) or "")
    lines.dedup_key.append(dedup_key)


def line_payload(lines: LineBatch, index: int) -> dict[str, Any]:
    """The JSON form of ``schemas.BankTransactionOut`` for line ``index`` of ``lines`` (on
    PostgreSQL the database builds the same object: see ``repository._PG_LINE_EVENTS``)."""
    value_date = lines.value_date[index]
    running = lines.running_balance[index]
    return {
        "id": str(lines.id[index]),
        "bank_account_id": str(lines.bank_account_id),
        "import_id": str(lines.import_id),
        "line": lines.line_no[index],
        "booking_date": lines.booking_date[index].isoformat(),
        "value_date": None if value_date is None else value_date.isoformat(),
        "amount": format_amount(lines.amount[index], lines.scale),
        "currency": lines.currency,
        "description": lines.description[index],
        "counterparty_name": lines.counterparty_name[index],
        "counterparty_account": lines.counterparty_account_masked[index],
        "bank_reference": lines.bank_reference[index],
        "end_to_end_id": lines.end_to_end_id[index],
        "transaction_code": lines.transaction_code[index],
        "running_balance": None if running is None else format_amount(running, lines.scale),
        "extra": orjson.loads(lines.extra[index]),
        "raw": None,
    }


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    return value.replace("\x00", "\ufffd")


def _take(items: Iterator[Item], n: int) -> list[Item]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= n:
            break
    return chunk


def _closing(items: Iterator[Item], stream: BinaryIO) -> Generator[Item, None, None]:
    try:
        yield from items
    finally:
        stream.close()


def _fits(profile: CsvProfile, stream: BinaryIO, currency: str) -> bool:
    """Whether a saved profile reads this file's first lines without a rejected line."""
    try:
        stream.seek(0)
        sample = _take(parse_csv(stream, currency=currency, profile=profile), 50)
    except (StatementError, ValueError):
        return False
    finally:
        stream.seek(0)
    return not any(isinstance(i, Rejected) for i in sample)
