"""Dead letters: list what consumers gave up on, and replay it once the fault is fixed."""

import uuid
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response

from autoledger.api.deps import EventReader, EventReplayer, Session
from autoledger.api.problems import responses
from autoledger.api.writes import write
from autoledger.platform.events import consumers
from autoledger.platform.events.schemas import DeadLetterOut, DeadLetterPage
from autoledger.platform.events.tables import DeadLetter

router = APIRouter(prefix="/v1", tags=["events"])


def dead_letter_out(letter: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(
        id=letter.id,
        consumer=letter.consumer,
        event_id=letter.event_id,
        event_type=letter.event_type,
        error=letter.error,
        attempts=letter.attempts,
        status=letter.status,  # type: ignore[arg-type]
        created_at=letter.created_at,
        replayed_at=letter.replayed_at,
        event=orjson.loads(letter.body),
    )


@router.get("/dead-letters", response_model=DeadLetterPage)
async def list_dead_letters(
    principal: EventReader,
    session: Session,
    status: Literal["dead", "replayed", "all"] = "dead",
    consumer: str | None = None,
    cursor: uuid.UUID | None = Query(default=None, description="next_cursor of the last page"),
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeadLetterPage:
    """Events a consumer gave up on after its last attempt, oldest first."""
    rows = await consumers.list_dead_letters(
        session,
        principal.tenant_id,
        status=None if status == "all" else status,
        consumer=consumer,
        after=cursor,
        limit=limit + 1,
    )
    page = [dead_letter_out(r) for r in rows[:limit]]
    return DeadLetterPage(
        data=page, next_cursor=str(page[-1].id) if len(rows) > limit and page else None
    )


@router.get(
    "/dead-letters/{dead_letter_id}",
    response_model=DeadLetterOut,
    responses=responses(consumers.DeadLetterNotFound),
)
async def get_dead_letter(
    dead_letter_id: uuid.UUID, principal: EventReader, session: Session
) -> DeadLetterOut:
    return dead_letter_out(
        await consumers.get_dead_letter(session, principal.tenant_id, dead_letter_id)
    )


@router.post(
    "/dead-letters/{dead_letter_id}:replay",
    response_model=DeadLetterOut,
    responses=responses(consumers.DeadLetterNotFound, consumers.DeadLetterReplayed),
)
async def replay_dead_letter(
    dead_letter_id: uuid.UUID, principal: EventReplayer, session: Session, request: Request
) -> Response:
    """Put the event back on the bus; the consumer that gave up applies it now, and
    consumers that applied it already skip it (their inbox)."""

    async def work() -> DeadLetterOut:
        letter = await consumers.replay(session, principal.tenant_id, dead_letter_id)
        return dead_letter_out(letter)

    return await write(request, principal, session, 200, work)
