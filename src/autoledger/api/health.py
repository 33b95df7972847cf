"""Liveness, readiness and metrics: operational routes, deliberately unauthenticated."""

from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from autoledger.db.migrate import current_revision

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    database: Literal["ok", "unreachable"]
    migrations: Literal["at_head", "behind", "unknown"]
    revision: str | None
    head: str


@router.get("/healthz", response_model=Health, summary="Liveness: the process serves requests")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: the database answers and its schema is at the migration head",
    responses={503: {"model": Readiness}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    head: str = request.app.state.migration_head
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await current_revision(request.app.state.engine)
    except Exception:  # any failure to reach the database means "not ready", never a 500
        response.status_code = 503
        return Readiness(
            status="not_ready",
            database="unreachable",
            migrations="unknown",
            revision=None,
            head=head,
        )
    at_head = revision == head
    if not at_head:
        response.status_code = 503
    return Readiness(
        status="ready" if at_head else "not_ready",
        database="ok",
        migrations="at_head" if at_head else "behind",
        revision=revision,
        head=head,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
