"""The shape of a simple write route: idempotent, in the request's transaction, committed
before the response goes out."""

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.api.idempotency import Slot, idempotent, json_response
from autoledger.platform.auth.service import Principal


async def write(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    status: int,
    work: Callable[[], Awaitable[BaseModel]],
) -> Response:
    async def run(slot: Slot | None) -> Response:
        body = (await work()).model_dump_json().encode()
        if slot is not None:
            await slot.store(session, status, body)
        await session.commit()
        return json_response(status, body)

    return await idempotent(request, principal, run)
