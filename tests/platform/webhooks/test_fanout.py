"""Fan-out: one delivery per enabled, matching endpoint of the event's tenant."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform.webhooks import service
from autoledger.platform.webhooks.consumers import CONSUMERS
from autoledger.platform.webhooks.errors import UnknownEventType
from autoledger.platform.webhooks.schemas import DeliveryStatus
from tests.conftest import TenantKeys, make_tenant
from tests.platform.webhooks.conftest import create_endpoint, make_event, publish


@pytest.mark.parametrize(
    ("filters", "event_type", "expected"),
    [
        (["*"], "ledger.entry.posted.v1", True),
        (["ledger.entry.posted.v1"], "ledger.entry.posted.v1", True),
        (["ledger.entry.posted.v1"], "ledger.entry.voided.v1", False),
        (["ledger.entry.*"], "ledger.entry.voided.v1", True),
        (["ledger.*"], "ledger.period.closed.v1", True),
        (["ledger.entry.*"], "ledger.entryx.posted.v1", False),  # a prefix of segments only
        (["ledger.account.*", "ledger.entry.posted.v1"], "ledger.entry.posted.v1", True),
        (["ledger.account.*"], "ledger.entry.posted.v1", False),
    ],
)
def test_matches(filters: list[str], event_type: str, expected: bool) -> None:
    assert service.matches(filters, event_type) is expected


def test_filters_are_checked_against_the_catalog() -> None:
    assert service.validate_filters(["ledger.entry.posted.v1", "ledger.*", "*", "*"]) == [
        "ledger.entry.posted.v1",
        "ledger.*",
        "*",
    ]
    with pytest.raises(UnknownEventType) as caught:
        service.validate_filters(["ledger.entry.posted.v1", "ledger.entry.shredded.v1", "ledger*"])
    assert [e.loc for e in caught.value.errors] == ["body.event_types.1", "body.event_types.2"]


def test_the_consumer_is_registered() -> None:
    assert [c.name for c in CONSUMERS] == ["webhooks.fanout"]
    assert CONSUMERS[0].types is None


async def _deliveries(
    sessionmaker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    async with sessionmaker() as session:
        rows = await service.list_deliveries(
            session, tenant_id, endpoint_id, status=None, before=None, limit=100
        )
        return [(d.event_id, d.status) for d in rows]


async def test_fan_out_queues_one_delivery_per_matching_enabled_endpoint(
    wh_sessionmaker: async_sessionmaker[AsyncSession], wh_tenant: TenantKeys
) -> None:
    url = "http://127.0.0.1:9/hook"
    exact, _ = await create_endpoint(wh_sessionmaker, wh_tenant.id, url, ["ledger.entry.posted.v1"])
    prefix, _ = await create_endpoint(wh_sessionmaker, wh_tenant.id, url, ["ledger.entry.*"])
    everything, _ = await create_endpoint(wh_sessionmaker, wh_tenant.id, url, ["*"])
    other_type, _ = await create_endpoint(wh_sessionmaker, wh_tenant.id, url, ["ledger.period.*"])
    disabled, _ = await create_endpoint(wh_sessionmaker, wh_tenant.id, url, ["*"], enabled=False)
    other_tenant = await make_tenant(wh_sessionmaker)
    foreign, _ = await create_endpoint(wh_sessionmaker, other_tenant.id, url, ["*"])

    event = make_event(wh_tenant.id, "ledger.entry.posted.v1")
    await publish(wh_sessionmaker, event)
    await publish(wh_sessionmaker, event)  # a redelivered event queues nothing more

    pending = [(event.id, DeliveryStatus.PENDING.value)]
    assert await _deliveries(wh_sessionmaker, wh_tenant.id, exact.id) == pending
    assert await _deliveries(wh_sessionmaker, wh_tenant.id, prefix.id) == pending
    assert await _deliveries(wh_sessionmaker, wh_tenant.id, everything.id) == pending
    assert await _deliveries(wh_sessionmaker, wh_tenant.id, other_type.id) == []
    assert await _deliveries(wh_sessionmaker, wh_tenant.id, disabled.id) == []
    assert await _deliveries(wh_sessionmaker, other_tenant.id, foreign.id) == []

    voided = make_event(wh_tenant.id, "ledger.entry.voided.v1")
    await publish(wh_sessionmaker, voided)
    assert [e for e, _ in await _deliveries(wh_sessionmaker, wh_tenant.id, prefix.id)] == [
        voided.id,
        event.id,
    ]
    assert len(await _deliveries(wh_sessionmaker, wh_tenant.id, exact.id)) == 1
    async with wh_sessionmaker() as session:
        await service.delete_endpoint(session, other_tenant.id, foreign.id)
        await session.commit()


async def test_a_delivery_carries_the_event_envelope(
    wh_sessionmaker: async_sessionmaker[AsyncSession], wh_tenant: TenantKeys
) -> None:
    endpoint, _ = await create_endpoint(wh_sessionmaker, wh_tenant.id, "http://127.0.0.1:9/")
    event = make_event(wh_tenant.id, amount=42)
    await publish(wh_sessionmaker, event)
    async with wh_sessionmaker() as session:
        [row] = await service.list_deliveries(
            session, wh_tenant.id, endpoint.id, status=None, before=None, limit=10
        )
        assert row.body == event.to_json()
        assert row.event_type == event.type
        assert row.next_attempt_at is not None
