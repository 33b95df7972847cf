"""Consumers: inbox dedup, retry with backoff, dead letters and replay, poison isolation —
through the real worker (relay + in-process bus) on SQLite and PostgreSQL."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager

from autoledger.api.app import create_app
from autoledger.kit.settings import Settings
from autoledger.platform.auth.roles import Role
from autoledger.platform.events import outbox
from autoledger.platform.events.bus import Bus, Message
from autoledger.platform.events.consumers import Consumer, ConsumerRunner
from autoledger.platform.events.envelope import Event
from autoledger.platform.events.inprocess import InProcessBus
from autoledger.platform.events.worker import EventWorker
from tests.conftest import make_tenant
from tests.platform.events.conftest import OwnDatabase
from tests.platform.events.support import Effects, effect_count, ping_event, wait_for


def fast(settings: Settings, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "consumer_max_attempts": 4,
            "consumer_backoff_base_seconds": 0.02,
            "consumer_backoff_max_seconds": 0.1,
            "relay_idle_seconds": 0.01,
            **extra,
        }
    )


@asynccontextmanager
async def running(
    db: OwnDatabase, consumers: list[Consumer], bus: Bus | None = None, **extra: object
) -> AsyncIterator[EventWorker]:
    worker = EventWorker(
        fast(db.settings, **extra), db.sessionmaker, bus or InProcessBus(), consumers
    )
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def publish(db: OwnDatabase, events: list[Event]) -> None:
    async with db.sessionmaker() as session:
        await outbox.append(session, events)
        await session.commit()


async def test_a_redelivered_event_has_no_second_effect(own_db: OwnDatabase) -> None:
    effects = Effects()
    runner = ConsumerRunner(effects.consumer(), own_db.sessionmaker)
    event = ping_event(uuid.uuid4(), "k", 1)

    class Once:
        attempt = 1
        message = Message(str(event.id), "k", event.type, event.to_json())
        acks = 0

        async def ack(self) -> None:
            self.acks += 1

        async def nak(self, delay: float) -> None:
            raise AssertionError(f"a duplicate is acked, not retried in {delay} s")

    first, again = Once(), Once()
    await runner.deliver(first)
    await runner.deliver(again)
    assert (first.acks, again.acks) == (1, 1)
    assert runner.stats.processed == 1
    assert runner.stats.duplicates == 1
    assert await effect_count(own_db.sessionmaker) == {str(event.id): 1}


async def test_a_failing_handler_is_retried_and_its_failed_attempts_leave_no_trace(
    own_db: OwnDatabase,
) -> None:
    effects = Effects(fail=lambda _e, calls: calls <= 3)
    event = ping_event(uuid.uuid4(), "k", 1)
    async with running(own_db, [effects.consumer()]) as worker:
        await publish(own_db, [event])
        await wait_for(lambda: worker.runners[0].stats.processed == 1)
    assert effects.calls[event.id] == 4
    assert worker.runners[0].stats.retried == 3
    # each failed attempt wrote an effect and raised: rolled back with its inbox row
    assert await effect_count(own_db.sessionmaker) == {str(event.id): 1}


async def test_an_always_failing_event_is_dead_lettered_and_replays_after_the_fix(
    own_db: OwnDatabase,
) -> None:
    broken = True
    effects = Effects(fail=lambda _e, _calls: broken)
    tenant = await make_tenant(own_db.sessionmaker)
    event = ping_event(tenant.id, "k", 1)
    settings = fast(own_db.settings)
    app = create_app(settings, consumers=[effects.consumer()])
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        worker = app.state.runtime.worker
        await publish(own_db, [event])
        await wait_for(lambda: worker.runners[0].stats.dead_lettered == 1)
        assert effects.calls[event.id] == 4

        listed = await http.get("/v1/dead-letters", headers=tenant.headers(Role.VIEWER))
        assert listed.status_code == 200
        [letter] = listed.json()["data"]
        assert letter["consumer"] == effects.name
        assert letter["event_id"] == str(event.id)
        assert letter["attempts"] == 4
        assert "handler failed on call 4" in letter["error"]
        assert letter["event"]["type"] == "test.ping.v1"

        other = await make_tenant(own_db.sessionmaker)
        hidden = await http.get("/v1/dead-letters", headers=other.headers(Role.VIEWER))
        assert hidden.json()["data"] == []
        refused = await http.post(
            f"/v1/dead-letters/{letter['id']}:replay", headers=tenant.headers(Role.ACCOUNTANT)
        )
        assert refused.status_code == 403

        broken = False  # the fault is fixed
        replayed = await http.post(
            f"/v1/dead-letters/{letter['id']}:replay", headers=tenant.headers(Role.ADMIN)
        )
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["status"] == "replayed"
        await wait_for(lambda: worker.runners[0].stats.processed == 1)
        again = await http.post(
            f"/v1/dead-letters/{letter['id']}:replay", headers=tenant.headers(Role.ADMIN)
        )
        assert again.status_code == 409
        assert again.json()["code"] == "events.dead_letter_replayed"
        missing = await http.post(
            f"/v1/dead-letters/{uuid.uuid4()}:replay", headers=tenant.headers(Role.ADMIN)
        )
        assert missing.status_code == 404
    assert await effect_count(own_db.sessionmaker) == {str(event.id): 1}


async def test_a_poison_event_does_not_block_other_keys(own_db: OwnDatabase) -> None:
    poison = ping_event(uuid.uuid4(), "poisoned", 0)
    effects = Effects(fail=lambda e, _calls: e.id == poison.id)
    healthy = [ping_event(uuid.uuid4(), "healthy", n) for n in range(20)]
    async with running(own_db, [effects.consumer()], consumer_backoff_base_seconds=0.3) as worker:
        await publish(own_db, [poison, *healthy])
        await wait_for(lambda: len(effects.order["healthy"]) == 20)
        # the healthy key finished while the poisoned one was still retrying
        assert worker.runners[0].stats.dead_lettered == 0
        await wait_for(lambda: worker.runners[0].stats.dead_lettered == 1)
    assert effects.order["healthy"] == [e.id for e in healthy]


async def test_ledger_events_reach_consumers_through_the_embedded_worker(
    own_db: OwnDatabase,
) -> None:
    effects = Effects(types=frozenset({"ledger.entry.posted.v1"}))
    tenant = await make_tenant(own_db.sessionmaker)
    app = create_app(fast(own_db.settings), consumers=[effects.consumer()])
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        headers = tenant.headers(Role.ADMIN)
        ledger = (
            await http.post(
                "/v1/ledgers",
                json={"name": "Books", "base_currency": "EUR", "chart_template": "small_business"},
                headers=headers,
            )
        ).json()
        posted = await http.post(
            f"/v1/ledgers/{ledger['id']}/entries",
            json={
                "postings": [
                    {"account": "1000", "direction": "debit", "amount": "10.00", "asset": "EUR"},
                    {"account": "3000", "direction": "credit", "amount": "10.00", "asset": "EUR"},
                ]
            },
            headers=headers,
        )
        assert posted.status_code == 201, posted.text
        await wait_for(lambda: sum(map(len, effects.order.values())) == 1)
    [(key, [event_id])] = effects.order.items()
    assert key == f"{tenant.id}/{ledger['id']}"
    assert event_id != uuid.UUID(posted.json()["id"])  # the event has its own id


async def test_the_in_process_bus_redelivers_recent_events_after_a_restart(
    own_db: OwnDatabase,
) -> None:
    """The embedded bus keeps deliveries in memory: a process that died after the relay
    marked events sent but before consumers applied them gets them again on start."""
    events = [ping_event(uuid.uuid4(), "k", n) for n in range(5)]
    await publish(own_db, events)
    async with running(own_db, []) as worker:  # relayed, but nobody consumed them
        await wait_for(lambda: worker.relay is not None and worker.relay.published == 5)
    effects = Effects()
    async with running(own_db, [effects.consumer()]):
        await wait_for(lambda: len(effects.calls) == 5)
    async with running(own_db, [effects.consumer()]) as again:  # applied ones are skipped
        await wait_for(lambda: again.runners[0].stats.duplicates == 5)
    assert await effect_count(own_db.sessionmaker) == {str(e.id): 1 for e in events}
