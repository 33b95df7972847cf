"""Audit routes (scope ``audit:read``): the tenant's records, a streaming export and a
replay of its hash chain. A tenant only ever sees its own chain."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.api.deps import AppSettings, AuditReader, Session
from autoledger.kit.errors import FieldError, InvalidRequest
from autoledger.platform.audit import service
from autoledger.platform.audit.schemas import AuditPage, AuditRecordOut, AuditVerifyOut

router = APIRouter(prefix="/v1", tags=["audit"])

NDJSON = "application/x-ndjson"


def _filter(
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=120)] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[AwareDatetime | None, Query(description="Inclusive")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Exclusive")] = None,
) -> service.AuditFilter:
    return service.AuditFilter(actor, action, target_type, target_id, since, until)


Where = Annotated[service.AuditFilter, Depends(_filter)]
AfterSeq = Annotated[
    int, Query(ge=0, le=2**62, description="`next_cursor` of the last page: records after it")
]


@router.get("/audit", response_model=AuditPage, summary="Audit records, oldest first")
async def list_audit_records(
    principal: AuditReader,
    session: Session,
    settings: AppSettings,
    where: Where,
    after_seq: AfterSeq = 0,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> AuditPage:
    if limit > settings.max_page_size:
        raise InvalidRequest(
            f"limit is at most {settings.max_page_size}",
            errors=[FieldError("limit", f"at most {settings.max_page_size}")],
        )
    rows = await service.list_records(
        session, principal.tenant_id, where, after_seq=after_seq, limit=limit + 1
    )
    data = [AuditRecordOut.model_validate(row) for row in rows[:limit]]
    return AuditPage(data=data, next_cursor=str(data[-1].seq) if len(rows) > limit else None)


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "One audit record per line"}},
    summary="Every matching audit record as JSON lines, oldest first",
)
async def export_audit_records(
    principal: AuditReader,
    request: Request,
    where: Where,
    after_seq: AfterSeq = 0,
) -> StreamingResponse:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker

    async def lines() -> AsyncIterator[bytes]:
        # A session of its own: the stream outlives the route (and its dependencies).
        async with maker() as session:
            async for row in service.stream_records(
                session, principal.tenant_id, where, after_seq=after_seq
            ):
                yield service.json_line(row)

    return StreamingResponse(lines(), media_type=NDJSON)


@router.get(
    "/audit/verify",
    response_model=AuditVerifyOut,
    summary="Replay the tenant's audit chain and name the first record that does not match",
)
async def verify_audit_chain(principal: AuditReader, session: Session) -> AuditVerifyOut:
    report = await service.verify(session, principal.tenant_id)
    return AuditVerifyOut.model_validate(report, from_attributes=True)
