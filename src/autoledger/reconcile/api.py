"""The reconciliation API.

- Open items: which accounts are open-item managed (an admin change), and what is still
  open. Items themselves are never written here: they follow the ledger (``consumers``).
- Matching: run the matcher on a bank account, review what it kept. Deciding an already
  decided match the same way again changes nothing, deciding it differently is a 409.
- Reports and sign-off: the statement against the books at a date; a balanced period
  signed off locks its lines until an admin reopens it.
- Settings: a ledger's matching policy, tolerances and write-off accounts.

Every write is idempotent (``Idempotency-Key``) and audited.
"""

import base64
import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from autoledger.api.deps import ReconcileManager, ReconcileReader, ReconcileWriter, Session
from autoledger.api.problems import responses
from autoledger.api.writes import write
from autoledger.banking.statement import currency_scale
from autoledger.kit.errors import InvalidCursor, InvalidRequest
from autoledger.kit.money import parse_amount
from autoledger.ledger.errors import LedgerNotFound
from autoledger.reconcile import configuration, openitems, periods, schemas, service
from autoledger.reconcile.errors import (
    AccountNotMarked,
    BankAccountNotFound,
    InvalidSettings,
    MatchDecided,
    MatchNotFound,
    MatchStale,
    OpenItemAccountNotFound,
    OpenItemNotFound,
    PeriodLocked,
    ReconciliationNotBalanced,
    ReconciliationNotFound,
    ReconciliationOutOfOrder,
    WriteOffCurrency,
)
from autoledger.reconcile.locks import locked_through
from autoledger.reconcile.schemas import MatchOut, MatchStatus, RunOut

router = APIRouter(prefix="/v1", tags=["reconcile"])
Limit = Annotated[int, Query(ge=1, le=500)]
AccountRef = Annotated[
    str, Path(pattern=schemas.ACCOUNT_REF, description="The account's id or code")
]


@router.put(
    "/ledgers/{ledger_id}/open-item-accounts/{account}",
    response_model=schemas.OpenItemAccountOut,
    summary="Make an account open-item managed (receivable, payable or clearing)",
    responses=responses(LedgerNotFound, OpenItemAccountNotFound),
)
async def mark_account(
    ledger_id: uuid.UUID,
    account: AccountRef,
    body: schemas.OpenItemAccountIn,
    principal: ReconcileManager,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        marking = await openitems.mark_account(
            session, principal.tenant_id, ledger_id, account, body.role
        )
        return openitems.account_out(marking)

    return await write(request, principal, session, 200, work)


@router.delete(
    "/ledgers/{ledger_id}/open-item-accounts/{account}",
    response_model=schemas.OpenItemAccountOut,
    summary="Stop managing an account's open items (its items are kept)",
    responses=responses(LedgerNotFound, OpenItemAccountNotFound, AccountNotMarked),
)
async def unmark_account(
    ledger_id: uuid.UUID,
    account: AccountRef,
    principal: ReconcileManager,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        marking = await openitems.unmark_account(session, principal.tenant_id, ledger_id, account)
        return openitems.account_out(marking)

    return await write(request, principal, session, 200, work)


@router.get(
    "/ledgers/{ledger_id}/open-item-accounts",
    response_model=list[schemas.OpenItemAccountOut],
    responses=responses(LedgerNotFound),
)
async def list_accounts(
    ledger_id: uuid.UUID, principal: ReconcileReader, session: Session
) -> list[schemas.OpenItemAccountOut]:
    markings = await openitems.list_accounts(session, principal.tenant_id, ledger_id)
    return [openitems.account_out(m) for m in markings]


@router.get(
    "/ledgers/{ledger_id}/open-item-accounts/{account}",
    response_model=schemas.OpenItemAccountOut,
    responses=responses(LedgerNotFound, OpenItemAccountNotFound, AccountNotMarked),
)
async def get_account(
    ledger_id: uuid.UUID, account: AccountRef, principal: ReconcileReader, session: Session
) -> schemas.OpenItemAccountOut:
    marking = await openitems.get_marking(session, principal.tenant_id, ledger_id, account)
    return openitems.account_out(marking)


@router.get(
    "/ledgers/{ledger_id}/open-items",
    response_model=list[schemas.OpenItemOut],
    summary="The ledger's open items, oldest first (next page: `X-Next-Cursor`)",
    responses=responses(LedgerNotFound, OpenItemAccountNotFound, InvalidCursor),
)
async def list_items(
    ledger_id: uuid.UUID,
    principal: ReconcileReader,
    session: Session,
    response: Response,
    status: Annotated[schemas.OpenItemStatus | None, Query()] = None,
    account: Annotated[
        str | None, Query(pattern=schemas.ACCOUNT_REF, description="Account id or code")
    ] = None,
    counterparty: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Counterparty id or name")
    ] = None,
    reference: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
) -> list[schemas.OpenItemOut]:
    items = await openitems.list_items(
        session,
        principal.tenant_id,
        ledger_id,
        status=status,
        account=account,
        counterparty=counterparty,
        reference=reference,
        after=_cursor(cursor),
        limit=limit,
    )
    if len(items) == limit:
        response.headers["X-Next-Cursor"] = base64.urlsafe_b64encode(
            str(items[-1].id).encode()
        ).decode()
    amount = openitems.AmountFormatter(session, principal.tenant_id)
    return [await openitems.item_out(item, amount) for item in items]


@router.get(
    "/open-items/{open_item_id}",
    response_model=schemas.OpenItemDetailOut,
    summary="An open item with its settlements",
    responses=responses(OpenItemNotFound),
)
async def get_item(
    open_item_id: uuid.UUID, principal: ReconcileReader, session: Session
) -> schemas.OpenItemDetailOut:
    item, settlements = await openitems.get_item(session, principal.tenant_id, open_item_id)
    amount = openitems.AmountFormatter(session, principal.tenant_id)
    return await openitems.item_detail_out(item, settlements, amount)


def _cursor(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(base64.urlsafe_b64decode(value.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor("cursor is not one this API returned") from None


# --- runs and matches ------------------------------------------------------------------


@router.post(
    "/bank-accounts/{bank_account_id}/reconcile",
    response_model=RunOut,
    summary="Match the account's unreconciled lines against open items; reconcile the sure ones",
    responses=responses(BankAccountNotFound, MatchStale),
)
async def run_reconcile(
    bank_account_id: uuid.UUID,
    principal: ReconcileWriter,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        report = await service.run(session, principal.tenant_id, bank_account_id)
        return RunOut(
            bank_account_id=report.bank_account_id,
            lines=report.lines,
            open_items=report.open_items,
            matches=report.matches,
            auto_reconciled=report.auto_reconciled,
            suggested_lines=report.suggested_lines,
            unmatched_lines=report.unmatched_lines,
            threshold=report.threshold,
            policy_source=report.policy_source,  # type: ignore[arg-type]
            stats=report.stats,
        )

    return await write(request, principal, session, 200, work)


@router.get(
    "/bank-accounts/{bank_account_id}/matches",
    response_model=list[MatchOut],
    summary="Matches of a bank account (suggestions: status=suggested), oldest first",
    responses=responses(BankAccountNotFound),
)
async def list_matches(
    bank_account_id: uuid.UUID,
    principal: ReconcileReader,
    session: Session,
    response: Response,
    status: MatchStatus | None = None,
    after: uuid.UUID | None = Query(default=None, description="The last id of the previous page"),
    limit: Limit = 100,
) -> list[MatchOut]:
    await service.get_bank_account(session, principal.tenant_id, bank_account_id)
    records = await service.matches_of(
        session, principal.tenant_id, bank_account_id, status=status, after=after, limit=limit
    )
    if len(records) == limit:
        response.headers["X-Next-After"] = str(records[-1].id)
    return [await service.match_out_of(session, r) for r in records]


@router.get(
    "/matches/{match_id}",
    response_model=MatchOut,
    responses=responses(MatchNotFound),
)
async def get_match(match_id: uuid.UUID, principal: ReconcileReader, session: Session) -> MatchOut:
    return await service.match_out_of(
        session, await service.get_match(session, principal.tenant_id, match_id)
    )


Decision = Literal["accept", "reject", "unreconcile"]


async def _decide(
    decision: Decision,
    match_id: uuid.UUID,
    principal: ReconcileWriter,
    session: Session,
    request: Request,
) -> Response:
    act = {"accept": service.accept, "reject": service.reject, "unreconcile": service.unreconcile}
    decide = act[decision]

    async def work() -> BaseModel:
        record = await decide(session, principal.tenant_id, match_id, principal.actor)
        return await service.match_out_of(session, record)

    return await write(request, principal, session, 200, work)


@router.post(
    "/matches/{match_id}/accept",
    response_model=MatchOut,
    summary="Accept a suggestion: book its settlement, allocate its items, lock its lines",
    responses=responses(MatchNotFound, MatchDecided, MatchStale, PeriodLocked, WriteOffCurrency),
)
async def accept_match(
    match_id: uuid.UUID, principal: ReconcileWriter, session: Session, request: Request
) -> Response:
    return await _decide("accept", match_id, principal, session, request)


@router.post(
    "/matches/{match_id}/reject",
    response_model=MatchOut,
    summary="Reject a match (a reconciled one is unreconciled first); never proposed again",
    responses=responses(MatchNotFound, MatchDecided, MatchStale, PeriodLocked),
)
async def reject_match(
    match_id: uuid.UUID, principal: ReconcileWriter, session: Session, request: Request
) -> Response:
    return await _decide("reject", match_id, principal, session, request)


@router.post(
    "/matches/{match_id}/unreconcile",
    response_model=MatchOut,
    summary="Reverse a reconciled match's settlement and reopen what it settled",
    responses=responses(MatchNotFound, MatchDecided, MatchStale, PeriodLocked),
)
async def unreconcile_match(
    match_id: uuid.UUID, principal: ReconcileWriter, session: Session, request: Request
) -> Response:
    return await _decide("unreconcile", match_id, principal, session, request)


# --- reports and sign-off -----------------------------------------------------------------


def _statement_balance(text: str | None, currency: str) -> int | None:
    if text is None:
        return None
    return parse_amount(
        text,
        currency_scale(currency),
        field="statement_balance",
        allow_zero=True,
        allow_negative=True,
    )


@router.get(
    "/bank-accounts/{bank_account_id}/reconciliation-report",
    response_model=schemas.ReconciliationReportOut,
    summary="Statement balance against ledger balance at a date, the difference explained"
    " line by line",
    responses=responses(BankAccountNotFound),
)
async def reconciliation_report(
    bank_account_id: uuid.UUID,
    principal: ReconcileReader,
    session: Session,
    statement_date: date = Query(description="The day the report is at the end of"),
    start: date | None = Query(
        default=None,
        alias="from",
        description="First day of the period's activity; default: the day after the latest"
        " reconciliation before statement_date",
    ),
    statement_balance: str | None = Query(
        default=None,
        description="The statement's balance, when no imported statement states one (or to"
        " check another)",
    ),
) -> schemas.ReconciliationReportOut:
    bank = await service.get_bank_account(session, principal.tenant_id, bank_account_id)
    if start is not None and start > statement_date:
        raise InvalidRequest("from: the period starts after statement_date")
    report = await periods.build_report(
        session,
        bank,
        end=statement_date,
        start=start,
        statement_balance=_statement_balance(statement_balance, bank.currency),
    )
    through = await locked_through(session, principal.tenant_id, bank.id)
    return periods.report_out(bank, report, through)


@router.post(
    "/bank-accounts/{bank_account_id}/reconciliations",
    response_model=schemas.BankReconciliationOut,
    status_code=201,
    summary="Mark the account reconciled to a statement date (it must balance); locks its"
    " lines up to that date",
    responses=responses(BankAccountNotFound, ReconciliationNotBalanced, ReconciliationOutOfOrder),
)
async def mark_reconciled(
    bank_account_id: uuid.UUID,
    body: schemas.BankReconciliationIn,
    principal: ReconcileWriter,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        bank = await service.get_bank_account(session, principal.tenant_id, bank_account_id)
        record, _ = await periods.mark(
            session,
            bank,
            statement_date=body.statement_date,
            statement_balance=_statement_balance(body.statement_balance, bank.currency),
            actor=principal.actor,
        )
        return periods.reconciliation_out(record)

    return await write(request, principal, session, 201, work)


@router.get(
    "/bank-accounts/{bank_account_id}/reconciliations",
    response_model=list[schemas.BankReconciliationOut],
    summary="The account's reconciliations, oldest statement date first",
    responses=responses(BankAccountNotFound),
)
async def list_reconciliations(
    bank_account_id: uuid.UUID, principal: ReconcileReader, session: Session
) -> list[schemas.BankReconciliationOut]:
    records = await periods.list_reconciliations(session, principal.tenant_id, bank_account_id)
    return [periods.reconciliation_out(r) for r in records]


@router.get(
    "/bank-accounts/{bank_account_id}/reconciliations/{reconciliation_id}",
    response_model=schemas.BankReconciliationOut,
    responses=responses(ReconciliationNotFound),
)
async def get_reconciliation(
    bank_account_id: uuid.UUID,
    reconciliation_id: uuid.UUID,
    principal: ReconcileReader,
    session: Session,
) -> schemas.BankReconciliationOut:
    record = await periods.get_reconciliation(
        session, principal.tenant_id, bank_account_id, reconciliation_id
    )
    return periods.reconciliation_out(record)


@router.post(
    "/bank-accounts/{bank_account_id}/reconciliations/{reconciliation_id}/reopen",
    response_model=schemas.BankReconciliationOut,
    summary="Reopen the latest reconciliation (admin): its lines are no longer locked",
    responses=responses(ReconciliationNotFound, ReconciliationOutOfOrder),
)
async def reopen_reconciliation(
    bank_account_id: uuid.UUID,
    reconciliation_id: uuid.UUID,
    principal: ReconcileManager,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        record = await periods.reopen(
            session, principal.tenant_id, bank_account_id, reconciliation_id, principal.actor
        )
        return periods.reconciliation_out(record)

    return await write(request, principal, session, 200, work)


# --- settings -----------------------------------------------------------------------------


@router.get(
    "/ledgers/{ledger_id}/reconcile-settings",
    response_model=schemas.ReconcileSettingsOut,
    summary="The ledger's matching policy, tolerances and write-off accounts",
    responses=responses(LedgerNotFound),
)
async def get_settings(
    ledger_id: uuid.UUID, principal: ReconcileReader, session: Session
) -> schemas.ReconcileSettingsOut:
    record = await configuration.get_settings(session, principal.tenant_id, ledger_id)
    return configuration.settings_out(record)


@router.put(
    "/ledgers/{ledger_id}/reconcile-settings",
    response_model=schemas.ReconcileSettingsOut,
    summary="Replace the ledger's matching policy, tolerances and write-off accounts",
    responses=responses(LedgerNotFound, InvalidSettings),
)
async def put_settings(
    ledger_id: uuid.UUID,
    body: schemas.ReconcileSettingsIn,
    principal: ReconcileManager,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        record = await configuration.put_settings(session, principal.tenant_id, ledger_id, body)
        return configuration.settings_out(record)

    return await write(request, principal, session, 200, work)
