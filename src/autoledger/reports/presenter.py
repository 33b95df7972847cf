"""Turns report read models (minor units) into the API schemas (decimal strings)."""

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.money import format_amount
from autoledger.ledger import schemas as ledger_schemas
from autoledger.ledger import service as ledger_service
from autoledger.reports import schemas
from autoledger.reports.aging import BUCKETS
from autoledger.reports.service import GeneralLedger, LedgerAging, LedgerReport, Translation
from autoledger.reports.statements import Line

Format = Callable[[int], str]


async def formatter(session: AsyncSession, tenant_id: uuid.UUID, asset: str) -> Format:
    """Amounts of ``asset`` at its scale (ISO 4217 or the tenant's own asset)."""
    return amount_formatter((await ledger_service.resolve(session, tenant_id, asset)).scale)


def amount_formatter(scale: int) -> Format:
    """``format_amount`` at a fixed scale, without its per-call checks: a report formats
    tens of thousands of amounts (tests/reports checks that the two agree)."""
    format_amount(0, scale)  # the scale's checks, once
    if scale == 0:
        return str
    unit = 10**scale

    def amount(minor: int) -> str:
        whole, fraction = divmod(abs(minor), unit)
        return f"{'-' if minor < 0 else ''}{whole}.{fraction:0{scale}d}"

    return amount


def _line(line: Line, amount: Format) -> schemas.ReportLineOut:
    return schemas.ReportLineOut(
        kind=line.kind,  # type: ignore[arg-type]
        label=line.label,
        code=line.code,
        account_id=line.account_id,
        depth=line.depth,
        amounts=[amount(v) for v in line.amounts],
    )


def statement_out(view: LedgerReport, amount: Format) -> schemas.StatementReportOut:
    report = view.report
    return schemas.StatementReportOut(
        kind=report.kind,  # type: ignore[arg-type]
        title=report.title,
        ledger_id=view.ledger_id,
        ledger_name=view.ledger_name,
        asset=view.asset,
        start=view.period.start,
        end=view.period.end,
        columns=[
            schemas.ColumnOut(key=c.key, label=c.label, start=c.start, end=c.end)
            for c in report.columns
        ],
        sections=[
            schemas.SectionOut(
                key=s.key,
                title=s.title,
                lines=[_line(line, amount) for line in s.lines],
                total=[amount(v) for v in s.total],
            )
            for s in report.sections
        ],
        totals=[_line(line, amount) for line in report.totals],
        checks=report.checks,
        other_assets=view.other_assets,
        translation=None if view.translation is None else _translation(view.translation),
    )


def _translation(translation: Translation) -> schemas.TranslationOut:
    return schemas.TranslationOut(
        currency=translation.currency,
        policy=translation.policy,
        rates=[
            schemas.RateUsedOut(
                base=r.base,
                quote=r.quote,
                rate=str(r.rate),
                date=r.day,
                method=r.method,  # type: ignore[arg-type]
                start=r.start,
                via=r.via,
            )
            for r in translation.rates
        ],
    )


def general_ledger_out(view: GeneralLedger, amount: Format) -> schemas.GeneralLedgerOut:
    return schemas.GeneralLedgerOut(
        ledger_id=view.ledger_id,
        ledger_name=view.ledger_name,
        asset=view.asset,
        start=view.period.start,
        end=view.period.end,
        accounts=[
            schemas.GeneralLedgerAccountOut(
                account_id=a.account_id,
                code=a.code,
                name=a.name,
                normal_side=a.normal_side,  # type: ignore[arg-type]
                opening_balance=amount(a.opening_balance),
                closing_balance=amount(a.closing_balance),
                lines=[
                    ledger_schemas.StatementLineOut(
                        entry_id=line.entry_id,
                        seq=line.seq,
                        effective_date=line.effective_date,
                        description=line.description,
                        direction=line.direction,  # type: ignore[arg-type]
                        amount=amount(line.amount),
                        running_balance=amount(line.running_balance),
                    )
                    for line in a.lines
                ],
            )
            for a in view.accounts
        ],
    )


def aging_out(view: LedgerAging, amount: Format) -> schemas.AgingOut:
    report = view.report
    return schemas.AgingOut(
        ledger_id=view.ledger_id,
        ledger_name=view.ledger_name,
        asset=view.asset,
        side=report.kind,  # type: ignore[arg-type]
        as_of=report.as_of,
        buckets=list(BUCKETS),
        rows=[
            schemas.AgingRowOut(
                counterparty=row.counterparty,
                amounts=[amount(v) for v in row.buckets],
                total=amount(row.total),
                items=row.items,
            )
            for row in report.rows
        ],
        totals=[amount(v) for v in report.totals],
        total=amount(report.total),
    )
