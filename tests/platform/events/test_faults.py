"""Fault tests with real processes and real brokers (PostgreSQL, NATS JetStream, the Pub/Sub
emulator): a relay killed mid-batch, a broker gone for 10 s, handlers that fail, and load
shedding between an API process and a worker process. Marked slow; CI runs them."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.settings import ENV_PREFIX, Settings
from autoledger.ledger import journal
from autoledger.platform.auth.roles import Role
from autoledger.platform.events import consumers, outbox
from autoledger.platform.events.bus import Bus, Message
from autoledger.platform.events.buses import create_bus
from autoledger.platform.events.consumers import Consumer, ConsumerRunner
from autoledger.platform.events.envelope import Event
from autoledger.platform.events.nats_bus import NatsBus
from autoledger.platform.events.pubsub_bus import PubSubBus
from autoledger.platform.events.tables import OutboxRecord
from autoledger.platform.events.worker import EventWorker
from tests.cli.test_serve_process import free_port, wait_until_ready
from tests.conftest import make_tenant, service_unavailable
from tests.ledger.support import (
    fresh_database,
    fresh_sessionmaker,
    new_account,
    new_ledger,
    transfer,
)
from tests.platform.events.conftest import NATS_URL, PUBSUB_HOST, _reachable
from tests.platform.events.support import Effects, effect_count, ping_event, unsent, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

AUTOLEDGER = Path(sys.executable).parent / "autoledger"
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env |= {
        "AUTOLEDGER_DATABASE_URL": settings.database_url,
        **(
            {"AUTOLEDGER_SYSTEM_DATABASE_URL": settings.system_database_url}
            if settings.system_database_url
            else {}
        ),
        "AUTOLEDGER_DATA_DIR": str(settings.data_dir),
        "AUTOLEDGER_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    return env


@contextmanager
def spawned(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(AUTOLEDGER), *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@asynccontextmanager
async def pg(tmp_path: Path) -> AsyncIterator[tuple[Settings, async_sessionmaker[AsyncSession]]]:
    async with (
        fresh_database("postgresql", tmp_path) as settings,
        fresh_sessionmaker(settings) as sm,
    ):
        yield settings, sm


async def nats_bus(namespace: str, url: str = NATS_URL) -> NatsBus:
    bus = NatsBus.from_settings(Settings(bus="nats", bus_namespace=namespace, nats_url=url))
    try:
        await asyncio.wait_for(bus.connect(), timeout=5)
    except (OSError, TimeoutError) as exc:
        service_unavailable(f"NATS unreachable at {url}: {exc}")
    return bus


async def test_a_relay_killed_mid_batch_loses_nothing_and_applies_everything_once(
    tmp_path: Path,
) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    total = 15_000
    async with pg(tmp_path) as (settings, sm):
        events = [ping_event(uuid.uuid4(), f"k{n % 12}", n) for n in range(total)]
        async with sm() as session:
            await outbox.append(session, events)
            await session.commit()
        bus = await nats_bus(namespace)
        effects = Effects()
        runner = ConsumerRunner(effects.consumer(), sm)
        subscription = await runner.start(bus, prefetch=256, ack_wait=10)
        env = process_env(
            settings,
            AUTOLEDGER_BUS="nats",
            AUTOLEDGER_NATS_URL=NATS_URL,
            AUTOLEDGER_BUS_NAMESPACE=namespace,
            AUTOLEDGER_RELAY_BATCH_SIZE="200",
            AUTOLEDGER_RELAY_LEASE_SECONDS="2",
        )
        try:
            with spawned(["worker", "--no-consumers"], env, tmp_path / "relay-1.log") as first:
                # Well under way, far from done, and holding a leased batch right now (the
                # relay spends most of its time publishing a leased batch, but not all): it
                # is frozen first, so the batch it holds cannot be finished between the
                # look and the kill.
                while True:
                    while await unsent(sm) > total - 1500 or not await leased_now(sm):
                        assert first.poll() is None, "the relay died by itself"
                        await asyncio.sleep(0.01)
                    first.send_signal(signal.SIGSTOP)
                    if await leased_now(sm):
                        break
                    first.send_signal(signal.SIGCONT)
                first.send_signal(signal.SIGKILL)
                first.wait()
            left = await unsent(sm)
            assert 0 < left < total, "the kill should land mid-stream"
            leased = await leased_now(sm)
            with spawned(["worker", "--no-consumers"], env, tmp_path / "relay-2.log"):
                await wait_for(lambda: len(effects.calls) == total, timeout=90)
                await wait_for(lambda: runner.stats.processed == total, timeout=30)
            assert await unsent(sm) == 0
            counts = await effect_count(sm)
            assert len(counts) == total
            assert set(counts.values()) == {1}, "an effect was applied twice"
            assert leased, "the kill should land while the relay held leased rows"
        finally:
            await subscription.stop()
            await bus.delete_namespace()
            await bus.close()


async def leased_now(sm: async_sessionmaker[AsyncSession]) -> int:
    async with sm() as session:
        count = await session.scalar(
            select(func.count()).where(
                OutboxRecord.lease_owner.is_not(None), OutboxRecord.published_at.is_(None)
            )
        )
    return int(count or 0)


@contextmanager
def private_nats(port: int, store: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


async def _port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_a_frozen_broker_fails_a_bundle_sized_publish_within_the_timeout(
    tmp_path: Path,
) -> None:
    """An outbox bundle hands the bus 5,000 messages at once: more acks than the NATS client
    lets wait, which once stalled the relay for as long as the broker did not answer."""
    if not Path(NATS_SERVER).exists():
        service_unavailable("nats-server binary not found")
    port = free_port()
    store = Path(tempfile.mkdtemp(prefix="nats-", dir=tmp_path))
    with private_nats(port, store) as server:
        for _ in range(50):
            if await _port_open(port):
                break
            await asyncio.sleep(0.1)
        bus = NatsBus(url=f"nats://127.0.0.1:{port}", namespace="frozen", publish_timeout=1.0)
        await bus.connect()
        try:
            tenant = uuid.uuid4()
            assert await bus.publish([_message(ping_event(tenant, "k", 0))]) == [None]
            batch = [_message(ping_event(tenant, f"k{n % 3}", n)) for n in range(5_000)]
            server.send_signal(signal.SIGSTOP)  # up, but answering nothing
            publishing = asyncio.ensure_future(bus.publish(batch))
            try:
                done, _ = await asyncio.wait([publishing], timeout=20)
            finally:
                server.send_signal(signal.SIGCONT)
            assert publishing in done, "the publish waited on the frozen broker"
            assert all(r is not None for r in publishing.result())  # nothing claimed stored
        finally:
            await bus.close()


def _message(event: Event) -> Message:
    return Message(str(event.id), event.partitionkey, event.type, event.to_json())


async def test_writes_go_on_while_the_broker_is_down_and_drain_in_order(tmp_path: Path) -> None:
    if not Path(NATS_SERVER).exists():
        service_unavailable("nats-server binary not found")
    port = free_port()
    store = Path(tempfile.mkdtemp(prefix="nats-", dir=tmp_path))
    url = f"nats://127.0.0.1:{port}"
    async with pg(tmp_path) as (settings, sm):
        setups = [await new_ledger(sm) for _ in range(2)]
        accounts = [
            (await new_account(sm, s, "1000"), await new_account(sm, s, "2000")) for s in setups
        ]
        seqs: dict[str, list[int]] = defaultdict(list)

        async def record(_session: object, event: Event) -> None:
            seqs[event.partitionkey].append(int(event.data["seq"]))

        server = private_nats(port, store)
        server.__enter__()
        try:
            for _ in range(50):
                if await _port_open(port):
                    break
                await asyncio.sleep(0.1)
            bus: Bus = await nats_bus(f"t{uuid.uuid4().hex[:10]}", url)
            worker = EventWorker(
                settings.model_copy(update={"relay_idle_seconds": 0.02}),
                sm,
                bus,
                [Consumer("test.order", record, frozenset({"ledger.entry.posted.v1"}))],
                services=[],
            )
            await worker.start()

            async def post(n: int) -> None:
                for setup, (debit, credit) in zip(setups, accounts, strict=True):
                    async with sm() as session:
                        await journal.execute(session, [transfer(setup, debit, credit, f"{n}.00")])
                        await session.commit()

            for n in range(1, 11):
                await post(n)
            await wait_for(lambda: sum(map(len, seqs.values())) == 20, timeout=15)

            server.__exit__(None, None, None)  # the broker goes away for 10 s
            for n in range(11, 61):
                await post(n)  # writes keep succeeding
                await asyncio.sleep(0.2)
            assert await unsent(sm) > 0
            server = private_nats(port, store)
            server.__enter__()
            await wait_for(lambda: sum(map(len, seqs.values())) == 120, timeout=60)
            await worker.stop()
        finally:
            server.__exit__(None, None, None)
        assert await unsent(sm) == 0
        for key, got in seqs.items():
            assert got == sorted(got), f"events of {key} arrived out of order"
            assert got == list(range(got[0], got[0] + 60)), f"gap or duplicate in {key}"


@pytest.mark.parametrize("kind", ["nats", "pubsub"])
async def test_failing_handlers_retry_dead_letter_and_replay_on_real_brokers(
    tmp_path: Path, kind: str
) -> None:
    if kind == "pubsub":
        host, port = PUBSUB_HOST.rsplit(":", 1)
        problem = await _reachable(host, int(port))
        if problem:
            service_unavailable(f"Pub/Sub emulator unreachable at {PUBSUB_HOST}: {problem}")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    bus_settings = Settings(
        bus=kind,  # type: ignore[arg-type]
        bus_namespace=namespace,
        nats_url=NATS_URL,
        pubsub_emulator_host=PUBSUB_HOST,
    )
    async with pg(tmp_path) as (settings, sm):
        bus = create_bus(bus_settings)
        flaky = Effects(name="test.flaky", fail=lambda _e, calls: calls <= 3)
        broken_state = {"broken": True}
        broken = Effects(name="test.broken", fail=lambda _e, _c: broken_state["broken"])
        worker = EventWorker(
            settings.model_copy(
                update={
                    "consumer_max_attempts": 4,
                    "consumer_backoff_base_seconds": 0.05,
                    "consumer_backoff_max_seconds": 0.2,
                    "relay_idle_seconds": 0.02,
                }
            ),
            sm,
            bus,
            [flaky.consumer(), broken.consumer()],
            services=[],
        )
        await worker.start()
        try:
            tenant = await make_tenant(sm)
            event = ping_event(tenant.id, "k", 1)
            async with sm() as session:
                await outbox.append(session, [event])
                await session.commit()
            flaky_runner, broken_runner = worker.runners
            await wait_for(lambda: flaky_runner.stats.processed == 1, timeout=60)
            await wait_for(lambda: broken_runner.stats.dead_lettered == 1, timeout=60)
            assert flaky.calls[event.id] == 4
            assert broken.calls[event.id] == 4
            async with sm() as session:
                [letter] = await consumers.list_dead_letters(session, tenant.id)
                assert letter.consumer == "test.broken"
                broken_state["broken"] = False
                await consumers.replay(session, tenant.id, letter.id)
                await session.commit()
            await wait_for(lambda: broken_runner.stats.processed == 1, timeout=60)
            # the replay reached the flaky consumer too, which skipped it by its inbox
            await wait_for(lambda: flaky_runner.stats.duplicates >= 1, timeout=30)
            assert flaky_runner.stats.processed == 1
        finally:
            await worker.stop()
            cleaner = create_bus(bus_settings)
            await cleaner.connect()
            assert isinstance(cleaner, NatsBus | PubSubBus)
            await cleaner.delete_namespace()
            await cleaner.close()
        counts = await effect_count(sm)
        assert counts == {str(event.id): 2}  # one effect per consumer


async def test_the_api_sheds_writes_under_backlog_and_recovers_when_a_worker_drains_it(
    tmp_path: Path,
) -> None:
    async with pg(tmp_path) as (settings, sm):
        tenant = await make_tenant(sm)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api_env = process_env(
            settings,
            AUTOLEDGER_EMBEDDED_WORKER="false",
            AUTOLEDGER_OUTBOX_MAX_LAG="40",
            AUTOLEDGER_WRITER_MAX_QUEUE="2",
        )
        with spawned(["serve", "--port", str(port)], api_env, tmp_path / "api.log") as api:
            await asyncio.to_thread(wait_until_ready, base, api)
            headers = tenant.headers(Role.ADMIN)
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
                ledger = (
                    await http.post(
                        "/v1/ledgers",
                        json={
                            "name": "Books",
                            "base_currency": "USD",
                            "chart_template": "small_business",
                        },
                    )
                ).json()
                entry = {
                    "postings": [
                        {"account": "1000", "direction": "debit", "amount": "1.00", "asset": "USD"},
                        {
                            "account": "3000",
                            "direction": "credit",
                            "amount": "1.00",
                            "asset": "USD",
                        },
                    ]
                }
                url = f"/v1/ledgers/{ledger['id']}/entries"
                answers = await asyncio.gather(*(http.post(url, json=entry) for _ in range(150)))
                statuses = {r.status_code for r in answers}
                assert statuses <= {201, 503}, statuses
                assert 503 in statuses, "a saturated write path must shed load"
                for r in answers:
                    if r.status_code == 503:
                        assert int(r.headers["Retry-After"]) >= 1
                        assert r.headers["content-type"].startswith("application/problem+json")
                await asyncio.sleep(1.5)  # the lag sampler sees the backlog (no worker runs)
                backlogged = await http.post(url, json=entry)
                assert backlogged.status_code == 503
                assert backlogged.json()["code"] == "service.events_backlogged"
                assert (await http.get(f"/v1/ledgers/{ledger['id']}")).status_code == 200

                worker_env = process_env(settings)
                with spawned(["worker"], worker_env, tmp_path / "worker.log"):
                    deadline = asyncio.get_running_loop().time() + 30
                    while True:
                        again = await http.post(url, json=entry)
                        if again.status_code == 201:
                            break
                        assert again.status_code == 503
                        assert asyncio.get_running_loop().time() < deadline, "never recovered"
                        await asyncio.sleep(float(again.headers["Retry-After"]) / 4)
