from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform.idempotency import service
from autoledger.platform.idempotency.tables import IdempotencyRecord
from tests.conftest import make_tenant


async def test_expired_keys_are_purged_and_live_ones_kept(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tenant = await make_tenant(sessionmaker)
    lease = timedelta(seconds=60)
    await service.claim(sessionmaker, tenant.id, "old", "h1", retention=timedelta(0), lease=lease)
    await service.claim(
        sessionmaker, tenant.id, "live", "h2", retention=timedelta(hours=24), lease=lease
    )
    async with sessionmaker() as session:
        assert await service.purge_expired(session) >= 1
        await session.commit()
    async with sessionmaker() as session:
        keys = (
            await session.scalars(
                select(IdempotencyRecord.key).where(IdempotencyRecord.tenant_id == tenant.id)
            )
        ).all()
    assert keys == ["live"]
