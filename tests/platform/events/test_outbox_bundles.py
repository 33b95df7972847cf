"""Outbox bundles (ADR 0020): one row standing for many events, expanded by the relay.

The test expander builds its events from the bundle's body alone (a domain's expander reads
its committed rows; the banking tests hold that one to the API's payloads)."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select, update

from autoledger.platform.events import outbox
from autoledger.platform.events.envelope import Event
from autoledger.platform.events.inprocess import InProcessBus
from autoledger.platform.events.relay import Relay
from autoledger.platform.events.tables import OutboxRecord
from tests.platform.events.conftest import OwnDatabase
from tests.platform.events.support import RecordingBus, ping_event

PINGS = "test.pings"
BROKEN = "test.broken"
TYPE = "test.ping.v1"
_NS = uuid.UUID("6d3c1c0e-3f57-4f7e-9b0e-7b8f0f8a5c11")


def _ping_id(bundle: dict[str, str | int], n: int) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{bundle['name']}/{n}")


async def _expand_pings(_session: object, body: bytes) -> list[tuple[str, bytes]]:
    bundle = orjson.loads(body)
    events = []
    for n in range(int(bundle["count"])):
        event = Event(
            id=_ping_id(bundle, n),
            source="/tests",
            type=TYPE,
            subject=f"pings/{n}",
            time=datetime(2026, 11, 24, tzinfo=UTC),
            tenant=uuid.UUID(bundle["tenant"]),
            partitionkey=bundle["key"],
            data={"n": n},
        )
        events.append((str(event.id), event.to_json()))
    return events


async def _expand_broken(_session: object, _body: bytes) -> list[tuple[str, bytes]]:
    raise RuntimeError("the bundle's rows are not readable")


outbox.register_expander(PINGS, _expand_pings)
outbox.register_expander(BROKEN, _expand_broken)


async def _bundle(
    db: OwnDatabase,
    tenant: uuid.UUID,
    key: str,
    name: str,
    count: int,
    expander: str = PINGS,
    weight: int | None = None,
) -> list[str]:
    """Queue a bundle of ``count`` pings (standing for ``weight`` events, ``count`` unless
    given); the ids its events will have."""
    body = {"name": name, "count": count, "tenant": str(tenant), "key": key}
    async with db.sessionmaker() as session:
        await outbox.append_bundle(
            session,
            expander=expander,
            bundle_id=uuid.uuid4(),
            tenant_id=tenant,
            type_=TYPE,
            partitionkey=key,
            weight=count if weight is None else weight,
            body=orjson.dumps(body),
        )
        await session.commit()
    return [str(_ping_id(body, n)) for n in range(count)]


async def _pings(db: OwnDatabase, tenant: uuid.UUID, key: str, count: int) -> list[str]:
    events = [ping_event(tenant, key, n) for n in range(count)]
    async with db.sessionmaker() as session:
        await outbox.append(session, events)
        await session.commit()
    return [str(e.id) for e in events]


def _by_key(bus: RecordingBus) -> dict[str, list[str]]:
    got: dict[str, list[str]] = defaultdict(list)
    for m in bus.published:
        got[m.key].append(m.id)
    return got


async def _drain(relay: Relay) -> None:
    while await relay.run_once():
        pass


async def test_a_bundle_goes_out_as_its_events_in_order_with_its_neighbours(
    own_db: OwnDatabase,
) -> None:
    tenant = uuid.uuid4()
    expected = await _pings(own_db, tenant, "k", 3)
    expected += await _bundle(own_db, tenant, "k", "first", 40)
    expected += await _pings(own_db, tenant, "k", 2)
    expected += await _bundle(own_db, tenant, "k", "second", 5)
    async with own_db.sessionmaker() as session:
        assert (await outbox.lag(session)).unsent == 3 + 40 + 2 + 5
        assert len(await outbox.queued(session)) == 50
    bus = RecordingBus(InProcessBus())
    relay = Relay(own_db.sessionmaker, bus, batch_size=10)
    await _drain(relay)
    assert _by_key(bus) == {"k": expected}
    assert relay.published == 50
    async with own_db.sessionmaker() as session:
        assert (await outbox.lag(session)).unsent == 0
        assert all(sent for _, sent in await outbox.queued(session))
    bodies = [Event.from_json(m.body) for m in bus.published[3:43]]
    assert [e.data["n"] for e in bodies] == list(range(40))
    assert {m.type for m in bus.published} == {TYPE}


async def test_the_claim_counts_a_bundle_as_its_events(own_db: OwnDatabase) -> None:
    tenant = uuid.uuid4()
    await _pings(own_db, tenant, "a", 2)
    await _bundle(own_db, tenant, "b", "big", 30)
    await _pings(own_db, tenant, "a", 4)
    async with own_db.sessionmaker() as session:
        first = await outbox.claim(session, "r1", 10, lease=30)
    # two pings (2), then the bundle would make 32 > 10: the claim stops before it
    assert [c.weight for c in first] == [1, 1]
    async with own_db.sessionmaker() as session:
        second = await outbox.claim(session, "r2", 10, lease=30)
    # the first row is taken whatever it weighs; then the next key-a rows wait for r1
    assert [(c.expander, c.weight) for c in second] == [(PINGS, 30)]


async def test_a_republished_bundle_has_the_same_event_ids(own_db: OwnDatabase) -> None:
    tenant = uuid.uuid4()
    expected = await _bundle(own_db, tenant, "k", "again", 12)
    bus = RecordingBus(InProcessBus())
    await _drain(Relay(own_db.sessionmaker, bus))
    async with own_db.sessionmaker() as session:  # as if the relay died before mark_sent
        await session.execute(update(OutboxRecord).values(published_at=None, lease_until=None))
        await session.commit()
    await _drain(Relay(own_db.sessionmaker, bus))
    assert [m.id for m in bus.published] == expected + expected


async def test_a_bundle_that_cannot_be_expanded_holds_its_key_only(own_db: OwnDatabase) -> None:
    tenant = uuid.uuid4()
    await _bundle(own_db, tenant, "bad", "broken", 3, expander=BROKEN)
    held = await _pings(own_db, tenant, "bad", 2)
    good = await _bundle(own_db, tenant, "good", "fine", 4)
    good += await _pings(own_db, tenant, "good", 1)
    bus = RecordingBus(InProcessBus())
    relay = Relay(own_db.sessionmaker, bus, batch_size=100)
    await relay.run_once()
    assert _by_key(bus) == {"good": good}
    async with own_db.sessionmaker() as session:
        errors = (
            await session.execute(
                select(OutboxRecord.expander, OutboxRecord.last_error, OutboxRecord.published_at)
                .where(OutboxRecord.ordering_key == "bad")
                .order_by(OutboxRecord.seq)
            )
        ).all()
    assert errors[0].last_error == "RuntimeError: the bundle's rows are not readable"
    assert all(e.published_at is None for e in errors)
    assert len(errors) == 1 + len(held)


async def test_an_unknown_expander_fails_the_row_not_the_relay(own_db: OwnDatabase) -> None:
    tenant = uuid.uuid4()
    await _bundle(own_db, tenant, "k", "lost", 2, expander="test.never-registered")
    bus = RecordingBus(InProcessBus())
    relay = Relay(own_db.sessionmaker, bus)
    assert await relay.run_once() == 0
    async with own_db.sessionmaker() as session:
        error = await session.scalar(select(OutboxRecord.last_error))
    assert error is not None
    assert "UnknownExpander" in error


async def test_a_bundle_needs_an_event_and_an_expander_one_name() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        outbox.register_expander(PINGS, _expand_broken)
    outbox.register_expander(PINGS, _expand_pings)  # the same one again is fine

    class _Session:
        async def execute(self, *_: object) -> None:
            raise AssertionError("nothing is written")

    with pytest.raises(ValueError, match="at least one event"):
        await outbox.append_bundle(
            _Session(),  # type: ignore[arg-type]
            expander=PINGS,
            bundle_id=uuid.uuid4(),
            tenant_id=uuid.uuid4(),
            type_=TYPE,
            partitionkey="k",
            weight=0,
            body=b"{}",
        )


async def test_a_bundle_whose_rows_fall_short_is_held_not_counted(own_db: OwnDatabase) -> None:
    await _bundle(own_db, uuid.uuid4(), "k", "short", 3, weight=5)  # promises more than it has
    bus = RecordingBus(InProcessBus())
    relay = Relay(own_db.sessionmaker, bus)
    assert await relay.run_once() == 0
    assert bus.published == []
    async with own_db.sessionmaker() as session:
        error = await session.scalar(select(OutboxRecord.last_error))
        assert (await outbox.lag(session)).unsent == 5
    assert error is not None
    assert "stands for 5 events, its rows gave 3" in error
