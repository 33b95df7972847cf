"""Every query on webhook endpoints, deliveries and attempts. API-facing queries are scoped
by tenant; the dispatcher's claim and record work across tenants by design."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.platform.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint

_D: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_E: Table = WebhookEndpoint.__table__  # type: ignore[assignment]


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased to one dispatcher, with what it needs to send it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    event_id: uuid.UUID
    body: bytes
    attempts: int
    first_attempt_at: datetime | None
    endpoint: WebhookEndpoint


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # endpoints
    async def add(self, row: WebhookEndpoint) -> None:
        self.session.add(row)
        await self.session.flush()

    async def endpoint(
        self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *, for_update: bool = False
    ) -> WebhookEndpoint | None:
        query = select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id
        )
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def endpoints(
        self, tenant_id: uuid.UUID, *, enabled_only: bool = False
    ) -> Sequence[WebhookEndpoint]:
        query = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id)
            .order_by(WebhookEndpoint.id)
        )
        if enabled_only:
            query = query.where(WebhookEndpoint.enabled.is_(True))
        return (await self.session.scalars(query)).all()

    async def delete_endpoint(self, endpoint: WebhookEndpoint) -> None:
        """The endpoint with its deliveries and attempts (foreign keys cascade)."""
        await self.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))

    async def lock_endpoint(self, endpoint_id: uuid.UUID) -> None:
        """Take the endpoint's row lock before any of its deliveries' (PostgreSQL): the lock
        order of ``DELETE /v1/webhooks/{id}`` too (the endpoint, then its deliveries by the
        cascade), so a recorder and a delete never wait on each other in a cycle. Not
        exclusive of the key-share locks that queuing new deliveries takes."""
        await self.session.execute(
            select(_E.c.id).where(_E.c.id == endpoint_id).with_for_update(key_share=True)
        )

    async def clear_failing(self, endpoint_id: uuid.UUID) -> None:
        await self.session.execute(
            update(_E).where(_E.c.id == endpoint_id).values(failing_since=None)
        )

    async def mark_failing(self, endpoint_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(
            update(_E)
            .where(_E.c.id == endpoint_id, _E.c.failing_since.is_(None))
            .values(failing_since=at)
        )

    async def disable_if_failing_since(
        self, endpoint_id: uuid.UUID, cutoff: datetime, reason: str, now: datetime
    ) -> bool:
        """Disable the endpoint when it is enabled and failing since ``cutoff`` or earlier.

        One conditional UPDATE, so concurrent recorders of the same endpoint agree."""
        result = await self.session.execute(
            update(_E)
            .where(
                _E.c.id == endpoint_id,
                _E.c.enabled.is_(True),
                _E.c.failing_since <= cutoff,
            )
            .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # deliveries
    async def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert deliveries; a row whose (endpoint, event) exists is skipped."""
        if not rows:
            return
        stmt = (
            pg_insert(_D).on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
            if _dialect(self.session) == "postgresql"
            else sqlite_insert(_D).on_conflict_do_nothing(
                index_elements=["endpoint_id", "event_id"]
            )
        )
        await self.session.execute(stmt, list(rows))

    async def delivery(
        self, tenant_id: uuid.UUID, delivery_id: uuid.UUID, *, for_update: bool = False
    ) -> WebhookDelivery | None:
        query = select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.id == delivery_id
        )
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def deliveries(
        self,
        tenant_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        *,
        status: str | None,
        before: uuid.UUID | None,
        limit: int,
    ) -> Sequence[WebhookDelivery]:
        """Newest first (ids are UUIDv7), ``before`` an id for the next page."""
        query = (
            select(WebhookDelivery)
            .where(
                WebhookDelivery.tenant_id == tenant_id,
                WebhookDelivery.endpoint_id == endpoint_id,
            )
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if before is not None:
            query = query.where(WebhookDelivery.id < before)
        return (await self.session.scalars(query)).all()

    async def attempts(self, delivery_id: uuid.UUID) -> Sequence[WebhookAttempt]:
        return (
            await self.session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
            )
        ).all()

    # the dispatcher's side
    async def claim(self, owner: str, limit: int, lease: timedelta, now: datetime) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries of enabled endpoints to ``owner``, most
        overdue first. On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets dispatchers claim side by
        side without waiting on each other; a lease that runs out (a dispatcher died) makes
        the row claimable again. The caller commits."""
        candidates = (
            select(_D.c.id)
            .join(_E, _E.c.id == _D.c.endpoint_id)
            .where(
                _D.c.status == "pending",
                _D.c.next_attempt_at <= now,
                _D.c.lease_until.is_(None) | (_D.c.lease_until <= now),
                _E.c.enabled.is_(True),
            )
            .order_by(_D.c.next_attempt_at)
            .limit(limit)
        )
        if _dialect(self.session) == "postgresql":
            candidates = candidates.with_for_update(of=_D, skip_locked=True)
        result = await self.session.execute(
            update(_D)
            .where(_D.c.id.in_(candidates.scalar_subquery()))
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(
                _D.c.id,
                _D.c.tenant_id,
                _D.c.event_id,
                _D.c.body,
                _D.c.attempts,
                _D.c.first_attempt_at,
                _D.c.endpoint_id,
            )
        )
        leased = result.all()
        if not leased:
            return []
        endpoint_ids = {row.endpoint_id for row in leased}
        endpoints = {
            e.id: e
            for e in await self.session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids))
            )
        }
        return [
            Claimed(
                id=row.id,
                tenant_id=row.tenant_id,
                event_id=row.event_id,
                body=row.body,
                attempts=row.attempts,
                first_attempt_at=row.first_attempt_at,
                endpoint=endpoints[row.endpoint_id],
            )
            for row in leased
        ]

    async def record(
        self,
        owner: str,
        claimed: Claimed,
        *,
        status: str,
        next_attempt_at: datetime | None,
        attempted_at: datetime,
        status_code: int | None,
        error: str | None,
    ) -> bool:
        """Write the outcome of an attempt and drop the lease; False when the lease is no
        longer ours (the delivery was deleted with its endpoint, or another dispatcher took
        it over after the lease ran out)."""
        result = await self.session.execute(
            update(_D)
            .where(_D.c.id == claimed.id, _D.c.lease_owner == owner)
            .values(
                status=status,
                attempts=_D.c.attempts + 1,
                next_attempt_at=next_attempt_at,
                first_attempt_at=claimed.first_attempt_at or attempted_at,
                last_attempt_at=attempted_at,
                last_status_code=status_code,
                last_error=error,
                succeeded_at=attempted_at if status == "succeeded" else None,
                lease_owner=None,
                lease_until=None,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_attempt(self, row: WebhookAttempt) -> None:
        self.session.add(row)
        await self.session.flush()

    async def release_all(self, owner: str) -> int:
        result = await self.session.execute(
            update(_D).where(_D.c.lease_owner == owner).values(lease_owner=None, lease_until=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
