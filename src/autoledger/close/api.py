"""Period-close routes (ADR 0018): the checklist and the year-end closing entries. Closing
and reopening stay on the ledger's period routes (``…/periods/{id}:close`` and
``:reopen``), which call :mod:`autoledger.close.service`."""

import uuid

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from autoledger.api.deps import LedgerReader, PeriodCloser, Session
from autoledger.api.problems import responses
from autoledger.api.writes import write
from autoledger.close import schemas, service
from autoledger.close.checklist import REASON_REQUIRED, Checklist
from autoledger.close.errors import NoRetainedEarningsAccount, NotFiscalYearEnd
from autoledger.ledger import service as ledger_service
from autoledger.ledger.errors import (
    AssetMismatch,
    LedgerNotFound,
    PeriodClosed,
    PeriodNotFound,
)
from autoledger.ledger.presenter import Presenter

router = APIRouter(prefix="/v1", tags=["close"])


def checklist_out(
    ledger_id: uuid.UUID, period_id: uuid.UUID, found: Checklist
) -> schemas.ChecklistOut:
    return schemas.ChecklistOut(
        ledger_id=ledger_id,
        period_id=period_id,
        period_end=found.period_end,
        passed=found.passed,
        failing=[i.code.value for i in found.failing],
        items=[
            schemas.ChecklistItemOut(
                code=i.code.value,
                title=i.title,
                passed=i.passed,
                acknowledgeable=i.acknowledgeable,
                reason_required=i.code in REASON_REQUIRED,
                evidence=i.evidence,
            )
            for i in found.items
        ],
    )


@router.get(
    "/ledgers/{ledger_id}/periods/{period_id}/checklist",
    response_model=schemas.ChecklistOut,
    responses=responses(LedgerNotFound, PeriodNotFound),
)
async def get_checklist(
    ledger_id: uuid.UUID, period_id: uuid.UUID, principal: LedgerReader, session: Session
) -> schemas.ChecklistOut:
    """What a close of the period checks, item by item, with the evidence."""
    period, found = await service.checklist(session, principal.tenant_id, ledger_id, period_id)
    return checklist_out(ledger_id, period.id, found)


@router.post(
    "/ledgers/{ledger_id}/periods/{period_id}/closing-entries",
    response_model=schemas.ClosingEntriesOut,
    responses=responses(
        LedgerNotFound,
        PeriodNotFound,
        NotFiscalYearEnd,
        NoRetainedEarningsAccount,
        PeriodClosed,
        AssetMismatch,
    ),
)
async def book_closing_entries(
    ledger_id: uuid.UUID,
    period_id: uuid.UUID,
    principal: PeriodCloser,
    session: Session,
    request: Request,
) -> Response:
    """Move the fiscal year's revenue and expense into retained earnings with an entry
    effective the period's last day (the period must end a fiscal year and be open). Asking
    again books nothing unless something changed, then a corrective entry."""

    async def work() -> BaseModel:
        result = await service.closing_entries(
            session, principal.tenant_id, ledger_id, period_id, actor=principal.actor
        )
        presenter = Presenter(session, principal.tenant_id)
        return schemas.ClosingEntriesOut(
            ledger_id=ledger_id,
            period_id=result.period.id,
            fiscal_year_start=result.fiscal_year_start,
            fiscal_year_end=result.fiscal_year_end,
            retained_earnings_account_id=result.retained_earnings_account_id,
            booked_entry_id=result.booked,
            entries=[
                await presenter.entry(
                    await ledger_service.get_entry(session, principal.tenant_id, e.id)
                )
                for e in result.entries
            ],
        )

    return await write(request, principal, session, 200, work)
