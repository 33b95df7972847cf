"""Bank reconciliation reports and sign-off (ADR 0012, decision 7): read what the report
needs, build it (:mod:`bankrec`), present it; mark a bank account reconciled to a statement
date, which locks the lines it covers, and reopen the latest such mark.

A person signs a reconciliation off only when it balances: the statement balance is known
and every difference between it and the ledger is a listed line or posting. Marks go
forward: a new one must be later than the account's latest; only the latest may be reopened
(an admin decision, audited like every write). While a mark stands, no match touches a line
booked on or before its date: runs leave such lines alone and decisions on them are a 409.

Services never commit; the request owns the transaction.
"""

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.banking.statement import currency_scale
from autoledger.banking.tables import BankAccount, BankTransactionRecord, StatementImport
from autoledger.categorize.tables import ProposalRecord
from autoledger.kit.clock import utcnow
from autoledger.kit.money import format_amount, parse_amount
from autoledger.ledger.tables import JournalEntry, Posting
from autoledger.reconcile import bankrec, schemas
from autoledger.reconcile.errors import (
    ReconciliationNotBalanced,
    ReconciliationNotFound,
    ReconciliationOutOfOrder,
)
from autoledger.reconcile.locks import locked_through
from autoledger.reconcile.service import get_bank_account
from autoledger.reconcile.tables import (
    BankReconciliation,
    OpenItem,
    ReconciledLine,
    ReconcileMatch,
    ReconcileMatchItem,
    ReconcileMatchLine,
)

LISTED = 500  # lines and postings listed in full in a report (totals always count them all)


# --- the report ---------------------------------------------------------------------------


async def build_report(
    session: AsyncSession,
    bank: BankAccount,
    *,
    end: date,
    start: date | None = None,
    statement_balance: int | None = None,
) -> bankrec.Report:
    tenant_id = bank.tenant_id
    if start is None:
        through = await locked_through(session, tenant_id, bank.id, before=end)
        start = None if through is None else through + timedelta(days=1)
    return bankrec.build(
        end=end,
        start=start,
        lines=await _lines(session, bank),
        postings=await _postings(session, bank),
        anchors=await _anchors(session, bank),
        given=statement_balance,
    )


async def _lines(session: AsyncSession, bank: BankAccount) -> list[bankrec.BankLine]:
    tenant_id = bank.tenant_id
    bookings: dict[uuid.UUID, list[tuple[str, date]]] = {}
    reconciled: set[uuid.UUID] = set()
    settled = await session.execute(
        select(ReconciledLine.bank_transaction_id, JournalEntry.id, JournalEntry.effective_date)
        .join(ReconcileMatch, ReconcileMatch.id == ReconciledLine.match_id)
        .outerjoin(JournalEntry, JournalEntry.id == ReconcileMatch.entry_id)
        .where(ReconcileMatch.tenant_id == tenant_id, ReconcileMatch.bank_account_id == bank.id)
    )
    for line_id, entry_id, effective in settled.all():
        reconciled.add(line_id)
        if entry_id is not None:
            bookings.setdefault(line_id, []).append((str(entry_id), effective))
    paired = await session.execute(  # book items a reconciled match paired a line with
        select(ReconcileMatchLine.bank_transaction_id, JournalEntry.id, JournalEntry.effective_date)
        .join(ReconcileMatch, ReconcileMatch.id == ReconcileMatchLine.match_id)
        .join(ReconcileMatchItem, ReconcileMatchItem.match_id == ReconcileMatch.id)
        .join(OpenItem, OpenItem.id == ReconcileMatchItem.open_item_id)
        .join(JournalEntry, JournalEntry.id == OpenItem.entry_id)
        .where(
            ReconcileMatch.tenant_id == tenant_id,
            ReconcileMatch.bank_account_id == bank.id,
            ReconcileMatch.status == "reconciled",
            OpenItem.kind == "book",
        )
    )
    for line_id, entry_id, effective in paired.all():
        bookings.setdefault(line_id, []).append((str(entry_id), effective))
    booked = await session.execute(
        select(ProposalRecord.bank_transaction_id, JournalEntry.id, JournalEntry.effective_date)
        .join(JournalEntry, JournalEntry.id == ProposalRecord.entry_id)
        .where(ProposalRecord.tenant_id == tenant_id, ProposalRecord.bank_account_id == bank.id)
    )
    for line_id, entry_id, effective in booked.all():
        bookings.setdefault(line_id, []).append((str(entry_id), effective))
    suggested = set(
        (
            await session.scalars(
                select(ReconcileMatchLine.bank_transaction_id)
                .join(ReconcileMatch, ReconcileMatch.id == ReconcileMatchLine.match_id)
                .where(
                    ReconcileMatch.tenant_id == tenant_id,
                    ReconcileMatch.bank_account_id == bank.id,
                    ReconcileMatch.status == "suggested",
                )
            )
        ).all()
    )
    rows = await session.execute(
        select(
            BankTransactionRecord.id,
            BankTransactionRecord.booking_date,
            BankTransactionRecord.amount,
            BankTransactionRecord.description,
            BankTransactionRecord.counterparty_name,
        ).where(
            BankTransactionRecord.tenant_id == tenant_id,
            BankTransactionRecord.bank_account_id == bank.id,
        )
    )
    out = []
    for line_id, booked_on, amount, description, counterparty in rows.all():
        state: bankrec.LineState
        if line_id in reconciled:
            state = "reconciled"
        elif line_id in bookings:
            state = "booked"
        elif line_id in suggested:
            state = "suggested"
        else:
            state = "unmatched"
        out.append(
            bankrec.BankLine(
                id=str(line_id),
                booked=booked_on,
                amount=amount,
                description=description,
                counterparty=counterparty,
                state=state,
                bookings=tuple(bookings.get(line_id, ())),
            )
        )
    return out


async def _postings(session: AsyncSession, bank: BankAccount) -> list[bankrec.BookPosting]:
    rows = await session.execute(
        select(
            Posting.entry_id,
            Posting.index,
            Posting.effective_date,
            Posting.direction,
            Posting.posted_amount,
            JournalEntry.description,
            JournalEntry.source_type,
            JournalEntry.reverses_id,
            JournalEntry.meta,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(
            Posting.tenant_id == bank.tenant_id,
            Posting.account_id == bank.gl_account_id,
            Posting.asset == bank.currency,
            Posting.posted_amount.is_not(None),
            JournalEntry.status == "posted",
        )
    )
    out = []
    for (
        entry_id,
        index,
        effective,
        direction,
        amount,
        description,
        source,
        reverses,
        meta,
    ) in rows.all():
        reference = (meta or {}).get("reference")
        out.append(
            bankrec.BookPosting(
                entry_id=str(entry_id),
                index=index,
                effective=effective,
                amount=amount if direction == "debit" else -amount,
                description=description,
                source_type=source,
                reverses=None if reverses is None else str(reverses),
                reference=reference if isinstance(reference, str) else None,
            )
        )
    return out


async def _anchors(session: AsyncSession, bank: BankAccount) -> list[bankrec.Anchor]:
    """The balances the account's imported statements stated, each with the day it holds
    at the end of: a closing balance after its last day, or else an opening balance before
    its first line."""
    scale = currency_scale(bank.currency)
    imports = await session.execute(
        select(StatementImport.id, StatementImport.filename, StatementImport.report).where(
            StatementImport.tenant_id == bank.tenant_id,
            StatementImport.bank_account_id == bank.id,
            StatementImport.status == "completed",
        )
    )
    anchors = []
    for import_id, filename, report in imports.all():
        for check in (report or {}).get("statements", []):
            name = f"statement {check.get('statement_id') or check.get('index')} of import" + (
                f" {filename}" if filename else f" {import_id}"
            )
            closing_day = _day(check.get("closing_date")) or _day(check.get("last_line"))
            first_line = _day(check.get("first_line"))
            if check.get("closing_balance") is not None and closing_day is not None:
                anchors.append(
                    bankrec.Anchor(
                        closing_day,
                        _minor(check["closing_balance"], scale),
                        f"{name}: closing balance",
                    )
                )
            elif check.get("opening_balance") is not None and first_line is not None:
                anchors.append(
                    bankrec.Anchor(
                        first_line - timedelta(days=1),
                        _minor(check["opening_balance"], scale),
                        f"{name}: opening balance",
                    )
                )
    return anchors


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _minor(text: str, scale: int) -> int:
    return parse_amount(text, scale, allow_zero=True, allow_negative=True)


# --- sign-off -----------------------------------------------------------------------------


async def mark(
    session: AsyncSession,
    bank: BankAccount,
    *,
    statement_date: date,
    statement_balance: int | None,
    actor: str,
) -> tuple[BankReconciliation, bankrec.Report]:
    tenant_id = bank.tenant_id
    # one sign-off at a time per account: the latest mark is read under a row lock
    latest = await session.scalar(
        select(BankReconciliation)
        .where(
            BankReconciliation.tenant_id == tenant_id,
            BankReconciliation.bank_account_id == bank.id,
            BankReconciliation.status == "reconciled",
        )
        .order_by(BankReconciliation.statement_date.desc())
        .limit(1)
        .with_for_update()
    )
    if latest is not None and statement_date <= latest.statement_date:
        raise ReconciliationOutOfOrder(
            f"the bank account is already reconciled through"
            f" {latest.statement_date.isoformat()}; a new reconciliation must be later"
        )
    report = await build_report(
        session, bank, end=statement_date, statement_balance=statement_balance
    )
    scale = currency_scale(bank.currency)
    if report.statement_balance is None:
        raise ReconciliationNotBalanced(
            "no statement balance is known at this date: give statement_balance"
        )
    if report.unexplained:
        raise ReconciliationNotBalanced(
            f"the difference of {format_amount(report.unexplained, scale)} {bank.currency}"
            " between statement and ledger is not explained by unbooked lines or outstanding"
            " postings"
        )
    record = BankReconciliation(
        tenant_id=tenant_id,
        ledger_id=bank.ledger_id,
        bank_account_id=bank.id,
        statement_date=statement_date,
        currency=bank.currency,
        statement_balance=report.statement_balance,
        ledger_balance=report.ledger_balance,
        status="reconciled",
        report=report_out(bank, report, statement_date).model_dump(mode="json"),
        reconciled_by=actor,
        created_at=utcnow(),
    )
    session.add(record)
    await session.flush()
    return record, report


async def reopen(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    bank_account_id: uuid.UUID,
    reconciliation_id: uuid.UUID,
    actor: str,
) -> BankReconciliation:
    record = await get_reconciliation(session, tenant_id, bank_account_id, reconciliation_id)
    if record.status == "reopened":
        return record  # the same decision again changes nothing
    latest = await locked_through(session, tenant_id, bank_account_id)
    if latest is not None and record.statement_date < latest:
        raise ReconciliationOutOfOrder(
            f"the bank account is reconciled through {latest.isoformat()}: reopen that"
            " reconciliation first"
        )
    record.status, record.reopened_by, record.reopened_at = "reopened", actor, utcnow()
    await session.flush()
    return record


async def get_reconciliation(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    bank_account_id: uuid.UUID,
    reconciliation_id: uuid.UUID,
) -> BankReconciliation:
    record = await session.scalar(
        select(BankReconciliation)
        .where(
            BankReconciliation.id == reconciliation_id,
            BankReconciliation.tenant_id == tenant_id,
            BankReconciliation.bank_account_id == bank_account_id,
        )
        .with_for_update()
    )
    if record is None:
        raise ReconciliationNotFound(f"no reconciliation {reconciliation_id} of this account")
    return record


async def list_reconciliations(
    session: AsyncSession, tenant_id: uuid.UUID, bank_account_id: uuid.UUID
) -> list[BankReconciliation]:
    await get_bank_account(session, tenant_id, bank_account_id)
    return list(
        (
            await session.scalars(
                select(BankReconciliation)
                .where(
                    BankReconciliation.tenant_id == tenant_id,
                    BankReconciliation.bank_account_id == bank_account_id,
                )
                .order_by(BankReconciliation.statement_date, BankReconciliation.created_at)
            )
        ).all()
    )


# --- presenting ---------------------------------------------------------------------------


def report_out(
    bank: BankAccount,
    report: bankrec.Report,
    locked: date | None,
) -> schemas.ReconciliationReportOut:
    scale = currency_scale(bank.currency)

    def money(minor: int | None) -> str | None:
        return None if minor is None else format_amount(minor, scale)

    def posting(p: bankrec.BookPosting) -> schemas.BookPostingOut:
        return schemas.BookPostingOut(
            entry_id=uuid.UUID(p.entry_id),
            posting_index=p.index,
            effective_date=p.effective,
            amount=format_amount(p.amount, scale),
            description=p.description,
            source_type=p.source_type,
            reference=p.reference,
        )

    period = report.period
    return schemas.ReconciliationReportOut(
        bank_account_id=bank.id,
        ledger_id=bank.ledger_id,
        gl_account_id=bank.gl_account_id,
        currency=bank.currency,
        start=report.start,
        end=report.end,
        statement_balance=money(report.statement_balance),
        statement_balance_source=report.statement_source,
        ledger_balance=format_amount(report.ledger_balance, scale),
        difference=money(report.difference),
        opening_balance=money(report.opening_balance),
        opening_booked_by=(
            None if report.opening_booked_by is None else posting(report.opening_booked_by)
        ),
        unbooked_opening_balance=format_amount(report.unbooked_opening, scale),
        unbooked_lines=schemas.ReportLines(
            count=len(report.unbooked_lines),
            total=format_amount(report.unbooked_total, scale),
            truncated=len(report.unbooked_lines) > LISTED,
            items=[
                schemas.ReportLineOut(
                    bank_transaction_id=uuid.UUID(line.id),
                    booking_date=line.booked,
                    amount=format_amount(line.amount, scale),
                    description=line.description,
                    counterparty=line.counterparty,
                    state=line.state,
                )
                for line in report.unbooked_lines[:LISTED]
            ],
        ),
        outstanding_postings=schemas.ReportPostings(
            count=len(report.outstanding),
            total=format_amount(report.outstanding_total, scale),
            truncated=len(report.outstanding) > LISTED,
            items=[posting(p) for p in report.outstanding[:LISTED]],
        ),
        explained=format_amount(report.explained, scale),
        unexplained=money(report.unexplained),
        balanced=report.balanced,
        period=schemas.ReportPeriodOut(
            lines=period.lines,
            amount=format_amount(period.amount, scale),
            reconciled=period.reconciled,
            booked=period.booked,
            suggested=period.suggested,
            unmatched=period.unmatched,
        ),
        reconciled_through=locked,
    )


def reconciliation_out(record: BankReconciliation) -> schemas.BankReconciliationOut:
    scale = currency_scale(record.currency)
    return schemas.BankReconciliationOut(
        id=record.id,
        bank_account_id=record.bank_account_id,
        ledger_id=record.ledger_id,
        statement_date=record.statement_date,
        currency=record.currency,
        statement_balance=format_amount(record.statement_balance, scale),
        ledger_balance=format_amount(record.ledger_balance, scale),
        status=record.status,  # type: ignore[arg-type]
        reconciled_by=record.reconciled_by,
        created_at=record.created_at,
        reopened_by=record.reopened_by,
        reopened_at=record.reopened_at,
        report=schemas.ReconciliationReportOut.model_validate(record.report),
    )
