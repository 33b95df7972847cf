"""Report routes: JSON by default; ``format=csv|xlsx|html`` (or the ``Accept`` header) for
a download or a printable page. Every route needs ``reports:read``."""

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from autoledger.api.deps import ReportReader, Session
from autoledger.api.problems import responses
from autoledger.fx.rates import RateMissing
from autoledger.kit.money import ASSET_CODE_PATTERN
from autoledger.kit.schemas import ResponseModel
from autoledger.ledger.errors import LedgerNotFound, UnknownAsset
from autoledger.reports import exports, presenter, schemas, service
from autoledger.reports.errors import (
    InvalidPeriod,
    ReportTooLarge,
    UnknownAccount,
)
from autoledger.reports.periods import Compare
from autoledger.reports.service import AgingKind, Method, ReportQuery
from autoledger.reports.xlsx import XLSX_MEDIA_TYPE, to_xlsx

router = APIRouter(prefix="/v1", tags=["reports"])


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


_MEDIA = {
    Format.JSON: "application/json",
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: XLSX_MEDIA_TYPE,
    Format.HTML: "text/html; charset=utf-8",
}
_ACCEPTED = {
    "text/csv": Format.CSV,
    XLSX_MEDIA_TYPE: Format.XLSX,
    "text/html": Format.HTML,
    "application/json": Format.JSON,
}
_DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: JSON, or a CSV / XLSX download, or a printable HTML page",
        "content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}, "text/html": {}},
    }
}
_ERRORS = (LedgerNotFound, UnknownAsset, InvalidPeriod)
_STATEMENT_ERRORS = (*_ERRORS, RateMissing)

AsOf = Annotated[date | None, Query(description="Balances at this date (alias of `to`)")]
From = Annotated[
    date | None, Query(alias="from", description="Period start (default: fiscal year start)")
]
To = Annotated[date | None, Query(alias="to", description="Period end (default: today)")]
CompareTo = Annotated[Compare | None, Query(alias="compare", description="Add a comparison column")]
Depth = Annotated[int | None, Query(ge=1, le=32, description="Chart levels to show")]
AssetCode = Annotated[
    str | None,
    Query(
        pattern=ASSET_CODE_PATTERN,
        description="Asset of the report (default: the ledger's base currency)",
    ),
]
Currency = Annotated[
    str | None,
    Query(
        pattern=ASSET_CODE_PATTERN,
        description=(
            "Reporting currency: every asset converted at the tenant's rates, the policy and"
            " rates stated in `translation` (excludes `asset`)"
        ),
    ),
]
FormatParam = Annotated[Format | None, Query(alias="format", description="Default: JSON")]


def _format(request: Request, asked: Format | None) -> Format:
    """The ``format`` parameter, else the first media type of ``Accept`` we can write."""
    if asked is not None:
        return asked
    for part in request.headers.get("accept", "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in _ACCEPTED:
            return _ACCEPTED[media]
    return Format.JSON


def _respond(body: ResponseModel, kind: str, end: date, fmt: Format) -> Response:
    if fmt is Format.JSON:
        return JSONResponse(body.model_dump(mode="json"))
    table = exports.table_of(body)  # type: ignore[arg-type]
    if fmt is Format.CSV:
        content = exports.to_csv(table)
    elif fmt is Format.HTML:
        return Response(exports.to_html(table), media_type=_MEDIA[fmt])
    else:
        content = to_xlsx(table)
    filename = f"{kind.replace('_', '-')}-{end.isoformat()}.{fmt.value}"
    return Response(
        content,
        media_type=_MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def statement_query(
    as_of: AsOf = None,
    date_from: From = None,
    date_to: To = None,
    compare: CompareTo = None,
    depth: Depth = None,
    asset: AssetCode = None,
    currency: Currency = None,
) -> ReportQuery:
    """The parameters every statement takes: one asset as booked, or every asset in a
    reporting currency, not both."""
    if asset is not None and currency is not None:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "currency"),
                    "msg": "give `asset` (one asset as booked) or `currency` (all converted),"
                    " not both",
                    "input": currency,
                }
            ]
        )
    return ReportQuery(as_of, date_from, date_to, compare, depth, asset, currency)


StatementQuery = Annotated[ReportQuery, Depends(statement_query)]


def _query(
    as_of: date | None, date_from: date | None, date_to: date | None, asset: str | None
) -> ReportQuery:
    return ReportQuery(as_of, date_from, date_to, asset=asset)


async def _statement(
    request: Request,
    session: Session,
    tenant_id: uuid.UUID,
    view: service.LedgerReport,
    fmt: Format | None,
) -> Response:
    amount = await presenter.formatter(session, tenant_id, view.asset)
    body = presenter.statement_out(view, amount)
    return _respond(body, view.report.kind, view.period.end, _format(request, fmt))


@router.get(
    "/ledgers/{ledger_id}/reports/trial-balance",
    response_model=schemas.StatementReportOut,
    responses={**_DOWNLOADS, **responses(*_STATEMENT_ERRORS)},
)
async def trial_balance(
    ledger_id: uuid.UUID,
    principal: ReportReader,
    session: Session,
    request: Request,
    query: StatementQuery,
    format: FormatParam = None,
) -> Response:
    """Debit and credit balance of every account at `as_of` (accounts below `depth` fold
    into their ancestor)."""
    view = await service.trial_balance(session, principal.tenant_id, ledger_id, query)
    return await _statement(request, session, principal.tenant_id, view, format)


@router.get(
    "/ledgers/{ledger_id}/reports/balance-sheet",
    response_model=schemas.StatementReportOut,
    responses={**_DOWNLOADS, **responses(*_STATEMENT_ERRORS)},
)
async def balance_sheet(
    ledger_id: uuid.UUID,
    principal: ReportReader,
    session: Session,
    request: Request,
    query: StatementQuery,
    format: FormatParam = None,
) -> Response:
    """Assets, liabilities and equity at `as_of`, with the current year's earnings."""
    view = await service.balance_sheet(session, principal.tenant_id, ledger_id, query)
    return await _statement(request, session, principal.tenant_id, view, format)


@router.get(
    "/ledgers/{ledger_id}/reports/income-statement",
    response_model=schemas.StatementReportOut,
    responses={**_DOWNLOADS, **responses(*_STATEMENT_ERRORS)},
)
async def income_statement(
    ledger_id: uuid.UUID,
    principal: ReportReader,
    session: Session,
    request: Request,
    query: StatementQuery,
    format: FormatParam = None,
) -> Response:
    """Revenue and expenses within the period, and net income."""
    view = await service.income_statement(session, principal.tenant_id, ledger_id, query)
    return await _statement(request, session, principal.tenant_id, view, format)


@router.get(
    "/ledgers/{ledger_id}/reports/cash-flow",
    response_model=schemas.StatementReportOut,
    responses={**_DOWNLOADS, **responses(*_STATEMENT_ERRORS)},
)
async def cash_flow(
    ledger_id: uuid.UUID,
    principal: ReportReader,
    session: Session,
    request: Request,
    query: StatementQuery,
    method: Method = Method.INDIRECT,
    format: FormatParam = None,
) -> Response:
    """Cash flow by activity (cash = the ledger accounts bank accounts are booked on):
    `indirect` from net income and balance-sheet changes, `direct` from the cash entries'
    counterpart accounts."""
    view = await service.cash_flow(session, principal.tenant_id, ledger_id, query, method)
    return await _statement(request, session, principal.tenant_id, view, format)


@router.get(
    "/ledgers/{ledger_id}/reports/general-ledger",
    response_model=schemas.GeneralLedgerOut,
    responses={**_DOWNLOADS, **responses(*_ERRORS, UnknownAccount, ReportTooLarge)},
)
async def general_ledger(
    ledger_id: uuid.UUID,
    principal: ReportReader,
    session: Session,
    request: Request,
    as_of: AsOf = None,
    date_from: From = None,
    date_to: To = None,
    asset: AssetCode = None,
    account: Annotated[str | None, Query(max_length=64, description="Account code or id")] = None,
    format: FormatParam = None,
) -> Response:
    """Every posting of the period per account with opening, running and closing balances
    (each account's statement, `GET /v1/accounts/{id}/statement`, over the period)."""
    view = await service.general_ledger(
        session,
        principal.tenant_id,
        ledger_id,
        _query(as_of, date_from, date_to, asset),
        account,
    )
    amount = await presenter.formatter(session, principal.tenant_id, view.asset)
    body = presenter.general_ledger_out(view, amount)
    return _respond(body, "general_ledger", view.period.end, _format(request, format))


@router.get(
    "/ledgers/{ledger_id}/reports/aging",
    response_model=schemas.AgingOut,
    responses={**_DOWNLOADS, **responses(*_ERRORS)},
)
async def aging(
    ledger_id: uuid.UUID,
    principal: ReportReader,
    session: Session,
    request: Request,
    as_of: AsOf = None,
    date_to: To = None,
    asset: AssetCode = None,
    kind: AgingKind = AgingKind.RECEIVABLE,
    format: FormatParam = None,
) -> Response:
    """Open receivables or payables at `as_of` by counterparty, in buckets of days past due
    (current, 1-30, 31-60, 61-90, 90+)."""
    view = await service.aging_report(
        session, principal.tenant_id, ledger_id, _query(as_of, None, date_to, asset), kind
    )
    amount = await presenter.formatter(session, principal.tenant_id, view.asset)
    body = presenter.aging_out(view, amount)
    return _respond(body, f"aging_{kind.value}", view.report.as_of, _format(request, format))
