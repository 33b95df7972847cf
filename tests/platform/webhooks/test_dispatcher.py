"""The dispatcher against a real HTTP receiver on 127.0.0.1, on SQLite and PostgreSQL."""

import asyncio
import base64
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.settings import Settings
from autoledger.platform.events.envelope import Event
from autoledger.platform.webhooks import service, signing
from autoledger.platform.webhooks.dispatcher import AttemptResult, WebhookDispatcher
from autoledger.platform.webhooks.tables import WebhookDelivery, WebhookEndpoint
from tests.conftest import BACKENDS, TenantKeys
from tests.platform.webhooks.conftest import (
    Clock,
    Receiver,
    Reply,
    create_endpoint,
    make_event,
    publish,
)

Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
def dispatcher_factory(
    wh_settings: Settings, wh_sessionmaker: Maker, clock: Clock
) -> Callable[..., Any]:
    """Dispatchers with no retry jitter, the test clock, and settings overrides."""

    @asynccontextmanager
    async def make(
        schedule: tuple[float, ...] = (0,), **overrides: Any
    ) -> AsyncIterator[WebhookDispatcher]:
        dispatcher = WebhookDispatcher(
            wh_settings.model_copy(update=overrides),
            wh_sessionmaker,
            schedule=schedule,
            jitter=0.0,
            clock=clock,
            poll_seconds=0.05,
        )
        try:
            yield dispatcher
        finally:
            await dispatcher.stop()

    return make


async def _delivery(maker: Maker, tenant: TenantKeys, endpoint_id: uuid.UUID) -> Any:
    async with maker() as session:
        [row] = await service.list_deliveries(
            session, tenant.id, endpoint_id, status=None, before=None, limit=10
        )
        return await service.get_delivery(session, tenant.id, row.id)


async def _endpoint(maker: Maker, tenant: TenantKeys, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    async with maker() as session:
        return await service.get_endpoint(session, tenant.id, endpoint_id)


def _expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


async def _setup(
    maker: Maker, tenant: TenantKeys, receiver: Receiver, **data: Any
) -> tuple[WebhookEndpoint, str, Event]:
    endpoint, secret = await create_endpoint(maker, tenant.id, receiver.url)
    event = make_event(tenant.id, **data)
    await publish(maker, event)
    return endpoint, secret, event


async def test_a_delivery_is_signed_and_sent(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.default = Reply(200, b'{"ok":true}')
    endpoint, secret, event = await _setup(wh_sessionmaker, wh_tenant, receiver)
    async with dispatcher_factory() as dispatcher:
        assert await dispatcher.run_once() == 1
        assert await dispatcher.run_once() == 0

    [request] = receiver.requests
    assert request.path == "/hooks"
    assert request.body == event.to_json()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == str(event.id)
    assert request.headers["webhook-timestamp"] == str(int(clock.now.timestamp()))
    assert request.headers["webhook-signature"] == _expected_signature(
        secret, str(event.id), request.headers["webhook-timestamp"], request.body
    )
    assert request.headers["host"] == receiver.url.split("/")[2]

    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    assert found.delivery.status == "succeeded"
    assert found.delivery.attempts == 1
    assert found.delivery.succeeded_at == clock.now
    [attempt] = found.attempts
    assert attempt.succeeded
    assert attempt.status_code == 200
    assert attempt.response_body == '{"ok":true}'
    assert attempt.duration_ms >= 0


async def test_failures_are_retried_on_the_schedule_until_success(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.replies.extend([Reply(500, b"boom"), Reply(503)])
    endpoint, _, event = await _setup(wh_sessionmaker, wh_tenant, receiver)
    async with dispatcher_factory(schedule=(5, 300)) as dispatcher:
        start = clock.now
        assert await dispatcher.run_once() == 1  # 500
        found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
        assert found.delivery.status == "pending"
        assert found.delivery.next_attempt_at == start + timedelta(seconds=5)

        clock.advance(seconds=4)
        assert await dispatcher.run_once() == 0  # not due yet
        clock.advance(seconds=1)
        assert await dispatcher.run_once() == 1  # 503
        found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
        assert found.delivery.next_attempt_at == clock.now + timedelta(seconds=300)

        clock.advance(seconds=300)
        assert await dispatcher.run_once() == 1  # 204

    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(event.id)] * 3
    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    assert found.delivery.status == "succeeded"
    assert found.delivery.attempts == 3
    assert found.delivery.first_attempt_at == start
    assert [(a.status_code, a.succeeded) for a in found.attempts] == [
        (500, False),
        (503, False),
        (204, True),
    ]
    assert found.attempts[0].response_body == "boom"
    assert found.attempts[0].error == "HTTP 500 from the endpoint"
    assert (await _endpoint(wh_sessionmaker, wh_tenant, endpoint.id)).failing_since is None


async def test_a_delivery_fails_when_the_retry_window_closes(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.default = Reply(500)
    endpoint, _, _ = await _setup(wh_sessionmaker, wh_tenant, receiver)
    overrides = {"webhook_retry_hours": 1.0, "webhook_disable_after_hours": 100.0}
    async with dispatcher_factory(schedule=(600,), **overrides) as dispatcher:
        for _ in range(7):  # at 0, 10, ..., 60 min; the next (70 min) is past the window
            assert await dispatcher.run_once() == 1
            clock.advance(minutes=10)
        clock.advance(hours=5)
        assert await dispatcher.run_once() == 0

    assert len(receiver.requests) == 7
    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    assert found.delivery.status == "failed"
    assert found.delivery.attempts == 7
    assert found.delivery.next_attempt_at is None
    assert len(found.attempts) == 7
    assert (await _endpoint(wh_sessionmaker, wh_tenant, endpoint.id)).enabled


async def test_an_endpoint_failing_for_the_whole_window_is_disabled_then_reenabled(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.default = Reply(500)
    endpoint, _, _ = await _setup(wh_sessionmaker, wh_tenant, receiver)
    overrides = {"webhook_retry_hours": 24.0, "webhook_disable_after_hours": 1.0}
    async with dispatcher_factory(schedule=(900,), **overrides) as dispatcher:
        for _ in range(4):  # 0, 15, 30, 45 min: failing, not yet for an hour
            assert await dispatcher.run_once() == 1
            clock.advance(minutes=15)
        assert (await _endpoint(wh_sessionmaker, wh_tenant, endpoint.id)).enabled

        assert await dispatcher.run_once() == 1  # 60 min: an hour without a success
        disabled = await _endpoint(wh_sessionmaker, wh_tenant, endpoint.id)
        assert not disabled.enabled
        assert disabled.disabled_reason is not None
        assert "automatically" in disabled.disabled_reason
        assert disabled.disabled_at == clock.now

        # held, not sent, while disabled; a new event queues nothing for it
        await publish(wh_sessionmaker, make_event(wh_tenant.id))
        clock.advance(hours=1)
        assert await dispatcher.run_once() == 0
        assert len(receiver.requests) == 5

        receiver.default = Reply(204)
        async with wh_sessionmaker() as session:
            await service.update_endpoint(
                session, wh_tenant.id, endpoint.id, allow_private=True, enabled=True
            )
            await session.commit()
        assert await dispatcher.run_once() == 1

    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    assert found.delivery.status == "succeeded"
    reenabled = await _endpoint(wh_sessionmaker, wh_tenant, endpoint.id)
    assert reenabled.enabled
    assert reenabled.disabled_reason is None
    assert reenabled.failing_since is None


async def test_a_success_in_between_restarts_the_disable_clock(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.replies.extend([Reply(500), Reply(204), Reply(500)])
    endpoint, _ = await create_endpoint(wh_sessionmaker, wh_tenant.id, receiver.url)
    overrides = {"webhook_disable_after_hours": 1.0}
    async with dispatcher_factory(schedule=(7200,), **overrides) as dispatcher:
        await publish(wh_sessionmaker, make_event(wh_tenant.id))
        assert await dispatcher.run_once() == 1  # fails at 0
        clock.advance(minutes=30)
        await publish(wh_sessionmaker, make_event(wh_tenant.id))
        assert await dispatcher.run_once() == 1  # succeeds at 30 min
        clock.advance(minutes=50)
        await publish(wh_sessionmaker, make_event(wh_tenant.id))
        assert await dispatcher.run_once() == 1  # fails at 80 min: failing for 0 min only

    current = await _endpoint(wh_sessionmaker, wh_tenant, endpoint.id)
    assert current.enabled
    assert current.failing_since == clock.now


async def test_manual_redelivery_sends_a_failed_delivery_again(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.replies.append(Reply(500))
    endpoint, _, event = await _setup(wh_sessionmaker, wh_tenant, receiver)
    async with dispatcher_factory(schedule=(3600,), webhook_retry_hours=0.5) as dispatcher:
        assert await dispatcher.run_once() == 1
        found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
        assert found.delivery.status == "failed"
        clock.advance(hours=1)
        assert await dispatcher.run_once() == 0

        async with wh_sessionmaker() as session:
            await service.redeliver(session, wh_tenant.id, found.delivery.id)
            await session.commit()
        clock.advance(seconds=1)
        assert await dispatcher.run_once() == 1

    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    assert found.delivery.status == "succeeded"
    assert found.delivery.attempts == 2
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(event.id)] * 2


async def test_after_rotation_both_secrets_sign_for_a_day(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    endpoint, old = await create_endpoint(wh_sessionmaker, wh_tenant.id, receiver.url)
    async with wh_sessionmaker() as session:
        _, new = await service.rotate_secret(session, wh_tenant.id, endpoint.id)
        await session.commit()
    assert new != old
    async with dispatcher_factory() as dispatcher:
        await publish(wh_sessionmaker, make_event(wh_tenant.id))
        assert await dispatcher.run_once() == 1
        clock.advance(hours=25)
        await publish(wh_sessionmaker, make_event(wh_tenant.id))
        assert await dispatcher.run_once() == 1

    during, after = receiver.requests
    parts = [during.headers[f"webhook-{n}"] for n in ("id", "timestamp")]
    signatures = during.headers["webhook-signature"].split(" ")
    assert signatures == [
        _expected_signature(new, *parts, during.body),
        _expected_signature(old, *parts, during.body),
    ]
    for secret in (old, new):
        signing.verify(
            secret, *parts, during.body, during.headers["webhook-signature"], now=int(parts[1])
        )
    parts = [after.headers[f"webhook-{n}"] for n in ("id", "timestamp")]
    assert after.headers["webhook-signature"] == _expected_signature(new, *parts, after.body)


async def test_private_targets_are_refused_at_delivery_time(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    dispatcher_factory: Callable[..., Any],
) -> None:
    endpoint, _, _ = await _setup(wh_sessionmaker, wh_tenant, receiver)
    async with dispatcher_factory(webhook_allow_private_targets=False) as dispatcher:
        assert await dispatcher.run_once() == 1
    assert receiver.requests == []
    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    [attempt] = found.attempts
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "non-public address" in attempt.error
    assert found.delivery.status == "pending"


async def test_redirects_are_not_followed_and_bodies_are_truncated(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.replies.extend(
        [Reply(302, headers={"location": receiver.url + "/elsewhere"}), Reply(500, b"x" * 5000)]
    )
    endpoint, _, _ = await _setup(wh_sessionmaker, wh_tenant, receiver)
    async with dispatcher_factory() as dispatcher:
        assert await dispatcher.run_once() == 1
        clock.advance(seconds=1)
        assert await dispatcher.run_once() == 1
    assert [r.path for r in receiver.requests] == ["/hooks", "/hooks"]
    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    assert [a.status_code for a in found.attempts] == [302, 500]
    assert found.attempts[1].response_body == "x" * 1024
    assert found.delivery.status == "pending"


async def test_a_slow_endpoint_times_out(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.replies.append(Reply(204, delay=1.0))
    endpoint, _, _ = await _setup(wh_sessionmaker, wh_tenant, receiver)
    async with dispatcher_factory(webhook_timeout_seconds=0.2) as dispatcher:
        assert await dispatcher.run_once() == 1
    [attempt] = (await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)).attempts
    assert attempt.status_code is None
    assert attempt.error == "timed out after 0.2 s"


async def test_the_running_dispatcher_bounds_concurrency_and_stops_gracefully(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.default = Reply(204, delay=0.2)
    endpoints = [
        (await create_endpoint(wh_sessionmaker, wh_tenant.id, receiver.url))[0] for _ in range(5)
    ]
    await publish(wh_sessionmaker, make_event(wh_tenant.id))
    async with dispatcher_factory(webhook_concurrency=2) as dispatcher:
        await dispatcher.start()
        for _ in range(100):
            if len(receiver.requests) == 5:
                break
            await asyncio.sleep(0.05)
        # stop() while the last sends are in flight: they finish and are recorded
        await dispatcher.stop()

    assert len(receiver.requests) == 5
    assert receiver.max_in_flight == 2
    for endpoint in endpoints:
        found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
        assert found.delivery.status == "succeeded"
    async with wh_sessionmaker() as session:
        leased = await session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.lease_owner.is_not(None))
        )
        assert leased.all() == []


async def test_two_dispatchers_never_send_a_delivery_twice(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    dispatcher_factory: Callable[..., Any],
) -> None:
    receiver.default = Reply(204, delay=0.05)
    for _ in range(4):
        await create_endpoint(wh_sessionmaker, wh_tenant.id, receiver.url)
    for _ in range(3):
        await publish(wh_sessionmaker, make_event(wh_tenant.id))
    async with (
        dispatcher_factory(webhook_concurrency=4) as first,
        dispatcher_factory(webhook_concurrency=4) as second,
    ):
        while sum(await asyncio.gather(first.run_once(), second.run_once())) > 0:
            pass
    assert len(receiver.requests) == 12
    pairs = {(r.headers["webhook-id"], r.headers["webhook-signature"]) for r in receiver.requests}
    assert len(pairs) == 12


async def test_a_named_host_is_reached_at_its_checked_address_under_its_name(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    dispatcher_factory: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    answers = {"hooks.test": ["::1", "127.0.0.1"]}  # ::1 has no listener: the next is tried

    async def getaddrinfo(host: str, *_args: Any, **_kwargs: Any) -> list[Any]:
        return [(0, 0, 0, "", (a, 0)) for a in answers[host]]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    endpoint, _ = await create_endpoint(
        wh_sessionmaker, wh_tenant.id, f"http://hooks.test:{port}/named"
    )
    await publish(wh_sessionmaker, make_event(wh_tenant.id))
    async with dispatcher_factory() as dispatcher:
        assert await dispatcher.run_once() == 1
    [request] = receiver.requests
    assert request.path == "/named"
    assert request.headers["host"] == f"hooks.test:{port}"
    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    assert found.delivery.status == "succeeded"


async def test_an_unreachable_endpoint_is_a_failed_attempt(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    dispatcher_factory: Callable[..., Any],
) -> None:
    endpoint, _ = await create_endpoint(wh_sessionmaker, wh_tenant.id, "http://127.0.0.1:9/")
    await publish(wh_sessionmaker, make_event(wh_tenant.id))
    async with dispatcher_factory() as dispatcher:
        assert await dispatcher.run_once() == 1
    found = await _delivery(wh_sessionmaker, wh_tenant, endpoint.id)
    [attempt] = found.attempts
    assert attempt.status_code is None
    assert attempt.error is not None
    assert attempt.error.startswith("ConnectError")
    assert found.delivery.status == "pending"


# row locks are PostgreSQL's: SQLite has one writer and no lock order to get wrong
@pytest.mark.parametrize("settings", [BACKENDS[1]], indirect=True)
async def test_recording_an_attempt_takes_the_endpoint_before_its_delivery(
    wh_sessionmaker: Maker,
    wh_tenant: TenantKeys,
    receiver: Receiver,
    clock: Clock,
    dispatcher_factory: Callable[..., Any],
) -> None:
    """Deleting an endpoint locks it, then its deliveries (the cascade); recording a failed
    attempt must take the same order, or the two deadlock (as they once did in CI)."""
    endpoint, _, _ = await _setup(wh_sessionmaker, wh_tenant, receiver)
    async with dispatcher_factory() as dispatcher:
        [claimed] = await dispatcher._claim(10)
        failed = AttemptResult(status_code=500, duration_ms=1, error=None, response_body="no")
        async with wh_sessionmaker() as deleter:
            await service.get_endpoint(deleter, wh_tenant.id, endpoint.id, for_update=True)
            recording = asyncio.create_task(dispatcher._record(claimed, clock(), failed))
            await asyncio.sleep(0.3)
            assert not recording.done()  # it waits for the endpoint...
            # ...holding nothing the delete's cascade needs (NOWAIT raises if it did)
            await deleter.execute(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.id == claimed.id)
                .with_for_update(nowait=True)
            )
            await service.delete_endpoint(deleter, wh_tenant.id, endpoint.id)
            await deleter.commit()
        await asyncio.wait_for(recording, timeout=10)  # the delivery is gone: lease lost
    async with wh_sessionmaker() as session:
        assert await session.get(WebhookDelivery, claimed.id) is None
