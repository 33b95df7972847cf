"""``Idempotency-Key`` for write routes: claim, run, store the response in the same
transaction as the write, replay it on retry (``Idempotency-Replayed: true``)."""

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.api.problems import PROBLEM_MEDIA_TYPE, from_error
from autoledger.kit.errors import AutoledgerError
from autoledger.kit.settings import Settings
from autoledger.platform.auth.service import Principal
from autoledger.platform.idempotency import service
from autoledger.platform.idempotency.errors import ClaimLost, InvalidKey

_KEY = re.compile(r"[\x21-\x7e]{1,255}")
HEADER = "Idempotency-Key"


@dataclass(slots=True)
class Slot:
    """A claimed key; ``store`` writes the response in the business transaction (and
    raises :class:`ClaimLost` there if another request took the key over meanwhile)."""

    tenant_id: uuid.UUID
    key: str
    claim: service.Claim
    stored: bool = field(default=False)
    _done: service.Claim | None = field(default=None, init=False)

    async def store(self, session: AsyncSession, status: int, body: bytes) -> None:
        """Store the answer; a second call (after the first one's commit) replaces it: a
        provisional answer made durable early, then the final one."""
        if self._done is None:
            self._done = await service.complete(
                session, self.tenant_id, self.key, self.claim, status, body
            )
        else:
            await service.revise(session, self.tenant_id, self.key, self._done, status, body)
        self.stored = True


def json_response(status: int, body: bytes, *, replayed: bool = False) -> Response:
    headers = {"Idempotency-Replayed": "true"} if replayed else None
    media = PROBLEM_MEDIA_TYPE if status >= 400 else "application/json"
    return Response(body, status_code=status, media_type=media, headers=headers)


async def idempotent(
    request: Request,
    principal: Principal,
    run: Callable[[Slot | None], Awaitable[Response]],
    *,
    content: bytes | None = None,
) -> Response:
    """Run a write at most once per key. ``run`` must call ``slot.store`` before it commits.

    The request is recognized by method, path and body; a route whose body was streamed
    away (a file upload) passes ``content``, what identifies its request instead."""
    key = request.headers.get(HEADER)
    if key is None:
        return await run(None)
    if not _KEY.fullmatch(key):
        raise InvalidKey("Idempotency-Key must be 1-255 visible ASCII characters")
    settings: Settings = request.app.state.settings
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    body = content if content is not None else await request.body()
    fingerprint = service.request_hash(request.method, request.url.path, body)
    stored = await service.claim(
        sessionmaker,
        principal.tenant_id,
        key,
        fingerprint,
        retention=timedelta(hours=settings.idempotency_retention_hours),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    if isinstance(stored, service.StoredResponse):
        return json_response(stored.status, stored.body, replayed=True)
    slot = Slot(principal.tenant_id, key, stored)
    request_id = request.scope.get("state", {}).get("request_id")
    try:
        response = await run(slot)
    except ClaimLost as exc:
        return from_error(exc, request_id)  # the key's new owner answers it
    except AutoledgerError as exc:
        if exc.status >= 500:
            await service.release(sessionmaker, principal.tenant_id, key, stored)
            raise
        # A definite refusal is an answer too: the same request must get it again.
        problem = from_error(exc, request_id)
        async with sessionmaker() as session:
            try:
                await service.complete(
                    session, principal.tenant_id, key, stored, exc.status, bytes(problem.body)
                )
            except ClaimLost as lost:
                return from_error(lost, request_id)
            await session.commit()
        return problem
    except BaseException:
        await service.release(sessionmaker, principal.tenant_id, key, stored)
        raise
    if not slot.stored:
        await service.release(sessionmaker, principal.tenant_id, key, stored)
    return response
