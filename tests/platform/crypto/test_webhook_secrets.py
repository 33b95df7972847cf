"""The first encrypted column: webhook signing secrets, ciphertext at rest."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.platform import crypto
from autoledger.platform.crypto import KeyDestroyed
from autoledger.platform.webhooks import service
from autoledger.platform.webhooks.tables import WebhookEndpoint
from tests.conftest import TenantKeys

Maker = async_sessionmaker[AsyncSession]
_E = WebhookEndpoint.__table__.c

pytestmark = pytest.mark.usefixtures("keyring")


async def _stored(maker: Maker, endpoint_id: object) -> tuple[str, str | None]:
    async with maker() as session:
        row = (
            await session.execute(select(_E.secret, _E.previous_secret).where(_E.id == endpoint_id))
        ).one()
    return row.secret, row.previous_secret


async def _signing(maker: Maker, tenant: TenantKeys, endpoint_id: object) -> list[str]:
    async with maker() as session:
        endpoint = await service.get_endpoint(session, tenant.id, endpoint_id)  # type: ignore[arg-type]
        return await service.signing_secrets(session, endpoint, utcnow())


async def test_secrets_are_stored_encrypted_and_sign_after_loading(
    sessionmaker: Maker, tenant: TenantKeys
) -> None:
    async with sessionmaker() as session:
        endpoint, first = await service.create_endpoint(
            session,
            tenant.id,
            url="http://127.0.0.1:9/hooks",
            description="",
            event_types=["*"],
            enabled=True,
            allow_private=True,
        )
        await session.commit()
    stored, previous = await _stored(sessionmaker, endpoint.id)
    assert first not in stored
    assert not stored.startswith("whsec_")
    assert previous is None
    async with sessionmaker() as session:
        assert (
            await crypto.decrypt_field(session, tenant.id, "webhook_endpoints", "secret", stored)
            == first
        )
    assert await _signing(sessionmaker, tenant, endpoint.id) == [first]

    async with sessionmaker() as session:
        _, second = await service.rotate_secret(session, tenant.id, endpoint.id)
        await session.commit()
    stored_now, previous = await _stored(sessionmaker, endpoint.id)
    assert previous is not None
    assert previous != stored  # re-encrypted for its own column
    assert second not in stored_now
    assert await _signing(sessionmaker, tenant, endpoint.id) == [second, first]
    async with sessionmaker() as session:
        loaded = await service.get_endpoint(session, tenant.id, endpoint.id)
        later = await service.signing_secrets(session, loaded, utcnow() + timedelta(days=2))
    assert later == [second]


async def test_after_shredding_endpoints_load_but_cannot_sign(
    sessionmaker: Maker, tenant: TenantKeys
) -> None:
    async with sessionmaker() as session:
        await service.create_endpoint(
            session,
            tenant.id,
            url="http://127.0.0.1:9/hooks",
            description="",
            event_types=["*"],
            enabled=True,
            allow_private=True,
        )
        await crypto.shred_tenant(session, tenant.id)
        await session.commit()
    async with sessionmaker() as session:
        [listed] = await service.list_endpoints(session, tenant.id)
        with pytest.raises(KeyDestroyed):
            await service.signing_secrets(session, listed, utcnow())
