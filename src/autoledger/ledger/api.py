"""Ledger routes: parse, authorize, call the service or the journal writer, shape the
response. Every POST honours ``Idempotency-Key``."""

import contextlib
import uuid
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.api.deps import (
    EntryApprover,
    LedgerReader,
    LedgerWriter,
    PeriodCloser,
    Session,
)
from autoledger.api.idempotency import Slot, idempotent, json_response
from autoledger.api.problems import from_error, responses
from autoledger.api.writes import request_id_of, write
from autoledger.close import service as close_service
from autoledger.close.checklist import Item
from autoledger.close.errors import CloseChecklistFailed, NoRetainedEarningsAccount
from autoledger.close.schemas import PeriodClose, PeriodReopen
from autoledger.kit.errors import AutoledgerError, FieldError, InvalidRequest
from autoledger.kit.money import parse_amount
from autoledger.ledger import schemas, service
from autoledger.ledger.commands import (
    Command,
    CreateEntry,
    PostingInput,
    PostPending,
    ReverseEntry,
    VoidPending,
)
from autoledger.ledger.domain import EntryStatus
from autoledger.ledger.errors import (
    AccountArchived,
    AccountNotFound,
    AlreadyReversed,
    AssetMismatch,
    BatchFailed,
    DuplicateAccountCode,
    DuplicateAsset,
    EntryNotFound,
    EntryNotPending,
    EntryNotPosted,
    InsufficientFunds,
    InvalidAccount,
    InvalidEntry,
    InvalidPeriod,
    LedgerNotFound,
    PendingExpired,
    PeriodClosed,
    PeriodNotFound,
    PeriodOverlap,
    Unbalanced,
    UnknownAccount,
    UnknownAsset,
)
from autoledger.ledger.journal import Outcome
from autoledger.ledger.presenter import Presenter, ledger_out
from autoledger.ledger.writer import JournalWriter, Overloaded
from autoledger.platform.auth.service import Principal

router = APIRouter(prefix="/v1", tags=["ledger"])

ENTRY_ERRORS = (
    LedgerNotFound,
    Unbalanced,
    UnknownAccount,
    UnknownAsset,
    AssetMismatch,
    InvalidEntry,
    InsufficientFunds,
    AccountArchived,
    PeriodClosed,
    Overloaded,
)
Limit = Annotated[int, Query(ge=1, le=1000)]


def _writer(request: Request) -> JournalWriter:
    writer: JournalWriter = request.app.state.journal_writer
    return writer


async def _render(
    request: Request,
    session: AsyncSession | None,
    principal: Principal,
    outcome: Outcome,
    status: int,
) -> tuple[int, bytes]:
    """The response to a journal outcome: a problem, or the entry as the journal rendered it
    for its event (replays by client id are rendered here, on ``session`` or a short one)."""
    if isinstance(outcome, AutoledgerError):
        problem = from_error(outcome, None)
        return outcome.status, bytes(problem.body)
    code = 200 if outcome.replayed else status
    if outcome.rendered is not None:
        return code, orjson.dumps(outcome.rendered)
    if session is None:
        async with request.app.state.sessionmaker() as own:
            return await _render(request, own, principal, outcome, status)
    out = await Presenter(session, principal.tenant_id).entry(outcome)
    return code, out.model_dump_json().encode()


async def _journal(
    request: Request, principal: Principal, command: Command, status: int
) -> Response:
    """A single-entry write through the group-commit writer. With an Idempotency-Key the
    response is rendered and stored in the same group transaction as the entry; without
    one it is rendered after the commit, outside the group's locks."""
    writer = _writer(request)

    async def run(slot: Slot | None) -> Response:
        if slot is None:
            outcome = await writer.submit(command)
            return json_response(*await _render(request, None, principal, outcome, status))
        rendered: list[tuple[int, bytes]] = []

        async def finish(group_session: AsyncSession, outcome: Outcome) -> None:
            rendered.append(await _render(request, group_session, principal, outcome, status))
            await slot.store(group_session, *rendered[-1])

        await writer.submit(command, finish)
        return json_response(*rendered[-1])

    return await idempotent(request, principal, run)


# assets
@router.post(
    "/assets", status_code=201, response_model=schemas.AssetOut, responses=responses(DuplicateAsset)
)
async def define_asset(
    body: schemas.AssetCreate, principal: LedgerWriter, session: Session, request: Request
) -> Response:
    async def work() -> BaseModel:
        row = await service.define_asset(
            session, principal.tenant_id, body.code, body.scale, body.name
        )
        return schemas.AssetOut.model_validate(row)

    return await write(request, principal, session, 201, work)


@router.get("/assets", response_model=list[schemas.AssetOut])
async def list_assets(principal: LedgerReader, session: Session) -> list[schemas.AssetOut]:
    return [
        schemas.AssetOut.model_validate(a)
        for a in await service.list_assets(session, principal.tenant_id)
    ]


# ledgers
@router.post(
    "/ledgers", status_code=201, response_model=schemas.LedgerOut, responses=responses(UnknownAsset)
)
async def create_ledger(
    body: schemas.LedgerCreate, principal: LedgerWriter, session: Session, request: Request
) -> Response:
    async def work() -> BaseModel:
        ledger = await service.create_ledger(
            session,
            principal.tenant_id,
            name=body.name,
            base_currency=body.base_currency,
            metadata=body.metadata,
            chart_template=body.chart_template,
        )
        return ledger_out(ledger)

    return await write(request, principal, session, 201, work)


@router.get("/ledgers", response_model=list[schemas.LedgerOut])
async def list_ledgers(principal: LedgerReader, session: Session) -> list[schemas.LedgerOut]:
    return [ledger_out(row) for row in await service.list_ledgers(session, principal.tenant_id)]


@router.get(
    "/ledgers/{ledger_id}", response_model=schemas.LedgerOut, responses=responses(LedgerNotFound)
)
async def get_ledger(
    ledger_id: uuid.UUID, principal: LedgerReader, session: Session
) -> schemas.LedgerOut:
    return ledger_out(await service.get_ledger(session, principal.tenant_id, ledger_id))


@router.get(
    "/ledgers/{ledger_id}/verify",
    response_model=schemas.VerifyOut,
    responses=responses(LedgerNotFound),
)
async def verify_ledger(
    ledger_id: uuid.UUID, principal: LedgerReader, session: Session
) -> schemas.VerifyOut:
    """Replay the hash chain and name the first entry that does not match."""
    report = await service.verify_chain(session, principal.tenant_id, ledger_id)
    return schemas.VerifyOut.model_validate(report, from_attributes=True)


# accounts
@router.post(
    "/ledgers/{ledger_id}/accounts",
    status_code=201,
    response_model=schemas.AccountOut,
    responses=responses(LedgerNotFound, DuplicateAccountCode, InvalidAccount, UnknownAsset),
)
async def create_account(
    ledger_id: uuid.UUID,
    body: schemas.AccountCreate,
    principal: LedgerWriter,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        limit = None
        if body.balance_limit is not None:
            ledger = await service.get_ledger(session, principal.tenant_id, ledger_id)
            asset = await service.resolve(
                session, principal.tenant_id, body.asset or ledger.base_currency
            )
            limit = parse_amount(
                body.balance_limit, asset.scale, field="balance_limit", allow_zero=True
            )
        parent: str | uuid.UUID | None = body.parent
        if body.parent is not None:
            try:
                parent = uuid.UUID(body.parent)
            except ValueError:
                parent = body.parent
        account = await service.create_account(
            session,
            principal.tenant_id,
            ledger_id,
            code=body.code,
            name=body.name,
            type=body.type,
            parent=parent,
            asset=body.asset,
            debits_must_not_exceed_credits=body.debits_must_not_exceed_credits,
            credits_must_not_exceed_debits=body.credits_must_not_exceed_debits,
            balance_limit=limit,
            metadata=body.metadata,
        )
        return await Presenter(session, principal.tenant_id).account(account)

    return await write(request, principal, session, 201, work)


@router.post(
    "/ledgers/{ledger_id}/accounts:import",
    status_code=201,
    response_model=schemas.ChartImportOut,
    responses=responses(LedgerNotFound, DuplicateAccountCode, InvalidAccount),
    summary="Import a chart of accounts from CSV (columns code,name,type[,parent_code]); all or nothing",
)
async def import_chart(
    ledger_id: uuid.UUID,
    principal: LedgerWriter,
    session: Session,
    request: Request,
    csv_text: Annotated[str, Body(media_type="text/csv")],
    asset: Annotated[
        str | None, Query(description="Asset of every imported account; omit for multi-asset")
    ] = None,
) -> Response:
    async def work() -> BaseModel:
        accounts = await service.import_chart_csv(
            session, principal.tenant_id, ledger_id, csv_text, asset=asset
        )
        presenter = Presenter(session, principal.tenant_id)
        return schemas.ChartImportOut(
            created=len(accounts), accounts=[await presenter.account(a) for a in accounts]
        )

    return await write(request, principal, session, 201, work)


@router.get(
    "/ledgers/{ledger_id}/accounts",
    response_model=schemas.AccountPage,
    responses=responses(LedgerNotFound),
)
async def list_accounts(
    ledger_id: uuid.UUID,
    principal: LedgerReader,
    session: Session,
    cursor: Annotated[
        str | None, Query(description="Code of the last account of the previous page")
    ] = None,
    limit: Limit = 100,
    status: Annotated[str | None, Query(pattern="^(active|archived)$")] = None,
    type: Annotated[str | None, Query(pattern="^(asset|liability|equity|revenue|expense)$")] = None,
) -> schemas.AccountPage:
    rows = await service.list_accounts(
        session,
        principal.tenant_id,
        ledger_id,
        after=cursor,
        limit=limit + 1,
        status=status,
        type_=type,
    )
    presenter = Presenter(session, principal.tenant_id)
    data = [await presenter.account(a) for a in rows[:limit]]
    return schemas.AccountPage(data=data, next_cursor=data[-1].code if len(rows) > limit else None)


@router.get(
    "/accounts/{account_id}",
    response_model=schemas.AccountOut,
    responses=responses(AccountNotFound),
)
async def get_account(
    account_id: uuid.UUID, principal: LedgerReader, session: Session
) -> schemas.AccountOut:
    account = await service.get_account(session, principal.tenant_id, account_id)
    return await Presenter(session, principal.tenant_id).account(account)


@router.patch(
    "/accounts/{account_id}",
    response_model=schemas.AccountOut,
    responses=responses(AccountNotFound),
)
async def update_account(
    account_id: uuid.UUID,
    body: schemas.AccountUpdate,
    principal: LedgerWriter,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        account = await service.update_account(
            session,
            principal.tenant_id,
            account_id,
            name=body.name,
            status=body.status,
            metadata=body.metadata,
        )
        return await Presenter(session, principal.tenant_id).account(account)

    return await write(request, principal, session, 200, work)


@router.get(
    "/accounts/{account_id}/balance",
    response_model=schemas.AccountBalanceOut,
    responses=responses(AccountNotFound),
)
async def account_balance(
    account_id: uuid.UUID,
    principal: LedgerReader,
    session: Session,
    as_of: Annotated[date | None, Query(description="Posted balance by effective date")] = None,
) -> schemas.AccountBalanceOut:
    view = await service.account_balances(session, principal.tenant_id, account_id, as_of=as_of)
    return await Presenter(session, principal.tenant_id).balances(view)


@router.get(
    "/accounts/{account_id}/statement",
    response_model=schemas.StatementOut,
    responses=responses(AccountNotFound),
)
async def account_statement(
    account_id: uuid.UUID,
    principal: LedgerReader,
    session: Session,
    asset: Annotated[str | None, Query()] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
) -> schemas.StatementOut:
    view = await service.statement(
        session,
        principal.tenant_id,
        account_id,
        asset=asset,
        date_from=date_from,
        date_to=date_to,
        cursor=cursor,
        limit=limit,
    )
    return await Presenter(session, principal.tenant_id).statement(view)


# entries
def _create_command(
    request: Request, principal: Principal, ledger_id: uuid.UUID, body: schemas.EntryCreate
) -> CreateEntry:
    if body.expires_at is not None and body.status != "pending":
        raise InvalidEntry(
            "expires_at applies to pending entries only",
            errors=[FieldError("expires_at", "pending only")],
        )
    postings = []
    for p in body.postings:
        account: uuid.UUID | str = p.account
        if len(p.account) >= 32:  # codes are at most 32 characters: only those may be ids
            with contextlib.suppress(ValueError):
                account = uuid.UUID(p.account)
        postings.append(PostingInput(account, p.direction, p.amount, p.asset))
    return CreateEntry(
        tenant_id=principal.tenant_id,
        ledger_id=ledger_id,
        postings=tuple(postings),
        actor=principal.actor,
        effective_date=body.effective_date,
        description=body.description,
        metadata=body.metadata,
        source_type=body.source.type.value if body.source else "api",
        source_id=body.source.id if body.source else None,
        pending=body.status == "pending",
        expires_at=body.expires_at,
        client_id=body.id,
        request_id=request_id_of(request),
    )


@router.post(
    "/ledgers/{ledger_id}/entries",
    status_code=201,
    response_model=schemas.EntryOut,
    responses=responses(*ENTRY_ERRORS),
)
async def create_entry(
    ledger_id: uuid.UUID, body: schemas.EntryCreate, principal: LedgerWriter, request: Request
) -> Response:
    """Post (or hold, with ``status: pending``) one balanced entry. Concurrent requests are
    group-committed; a replay with the same client ``id`` returns the first entry (200)."""
    return await _journal(
        request, principal, _create_command(request, principal, ledger_id, body), 201
    )


@router.post(
    "/ledgers/{ledger_id}/entries:batch",
    response_model=schemas.BatchResult,
    responses=responses(*ENTRY_ERRORS, BatchFailed),
)
async def create_entries_batch(
    ledger_id: uuid.UUID, body: schemas.BatchCreate, principal: LedgerWriter, request: Request
) -> Response:
    """Up to 10,000 entries in one transaction: all or nothing (``atomic``), or each on its own."""
    commands: list[Command] = []
    for i, entry in enumerate(body.entries):
        try:
            commands.append(_create_command(request, principal, ledger_id, entry))
        except AutoledgerError as exc:
            raise InvalidRequest(
                f"entries.{i}: {exc.detail}", errors=[FieldError(f"entries.{i}", exc.detail)]
            ) from None
    # The whole batch names one ledger: an unknown (or another tenant's) ledger is the
    # route's 404, as for a single entry, not a failed item per entry.
    async with request.app.state.sessionmaker() as session:
        await service.get_ledger(session, principal.tenant_id, ledger_id)

    async def render(session: AsyncSession | None, outcomes: list[Outcome]) -> bytes:
        """``schemas.BatchResult`` as JSON, built from the journal's own renderings."""
        items: list[dict[str, Any]] = []
        counts = {"created": 0, "replayed": 0, "failed": 0}
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, AutoledgerError):
                status = "failed"
                error = {"code": outcome.code, "title": outcome.title, "detail": outcome.detail}
                items.append({"index": i, "status": status, "entry": None, "error": error})
            else:
                if outcome.rendered is not None:
                    entry = outcome.rendered
                else:
                    _, entry_json = await _render(request, session, principal, outcome, 200)
                    entry = orjson.loads(entry_json)
                status = "replayed" if outcome.replayed else "created"
                items.append({"index": i, "status": status, "entry": entry, "error": None})
            counts[status] += 1
        return orjson.dumps({"atomic": body.atomic, **counts, "items": items})

    async def run(slot: Slot | None) -> Response:
        if slot is None:
            outcomes = await _writer(request).execute(commands, atomic=body.atomic)
            return json_response(200, await render(None, outcomes))
        rendered: list[bytes] = []

        async def finish(session: AsyncSession, outcomes: list[Outcome]) -> None:
            rendered.append(await render(session, outcomes))
            await slot.store(session, 200, rendered[-1])

        await _writer(request).execute(commands, atomic=body.atomic, finish=finish)
        return json_response(200, rendered[-1])

    return await idempotent(request, principal, run)


@router.get(
    "/ledgers/{ledger_id}/entries",
    response_model=schemas.EntryPage,
    responses=responses(LedgerNotFound),
)
async def list_entries(
    ledger_id: uuid.UUID,
    principal: LedgerReader,
    session: Session,
    request: Request,
    account: Annotated[uuid.UUID | None, Query(description="Entries touching this account")] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    status: EntryStatus | None = None,
    source_type: str | None = None,
    source_id: str | None = None,
    # at most 18 digits: every such seq fits the database's 64-bit integer
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    limit: Limit = 100,
) -> schemas.EntryPage:
    """Newest first. Filter by metadata with ``metadata[key]=value`` (repeatable)."""
    metadata = {
        k[len("metadata[") : -1]: v
        for k, v in request.query_params.items()
        if k.startswith("metadata[") and k.endswith("]") and len(k) > len("metadata[]")
    }
    views = await service.list_entries(
        session,
        principal.tenant_id,
        ledger_id,
        account_id=account,
        date_from=date_from,
        date_to=date_to,
        status=status,
        source_type=source_type,
        source_id=source_id,
        metadata=metadata,
        before_seq=int(cursor) if cursor else None,
        limit=limit + 1,
    )
    presenter = Presenter(session, principal.tenant_id)
    data = [await presenter.entry(v) for v in views[:limit]]
    return schemas.EntryPage(
        data=data, next_cursor=str(data[-1].seq) if len(views) > limit else None
    )


@router.get(
    "/entries/{entry_id}", response_model=schemas.EntryOut, responses=responses(EntryNotFound)
)
async def get_entry(
    entry_id: uuid.UUID, principal: LedgerReader, session: Session
) -> schemas.EntryOut:
    view = await service.get_entry(session, principal.tenant_id, entry_id)
    return await Presenter(session, principal.tenant_id).entry(view)


@router.post(
    "/entries/{entry_id}:post",
    response_model=schemas.EntryOut,
    responses=responses(
        EntryNotFound,
        EntryNotPending,
        PendingExpired,
        InvalidEntry,
        InsufficientFunds,
        PeriodClosed,
    ),
)
async def post_entry(
    entry_id: uuid.UUID,
    principal: EntryApprover,
    request: Request,
    body: Annotated[schemas.EntryPost | None, Body()] = None,
) -> Response:
    """Post a pending entry in full, or partly (the rest of the hold is released)."""
    amounts = tuple(body.amounts) if body is not None and body.amounts is not None else None
    return await _journal(
        request,
        principal,
        PostPending(
            principal.tenant_id, entry_id, principal.actor, amounts, request_id_of(request)
        ),
        200,
    )


@router.post(
    "/entries/{entry_id}:void",
    response_model=schemas.EntryOut,
    responses=responses(EntryNotFound, EntryNotPending, PeriodClosed),
)
async def void_entry(entry_id: uuid.UUID, principal: EntryApprover, request: Request) -> Response:
    """Release a pending entry's hold."""
    return await _journal(
        request,
        principal,
        VoidPending(principal.tenant_id, entry_id, principal.actor, request_id_of(request)),
        200,
    )


@router.post(
    "/entries/{entry_id}:reverse",
    status_code=201,
    response_model=schemas.EntryOut,
    responses=responses(
        EntryNotFound, EntryNotPosted, AlreadyReversed, PeriodClosed, InsufficientFunds
    ),
)
async def reverse_entry(
    entry_id: uuid.UUID,
    principal: LedgerWriter,
    request: Request,
    body: Annotated[schemas.EntryReverse | None, Body()] = None,
) -> Response:
    """Create the mirror entry (effective today unless given). An entry is reversed at most once."""
    body = body or schemas.EntryReverse()
    command = ReverseEntry(
        principal.tenant_id,
        entry_id,
        principal.actor,
        body.effective_date,
        body.description,
        body.id,
        request_id_of(request),
    )
    return await _journal(request, principal, command, 201)


# periods
@router.get(
    "/ledgers/{ledger_id}/periods",
    response_model=list[schemas.PeriodOut],
    responses=responses(LedgerNotFound),
)
async def list_periods(
    ledger_id: uuid.UUID, principal: LedgerReader, session: Session
) -> list[schemas.PeriodOut]:
    return [
        schemas.PeriodOut.model_validate(p)
        for p in await service.list_periods(session, principal.tenant_id, ledger_id)
    ]


@router.post(
    "/ledgers/{ledger_id}/periods",
    status_code=201,
    response_model=schemas.PeriodOut,
    responses=responses(LedgerNotFound, InvalidPeriod, PeriodOverlap),
)
async def create_period(
    ledger_id: uuid.UUID,
    body: schemas.PeriodCreate,
    principal: PeriodCloser,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        period = await service.create_period(
            session,
            principal.tenant_id,
            ledger_id,
            name=body.name,
            start_date=body.start_date,
            end_date=body.end_date,
        )
        return schemas.PeriodOut.model_validate(period)

    return await write(request, principal, session, 201, work)


@router.get(
    "/ledgers/{ledger_id}/periods/{period_id}",
    response_model=schemas.PeriodOut,
    responses=responses(LedgerNotFound, PeriodNotFound),
)
async def get_period(
    ledger_id: uuid.UUID, period_id: uuid.UUID, principal: LedgerReader, session: Session
) -> schemas.PeriodOut:
    """A period with its close: who closed it, the checklist items a close acknowledged,
    who reopened it and why."""
    for period in await service.list_periods(session, principal.tenant_id, ledger_id):
        if period.id == period_id:
            return schemas.PeriodOut.model_validate(period)
    raise PeriodNotFound(f"no period {period_id} in ledger {ledger_id}")


@router.post(
    "/ledgers/{ledger_id}/periods/{period_id}:close",
    response_model=schemas.PeriodOut,
    responses=responses(
        LedgerNotFound,
        PeriodNotFound,
        CloseChecklistFailed,
        NoRetainedEarningsAccount,
        AssetMismatch,
    ),
)
async def close_period(
    ledger_id: uuid.UUID,
    period_id: uuid.UUID,
    principal: PeriodCloser,
    session: Session,
    request: Request,
    body: Annotated[PeriodClose | None, Body()] = None,
) -> Response:
    """Close a period: entries dated inside it are refused with ``ledger.period_closed``.
    The period's checklist (``…/checklist``) must pass, or its failing items be
    acknowledged (``ledger.close_checklist_failed`` otherwise); a period that ends a fiscal
    year gets its closing entry first (ADR 0018)."""
    body = body or PeriodClose()

    async def work() -> BaseModel:
        period = await close_service.close_period(
            session,
            principal.tenant_id,
            ledger_id,
            period_id,
            actor=principal.actor,
            acknowledge=[Item(code) for code in body.acknowledge],
            reason=body.reason,
        )
        return schemas.PeriodOut.model_validate(period)

    return await write(request, principal, session, 200, work)


@router.post(
    "/ledgers/{ledger_id}/periods/{period_id}:reopen",
    response_model=schemas.PeriodOut,
    responses=responses(LedgerNotFound, PeriodNotFound),
)
async def reopen_period(
    ledger_id: uuid.UUID,
    period_id: uuid.UUID,
    principal: PeriodCloser,
    session: Session,
    request: Request,
    body: Annotated[PeriodReopen | None, Body()] = None,
) -> Response:
    """Reopen a closed period (admin; audited). Its closing entry stays: a re-close books
    a corrective one for whatever changed meanwhile."""
    reason = None if body is None else body.reason

    async def work() -> BaseModel:
        period = await close_service.reopen_period(
            session, principal.tenant_id, ledger_id, period_id, actor=principal.actor, reason=reason
        )
        return schemas.PeriodOut.model_validate(period)

    return await write(request, principal, session, 200, work)
