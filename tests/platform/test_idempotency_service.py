from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform.idempotency import service
from autoledger.platform.idempotency.errors import ClaimLost, KeyInFlight
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


async def test_a_request_whose_key_was_taken_over_cannot_commit_its_effect(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A slow owner outlives its lease, a retry takes the key over: only the new owner's
    response (and so only its transaction) can be stored; the old owner's release leaves the
    new claim alone."""
    tenant = await make_tenant(sessionmaker)
    day = timedelta(hours=24)
    slow = await service.claim(sessionmaker, tenant.id, "k", "h", retention=day, lease=timedelta(0))
    retry = await service.claim(
        sessionmaker, tenant.id, "k", "h", retention=day, lease=timedelta(seconds=60)
    )
    assert isinstance(slow, service.Claim)
    assert isinstance(retry, service.Claim)
    assert retry.token != slow.token
    async with sessionmaker() as session:
        with pytest.raises(ClaimLost):
            await service.complete(session, tenant.id, "k", slow, 201, b"slow")
        await session.rollback()
    await service.release(sessionmaker, tenant.id, "k", slow)
    with pytest.raises(KeyInFlight):  # the retry still owns it
        await service.claim(sessionmaker, tenant.id, "k", "h", retention=day, lease=timedelta(0))
    async with sessionmaker() as session:
        await service.complete(session, tenant.id, "k", retry, 201, b"retry")
        await session.commit()
    replay = await service.claim(sessionmaker, tenant.id, "k", "h", retention=day, lease=day)
    assert replay == service.StoredResponse(201, b"retry")


async def test_a_stored_answer_is_revised_only_by_the_request_that_stored_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """An inline import stores its 202 with the import row, then its outcome: the revision
    is fenced by the completion, so a stale writer cannot overwrite an answer."""
    tenant = await make_tenant(sessionmaker)
    day = timedelta(hours=24)
    owner = await service.claim(sessionmaker, tenant.id, "k", "h", retention=day, lease=day)
    assert isinstance(owner, service.Claim)
    async with sessionmaker() as session:
        done = await service.complete(session, tenant.id, "k", owner, 202, b"accepted")
        await session.commit()
    accepted = await service.claim(sessionmaker, tenant.id, "k", "h", retention=day, lease=day)
    assert accepted == service.StoredResponse(202, b"accepted")
    async with sessionmaker() as session:
        with pytest.raises(ClaimLost):  # the claim's token is not the completion's
            await service.revise(session, tenant.id, "k", owner, 201, b"stale")
        await session.rollback()
    async with sessionmaker() as session:
        await service.revise(session, tenant.id, "k", done, 201, b"imported")
        await session.commit()
    final = await service.claim(sessionmaker, tenant.id, "k", "h", retention=day, lease=day)
    assert final == service.StoredResponse(201, b"imported")
