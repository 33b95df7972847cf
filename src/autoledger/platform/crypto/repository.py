"""Every query on data keys. Scoped by tenant, except the KEK rotation's sweep, which works
across tenants by design."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.platform.crypto.tables import DataKey

ACTIVE, RETIRED, DESTROYED = "active", "retired", "destroyed"


class DataKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active(self, tenant_id: uuid.UUID, purpose: str) -> DataKey | None:
        return await self.session.scalar(
            select(DataKey)
            .where(
                DataKey.tenant_id == tenant_id,
                DataKey.purpose == purpose,
                DataKey.state == ACTIVE,
            )
            .order_by(DataKey.version.desc())
            .limit(1)
        )

    async def latest(
        self, tenant_id: uuid.UUID, purpose: str, *, for_update: bool = False
    ) -> DataKey | None:
        """The highest version in any state."""
        query = (
            select(DataKey)
            .where(DataKey.tenant_id == tenant_id, DataKey.purpose == purpose)
            .order_by(DataKey.version.desc())
            .limit(1)
        )
        return await self.session.scalar(query.with_for_update() if for_update else query)

    async def version(self, tenant_id: uuid.UUID, purpose: str, version: int) -> DataKey | None:
        return await self.session.scalar(
            select(DataKey).where(
                DataKey.tenant_id == tenant_id,
                DataKey.purpose == purpose,
                DataKey.version == version,
            )
        )

    async def add_first(self, values: dict[str, Any]) -> None:
        """Insert version 1 unless a concurrent transaction did: then theirs stands (on
        PostgreSQL this waits for that transaction, then skips)."""
        index = ["tenant_id", "purpose", "version"]
        bind = self.session.bind
        stmt = (
            pg_insert(DataKey).on_conflict_do_nothing(index_elements=index)
            if bind is not None and bind.dialect.name == "postgresql"
            else sqlite_insert(DataKey).on_conflict_do_nothing(index_elements=index)
        )
        await self.session.execute(stmt, [values])

    async def add(self, key: DataKey) -> None:
        self.session.add(key)
        await self.session.flush()

    async def retire_active(self, tenant_id: uuid.UUID, purpose: str) -> None:
        await self.session.execute(
            update(DataKey)
            .where(
                DataKey.tenant_id == tenant_id,
                DataKey.purpose == purpose,
                DataKey.state == ACTIVE,
            )
            .values(state=RETIRED)
            .execution_options(synchronize_session="fetch")
        )

    async def wrapped_page(self, after: uuid.UUID | None, limit: int) -> Sequence[DataKey]:
        """Keys not yet destroyed, in id order, locked for the KEK rotation."""
        query = select(DataKey).where(DataKey.wrapped_key.is_not(None))
        if after is not None:
            query = query.where(DataKey.id > after)
        return (
            await self.session.scalars(query.order_by(DataKey.id).limit(limit).with_for_update())
        ).all()

    async def destroy(self, tenant_id: uuid.UUID, now: datetime) -> Sequence[uuid.UUID]:
        """Drop the wrapped keys of every purpose and version; the ids of those destroyed."""
        ids = (
            await self.session.scalars(
                select(DataKey.id)
                .where(DataKey.tenant_id == tenant_id, DataKey.state != DESTROYED)
                .with_for_update()
            )
        ).all()
        if ids:
            await self.session.execute(
                update(DataKey)
                .where(DataKey.id.in_(ids))
                .values(wrapped_key=None, state=DESTROYED, destroyed_at=now)
                .execution_options(synchronize_session="fetch")
            )
        return ids
