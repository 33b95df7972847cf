"""The bookkeeping API: the review queue, reviews, rules, the policy, model versions, numbers.

Every write is idempotent (``Idempotency-Key``) and audited; a review of an already
reviewed proposal with the same decision returns it unchanged.
"""

import base64
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.background import BackgroundTask

from autoledger.api.deps import (
    BookkeepingManager,
    BookkeepingReader,
    BookkeepingReviewer,
    Session,
)
from autoledger.api.problems import responses
from autoledger.api.writes import write
from autoledger.categorize import schemas, service
from autoledger.categorize.consumers import STATES, warm
from autoledger.categorize.errors import (
    AlreadyReviewed,
    InvalidRule,
    ModelNotFound,
    ProposalNotFound,
    RuleNotFound,
    UnknownAccount,
)
from autoledger.categorize.tables import ProposalRecord
from autoledger.kit.errors import InvalidCursor
from autoledger.kit.money import InvalidAmount
from autoledger.ledger.errors import LedgerNotFound
from autoledger.ledger.service import get_ledger
from autoledger.platform.auth.service import Principal

router = APIRouter(prefix="/v1", tags=["bookkeeping"])
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get(
    "/ledgers/{ledger_id}/proposals",
    response_model=list[schemas.ProposalOut],
    summary="The review queue: proposals, largest amount first",
    responses=responses(LedgerNotFound, InvalidCursor),
)
async def list_proposals(
    ledger_id: uuid.UUID,
    principal: BookkeepingReader,
    session: Session,
    response: Response,
    status: Annotated[schemas.ProposalStatus | None, Query()] = "queued",
    bank_account_id: uuid.UUID | None = None,
    source: Annotated[schemas.ProposalSource | None, Query()] = None,
    max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    date_from: Annotated[
        date | None, Query(alias="from", description="Lines booked on or after this day")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="Lines booked on or before this day")
    ] = None,
    cursor: str | None = None,
    limit: Limit = 100,
) -> list[schemas.ProposalOut]:
    await get_ledger(session, principal.tenant_id, ledger_id)
    records = await service.queue(
        session,
        principal.tenant_id,
        ledger_id,
        status=status,
        bank_account_id=bank_account_id,
        source=source,
        max_confidence=max_confidence,
        date_from=date_from,
        date_to=date_to,
        after=_cursor(cursor),
        limit=limit,
    )
    if len(records) == limit:
        last = records[-1]
        token = f"{last.impact}:{last.id}".encode()
        response.headers["X-Next-Cursor"] = base64.urlsafe_b64encode(token).decode()
    return [await service.proposal_out(session, r) for r in records]


@router.get(
    "/proposals/{proposal_id}",
    response_model=schemas.ProposalOut,
    responses=responses(ProposalNotFound),
)
async def get_proposal(
    proposal_id: uuid.UUID, principal: BookkeepingReader, session: Session
) -> schemas.ProposalOut:
    record = await service.get_proposal(session, principal.tenant_id, proposal_id)
    return await service.proposal_out(session, record)


@router.post(
    "/proposals/{proposal_id}/review",
    response_model=schemas.ProposalOut,
    summary="Accept or correct a proposal (books, or re-books, the bank line)",
    responses=responses(ProposalNotFound, UnknownAccount, AlreadyReviewed),
)
async def review_proposal(
    proposal_id: uuid.UUID,
    body: schemas.Review,
    principal: BookkeepingReviewer,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        record = await service.review(
            session, principal.tenant_id, proposal_id, body, principal.actor
        )
        decision = "accepted" if record.account_code == _top(record) else "corrected"
        STATES.metrics.reviews.labels(decision, str(record.auto_booked).lower()).inc()
        return await service.proposal_out(session, record)

    return await write(request, principal, session, 200, work)


@router.post(
    "/ledgers/{ledger_id}/proposals/bulk-accept",
    response_model=schemas.BulkAcceptOut,
    summary="Accept many proposals at once (all or none)",
    responses=responses(LedgerNotFound, ProposalNotFound, UnknownAccount, AlreadyReviewed),
)
async def bulk_accept(
    ledger_id: uuid.UUID,
    body: schemas.BulkAccept,
    principal: BookkeepingReviewer,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        await get_ledger(session, principal.tenant_id, ledger_id)
        records = await service.bulk_accept(
            session, principal.tenant_id, ledger_id, body.ids, principal.actor
        )
        return schemas.BulkAcceptOut(
            accepted=[await service.proposal_out(session, r) for r in records]
        )

    return await write(request, principal, session, 200, work)


# rules
@router.post(
    "/ledgers/{ledger_id}/categorization-rules",
    status_code=201,
    response_model=schemas.RuleOut,
    responses=responses(LedgerNotFound, InvalidRule, UnknownAccount, InvalidAmount),
)
async def create_rule(
    ledger_id: uuid.UUID,
    body: schemas.RuleIn,
    principal: BookkeepingReviewer,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        await get_ledger(session, principal.tenant_id, ledger_id)
        record = await service.create_rule(
            session, principal.tenant_id, ledger_id, body, principal.actor
        )
        return service.rule_out(record)

    return await write(request, principal, session, 201, work)


@router.get(
    "/ledgers/{ledger_id}/categorization-rules",
    response_model=list[schemas.RuleOut],
    responses=responses(LedgerNotFound),
)
async def list_rules(
    ledger_id: uuid.UUID, principal: BookkeepingReader, session: Session
) -> list[schemas.RuleOut]:
    await get_ledger(session, principal.tenant_id, ledger_id)
    return [
        service.rule_out(r)
        for r in await service.list_rules(session, principal.tenant_id, ledger_id)
    ]


@router.delete(
    "/ledgers/{ledger_id}/categorization-rules/{rule_id}",
    response_model=schemas.RuleOut,
    summary="Deactivate a rule (kept for the record)",
    responses=responses(RuleNotFound),
)
async def deactivate_rule(
    ledger_id: uuid.UUID,
    rule_id: uuid.UUID,
    principal: BookkeepingReviewer,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        record = await service.deactivate_rule(session, principal.tenant_id, ledger_id, rule_id)
        return service.rule_out(record)

    return await write(request, principal, session, 200, work)


# the policy
@router.get(
    "/ledgers/{ledger_id}/categorization-settings",
    response_model=schemas.SettingsOut,
    responses=responses(LedgerNotFound),
)
async def get_settings(
    ledger_id: uuid.UUID, principal: BookkeepingReader, session: Session
) -> schemas.SettingsOut:
    await get_ledger(session, principal.tenant_id, ledger_id)
    current = await service.get_settings(session, principal.tenant_id, ledger_id)
    return schemas.SettingsOut(ledger_id=ledger_id, **current.model_dump())


@router.put(
    "/ledgers/{ledger_id}/categorization-settings",
    response_model=schemas.SettingsOut,
    responses=responses(LedgerNotFound),
)
async def put_settings(
    ledger_id: uuid.UUID,
    body: schemas.SettingsIn,
    principal: BookkeepingManager,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        await get_ledger(session, principal.tenant_id, ledger_id)
        current = await service.put_settings(session, principal.tenant_id, ledger_id, body)
        return schemas.SettingsOut(ledger_id=ledger_id, **current.model_dump())

    return await write(request, principal, session, 200, work)


# model versions
@router.get(
    "/ledgers/{ledger_id}/models",
    response_model=list[schemas.ModelOut],
    responses=responses(LedgerNotFound),
)
async def list_models(
    ledger_id: uuid.UUID, principal: BookkeepingReader, session: Session
) -> list[schemas.ModelOut]:
    await get_ledger(session, principal.tenant_id, ledger_id)
    return [
        schemas.ModelOut.model_validate(m)
        for m in await service.list_models(session, principal.tenant_id, ledger_id)
    ]


@router.post(
    "/ledgers/{ledger_id}/models/retrain",
    response_model=schemas.RetrainOut,
    summary="Train a challenger now; promoted only if it beats the champion",
    responses=responses(LedgerNotFound),
)
async def retrain(
    ledger_id: uuid.UUID, principal: BookkeepingManager, session: Session, request: Request
) -> Response:
    async def work() -> BaseModel:
        await get_ledger(session, principal.tenant_id, ledger_id)
        trained = await service.retrain_ledger(session, principal.tenant_id, ledger_id, force=True)
        return schemas.RetrainOut(
            trained=None if trained is None else schemas.ModelOut.model_validate(trained)
        )

    return _warmed(
        request, principal, ledger_id, await write(request, principal, session, 200, work)
    )


def _warmed(
    request: Request, principal: Principal, ledger_id: uuid.UUID, response: Response
) -> Response:
    """``response``, after which a process that proposes too (the embedded worker) brings its
    cached state of the ledger up to date: the new model and thresholds are loaded once the
    response is sent, not by the ledger's next line."""
    if request.app.state.runtime.worker is not None:
        response.background = BackgroundTask(
            warm, request.app.state.system_sessionmaker, principal.tenant_id, ledger_id
        )
    return response


@router.post(
    "/ledgers/{ledger_id}/models/{model_id}/promote",
    response_model=schemas.ModelOut,
    summary="Make a version the champion (to roll back, promote an older one)",
    responses=responses(ModelNotFound),
)
async def promote(
    ledger_id: uuid.UUID,
    model_id: uuid.UUID,
    principal: BookkeepingManager,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        record = await service.promote(
            session, principal.tenant_id, ledger_id, model_id, principal.actor
        )
        return schemas.ModelOut.model_validate(record)

    return _warmed(
        request, principal, ledger_id, await write(request, principal, session, 200, work)
    )


@router.get(
    "/bookkeeping/stats",
    response_model=schemas.StatsOut,
    summary="Automation rate, precision of auto-booking, queue, per model version",
    responses=responses(LedgerNotFound),
)
async def stats(
    principal: BookkeepingReader,
    session: Session,
    ledger_id: Annotated[
        uuid.UUID | None, Query(description="One ledger; all the tenant's when omitted")
    ] = None,
) -> schemas.StatsOut:
    if ledger_id is not None:
        await get_ledger(session, principal.tenant_id, ledger_id)
    return await service.stats(session, principal.tenant_id, ledger_id)


def _top(record: ProposalRecord) -> str | None:
    return str(record.top[0][0]) if record.top else None


def _cursor(value: str | None) -> tuple[int, uuid.UUID] | None:
    if value is None:
        return None
    try:
        impact, _, ident = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
        return int(impact), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor("cursor is not one this API returned") from None
