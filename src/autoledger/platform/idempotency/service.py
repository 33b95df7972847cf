"""Idempotency keys, per tenant.

``claim`` runs in its own short transaction so that a concurrent request with the same key
sees the claim at once (and gets 409) instead of racing. The response is stored by
``complete`` *inside the business transaction*, so "entry written" and "response stored"
commit together: a replay can never see one without the other. A claim whose process died
is taken over after its lease; a 5xx releases the claim so the client may retry.

A claim is **fenced**: its lease end, as written, is its token. ``complete`` and ``release``
act only while the row still carries the token, and ``complete`` moves the lease end on, so
of a slow owner and the request that took its key over only one can commit an effect. A
request whose claim was taken over gets :class:`ClaimLost` from ``complete`` and rolls its
business transaction back (found by the soak harness: a write delayed past its lease by a
database restart committed, and so did its retry).
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.platform.idempotency.errors import ClaimLost, KeyInFlight, KeyReused
from autoledger.platform.idempotency.tables import IdempotencyRecord


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """This request owns the key; ``token`` (its lease end as written) fences its writes."""

    token: datetime


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    key: str,
    fingerprint: str,
    *,
    retention: timedelta,
    lease: timedelta,
) -> StoredResponse | Claim:
    """A :class:`Claim` when this request now owns the key; the stored response for a
    replay."""
    now = utcnow()
    async with sessionmaker() as session:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
        result = await session.execute(
            insert_(IdempotencyRecord)
            .values(
                tenant_id=tenant_id,
                key=key,
                request_hash=fingerprint,
                state="in_flight",
                locked_until=now + lease,
                created_at=now,
                expires_at=now + retention,
            )
            .on_conflict_do_nothing()
        )
        if getattr(result, "rowcount", 0) == 1:
            await session.commit()
            return Claim(now + lease)
        row = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
            )
        )
        if row is None:  # deleted between our insert and select: a released claim; try once more
            await session.rollback()
            return await claim(
                sessionmaker, tenant_id, key, fingerprint, retention=retention, lease=lease
            )
        expired = row.expires_at <= now
        if not expired and row.request_hash != fingerprint:
            raise KeyReused(
                "this Idempotency-Key was used with a different request (method, path or body)"
            )
        if not expired and row.state == "done" and row.response_status is not None:
            return StoredResponse(row.response_status, row.response_body or b"")
        if not expired and row.locked_until > now:
            raise KeyInFlight(
                "a request with this Idempotency-Key is still being processed; retry shortly",
                headers={"Retry-After": "1"},
            )
        # Expired, or the owner died past its lease: take the key over (compare-and-set).
        taken = await session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.tenant_id == tenant_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.locked_until == row.locked_until,
            )
            .values(
                request_hash=fingerprint,
                state="in_flight",
                locked_until=now + lease,
                response_status=None,
                response_body=None,
                created_at=now,
                expires_at=now + retention,
            )
        )
        if getattr(taken, "rowcount", 0) != 1:
            raise KeyInFlight(
                "another request took this Idempotency-Key over; retry shortly",
                headers={"Retry-After": "1"},
            )
        await session.commit()
        return Claim(now + lease)


async def complete(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key: str,
    claim: Claim,
    status: int,
    body: bytes,
) -> Claim:
    """Store the response in the caller's (business) transaction, if the claim is still
    this request's; else :class:`ClaimLost`, and the caller's transaction must roll back.
    The lease end moves on, so a takeover waiting on this row finds it changed; the claim
    returned fences :func:`revise`."""
    done = Claim(utcnow())
    result = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.tenant_id == tenant_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.state == "in_flight",
            IdempotencyRecord.locked_until == claim.token,
        )
        .values(state="done", response_status=status, response_body=body, locked_until=done.token)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise ClaimLost(
            "another request took this Idempotency-Key over while this one ran; nothing was"
            " changed by this one: retry to get that request's answer",
            headers={"Retry-After": "1"},
        )
    return done


async def revise(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key: str,
    done: Claim,
    status: int,
    body: bytes,
) -> None:
    """Replace the response a request stored with :func:`complete` (``done`` is what that
    returned): for a request whose provisional answer had to be durable with its first
    commit and whose final answer comes later (an import run within the request)."""
    result = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.tenant_id == tenant_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.state == "done",
            IdempotencyRecord.locked_until == done.token,
        )
        .values(response_status=status, response_body=body)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise ClaimLost(
            "this Idempotency-Key's stored answer changed while the request ran",
            headers={"Retry-After": "1"},
        )


async def release(
    sessionmaker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, key: str, claim: Claim
) -> None:
    """Forget this request's in-flight claim (its request failed without a definite
    answer); a claim another request took over is left alone."""
    async with sessionmaker() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.tenant_id == tenant_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.state == "in_flight",
                IdempotencyRecord.locked_until == claim.token,
            )
        )
        await session.commit()


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
