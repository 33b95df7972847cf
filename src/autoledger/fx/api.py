"""The exchange-rate API: keep rates (JSON or the ECB's CSV), look one up, and revalue a
ledger's currency trading accounts at a period end (ADR 0017).

Writes are idempotent (``Idempotency-Key``) and audited like every write.
"""

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from pydantic import BaseModel

from autoledger.api.deps import LedgerReader, LedgerWriter, Session
from autoledger.api.problems import responses
from autoledger.api.writes import write
from autoledger.fx import schemas, service
from autoledger.fx.ecb import EcbFileError
from autoledger.fx.rates import Rate, RateMissing
from autoledger.fx.service import NotATradingAccount
from autoledger.kit.errors import FieldError, InvalidCursor, InvalidRequest
from autoledger.kit.money import format_amount
from autoledger.ledger.errors import AccountNotFound, LedgerNotFound

router = APIRouter(prefix="/v1", tags=["fx"])
MAX_FILE_BYTES = 20 * 1024 * 1024
Currency = Annotated[str, Query(pattern=schemas.CURRENCY)]


@router.put(
    "/fx-rates",
    response_model=schemas.RatesWritten,
    summary="Keep exchange rates (1 base = rate quote on a day); a day's rate is replaced",
)
async def put_rates(
    body: schemas.RatesIn, principal: LedgerWriter, session: Session, request: Request
) -> Response:
    async def work() -> BaseModel:
        rates = [Rate(r.base, r.quote, r.date, Decimal(r.rate)) for r in body.rates]
        written = await service.put_rates(session, principal.tenant_id, rates, body.source)
        return schemas.RatesWritten(
            inserted=written.inserted, updated=written.updated, unchanged=written.unchanged
        )

    return await write(request, principal, session, 200, work)


@router.post(
    "/fx-rates/imports",
    response_model=schemas.RatesImportOut,
    status_code=201,
    summary="Import the ECB's reference-rate CSV (history or daily layout): all or nothing",
    responses=responses(EcbFileError),
)
async def import_rates(
    principal: LedgerWriter,
    session: Session,
    request: Request,
    file: Annotated[UploadFile, File(description="eurofxref-hist.csv or eurofxref.csv")],
) -> Response:
    content = await file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise EcbFileError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")

    async def work() -> BaseModel:
        source = f"ecb:{file.filename or 'upload'}"[:100]
        parsed, written = await service.import_ecb(session, principal.tenant_id, content, source)
        problems = parsed.problems
        if problems:
            raise EcbFileError(
                f"{len(problems)} cells are not rates; nothing was imported",
                errors=[
                    FieldError(loc=f"line {p.line}, {p.column}", message=p.reason)
                    for p in problems[:1_000]
                ],
            )
        days = [r.day for r in parsed.rates]
        return schemas.RatesImportOut(
            rates=len(parsed.rates),
            inserted=written.inserted,
            updated=written.updated,
            unchanged=written.unchanged,
            first_date=min(days),
            last_date=max(days),
            skipped_columns=parsed.skipped,
        )

    return await write(request, principal, session, 201, work)


@router.get(
    "/fx-rates",
    response_model=list[schemas.RateOut],
    summary="Rates kept, newest day first (next page: X-Next-After)",
)
async def list_rates(
    principal: LedgerReader,
    session: Session,
    response: Response,
    base: Annotated[str | None, Query(pattern=schemas.CURRENCY)] = None,
    quote: Annotated[str | None, Query(pattern=schemas.CURRENCY)] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    after: Annotated[str | None, Query(description="X-Next-After of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[schemas.RateOut]:
    rows = await service.list_rates(
        session,
        principal.tenant_id,
        base=base,
        quote=quote,
        start=start,
        end=end,
        after=_cursor(after),
        limit=limit,
    )
    if len(rows) == limit:
        last = rows[-1]
        response.headers["X-Next-After"] = f"{last.day.isoformat()}:{last.base}:{last.quote}"
    return [
        schemas.RateOut(
            base=r.base,
            quote=r.quote,
            date=r.day,
            rate=r.rate,
            source=r.source,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def _cursor(text: str | None) -> tuple[date, str, str] | None:
    if text is None:
        return None
    try:
        day, base, quote = text.split(":")
        return date.fromisoformat(day), base, quote
    except ValueError as exc:
        raise InvalidCursor("after: not a cursor this endpoint gave") from exc


@router.get(
    "/fx-rates/quote",
    response_model=schemas.QuoteOut,
    summary="The closing rate on a day (or the average over a period), direct, inverse or"
    " across a pivot currency",
    responses=responses(RateMissing),
)
async def get_quote(
    principal: LedgerReader,
    session: Session,
    base: Currency,
    quote: Currency,
    on: Annotated[date, Query(alias="date", description="The day (the period's end)")],
    start: Annotated[
        date | None, Query(alias="from", description="With it: the period's average")
    ] = None,
) -> schemas.QuoteOut:
    if start is not None and start > on:
        raise InvalidRequest("from: the period starts after date")
    found = await service.quote(session, principal.tenant_id, base, quote, on, start=start)
    return schemas.QuoteOut(
        base=base,
        quote=quote,
        method="closing" if start is None else "average",
        rate=str(found.rate),
        date=found.day,
        via=found.via,
    )


@router.post(
    "/ledgers/{ledger_id}/fx-revaluations",
    response_model=schemas.RevaluationOut,
    status_code=201,
    summary="Book the value of the currency trading accounts at a period end into profit and"
    " loss, reversed the next day",
    responses=responses(LedgerNotFound, AccountNotFound, RateMissing, NotATradingAccount),
)
async def revalue(
    ledger_id: uuid.UUID,
    body: schemas.RevaluationIn,
    principal: LedgerWriter,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        result = await service.revalue_ledger(
            session,
            principal.tenant_id,
            ledger_id,
            as_of=body.as_of,
            trading_accounts=body.trading_accounts,
            gain_loss_account=body.gain_loss_account,
            actor=principal.actor,
        )
        positions = [
            schemas.PositionOut(
                account_id=account_id,
                asset=v.asset,
                balance=format_amount(v.balance, v.scale),
                rate=str(v.rate.rate),
                rate_date=v.rate.day,
                via=v.rate.via,
                value=format_amount(v.value, result.base_scale),
            )
            for account_id, revaluation in result.per_account.items()
            for v in revaluation.valuations
        ]
        return schemas.RevaluationOut(
            ledger_id=result.ledger_id,
            as_of=result.as_of,
            base_currency=result.base,
            positions=positions,
            value=format_amount(result.value, result.base_scale),
            entry_id=result.entry_id,
            reversal_entry_id=result.reversal_entry_id,
        )

    return await write(request, principal, session, 201, work)
