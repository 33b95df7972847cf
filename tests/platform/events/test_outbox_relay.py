"""Transactional outbox and relay: events commit with the change, go out in order per key,
exactly once in effect with several relays, and wait out a failing broker."""

import asyncio
import uuid
from collections import defaultdict

from sqlalchemy import select, update

from autoledger.ledger import service
from autoledger.ledger.types import AccountType
from autoledger.platform.events import outbox
from autoledger.platform.events.bus import Message
from autoledger.platform.events.envelope import Event
from autoledger.platform.events.inprocess import InProcessBus
from autoledger.platform.events.relay import Relay
from autoledger.platform.events.tables import OutboxRecord
from tests.ledger.support import create, new_account, new_ledger, transfer
from tests.platform.events.conftest import OwnDatabase
from tests.platform.events.support import RecordingBus, ping_event, unsent


async def _types(db: OwnDatabase) -> list[str]:
    async with db.sessionmaker() as session:
        return list(
            (await session.scalars(select(OutboxRecord.type).order_by(OutboxRecord.seq))).all()
        )


async def test_ledger_changes_write_their_events_in_the_same_transaction(
    own_db: OwnDatabase,
) -> None:
    setup = await new_ledger(own_db.sessionmaker)
    cash = await new_account(own_db.sessionmaker, setup, "1000")
    sales = await new_account(own_db.sessionmaker, setup, "4000", AccountType.REVENUE)
    async with own_db.sessionmaker() as session:  # rolled back: neither account nor event
        await service.create_account(
            session, setup.tenant_id, setup.ledger_id, code="9999", name="x", type=AccountType.ASSET
        )
        await session.rollback()
    entry = await create(own_db.sessionmaker, transfer(setup, cash, sales, "12.50"))
    assert await _types(own_db) == [
        "ledger.ledger.created.v1",
        "ledger.account.created.v1",
        "ledger.account.created.v1",
        "ledger.entry.posted.v1",
    ]
    async with own_db.sessionmaker() as session:
        body = (
            await session.scalars(select(OutboxRecord.body).order_by(OutboxRecord.seq.desc()))
        ).first()
    assert body is not None
    event = Event.from_json(body)
    assert event.id.version == 7
    assert event.tenant == setup.tenant_id
    assert event.partitionkey == f"{setup.tenant_id}/{setup.ledger_id}"
    assert event.subject == f"entries/{entry.id}"
    assert event.data["id"] == str(entry.id)
    assert [p["amount"] for p in event.data["postings"]] == ["12.50", "12.50"]


async def _seed(db: OwnDatabase, keys: list[str], per_key: int) -> dict[str, list[str]]:
    """Interleaved events for several keys; returns the expected id order per key."""
    tenant = uuid.uuid4()
    expected: dict[str, list[str]] = defaultdict(list)
    events = []
    for n in range(per_key):
        for key in keys:
            e = ping_event(tenant, key, n)
            events.append(e)
            expected[key].append(str(e.id))
    async with db.sessionmaker() as session:
        await outbox.append(session, events)
        await session.commit()
    return expected


def _by_key(messages: list[Message]) -> dict[str, list[str]]:
    got: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        got[m.key].append(m.id)
    return got


async def test_relay_publishes_in_order_per_key_and_marks_sent(own_db: OwnDatabase) -> None:
    expected = await _seed(own_db, ["a", "b", "c"], 40)
    bus = RecordingBus(InProcessBus())
    relay = Relay(own_db.sessionmaker, bus, batch_size=25)
    while await relay.run_once():
        pass
    assert _by_key(bus.published) == expected
    assert await unsent(own_db.sessionmaker) == 0
    async with own_db.sessionmaker() as session:
        lag = await outbox.lag(session)
    assert lag.unsent == 0


async def test_several_relays_publish_each_event_once_in_key_order(own_db: OwnDatabase) -> None:
    expected = await _seed(own_db, [f"k{i}" for i in range(8)], 50)
    bus = RecordingBus(InProcessBus())
    relays = [Relay(own_db.sessionmaker, bus, batch_size=30) for _ in range(3)]

    async def drain(relay: Relay) -> None:
        idle = 0
        while idle < 3:
            idle = 0 if await relay.run_once() else idle + 1
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(r) for r in relays))
    ids = [m.id for m in bus.published]
    assert len(ids) == len(set(ids)) == 400
    assert _by_key(bus.published) == expected


async def test_a_failing_key_waits_without_blocking_others_and_drains_in_order(
    own_db: OwnDatabase,
) -> None:
    expected = await _seed(own_db, ["good", "bad"], 10)
    bus = RecordingBus(InProcessBus(), fail_keys={"bad"})
    relay = Relay(own_db.sessionmaker, bus, batch_size=7)
    for _ in range(6):
        await relay.run_once()
    assert _by_key(bus.published) == {"good": expected["good"]}
    async with own_db.sessionmaker() as session:
        errors = (
            await session.scalars(
                select(OutboxRecord.last_error).where(OutboxRecord.ordering_key == "bad")
            )
        ).all()
    assert any(e and "broker refused" in e for e in errors)
    bus.fail_keys.clear()
    async with own_db.sessionmaker() as session:  # skip the retry delay
        await session.execute(update(OutboxRecord).values(lease_until=None))
        await session.commit()
    while await relay.run_once():
        pass
    assert _by_key(bus.published) == expected


async def test_a_dead_relays_lease_runs_out_and_another_relay_takes_over(
    own_db: OwnDatabase,
) -> None:
    expected = await _seed(own_db, ["k"], 6)
    async with own_db.sessionmaker() as session:  # a relay that claimed, then died
        claimed = await outbox.claim(session, "dead-relay", 4, lease=0.3)
    assert len(claimed) == 4
    bus = RecordingBus(InProcessBus())
    survivor = Relay(own_db.sessionmaker, bus)
    assert await survivor.run_once() == 0  # rows 5-6 wait behind the leased 1-4 of their key
    await asyncio.sleep(0.35)
    while await survivor.run_once():
        pass
    assert _by_key(bus.published) == expected


async def test_relay_stop_settles_its_round(own_db: OwnDatabase) -> None:
    await _seed(own_db, ["k"], 30)
    bus = RecordingBus(InProcessBus())
    relay = Relay(own_db.sessionmaker, bus, batch_size=10, idle_seconds=0.01)
    await relay.start()
    await asyncio.sleep(0.3)
    await relay.stop()
    async with own_db.sessionmaker() as session:
        leased = (
            await session.scalars(
                select(OutboxRecord.seq).where(OutboxRecord.lease_owner.is_not(None))
            )
        ).all()
    assert leased == []
    assert await unsent(own_db.sessionmaker) == 0
