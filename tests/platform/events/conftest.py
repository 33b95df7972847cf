"""Event tests run against a database of their own per test, so that no other relay (the
session app's embedded worker) touches their outbox, and against each real bus.

NATS is expected at 127.0.0.1:4222 (JetStream on) and the Pub/Sub emulator at
``PUBSUB_EMULATOR_HOST`` (default 127.0.0.1:8085); an unreachable broker skips its cases, or
fails them under AUTOLEDGER_REQUIRE_SERVICES=1. Each case gets its own namespace, deleted after.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.settings import Settings
from autoledger.platform.events.bus import Bus
from autoledger.platform.events.buses import create_bus
from autoledger.platform.events.nats_bus import NatsBus
from autoledger.platform.events.pubsub_bus import PubSubBus
from tests.conftest import BACKENDS, service_unavailable
from tests.ledger.support import fresh_database, fresh_sessionmaker


@dataclass
class OwnDatabase:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]


@pytest.fixture(params=BACKENDS)
async def own_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OwnDatabase]:
    async with (
        fresh_database(request.param, tmp_path) as settings,
        fresh_sessionmaker(settings) as sessionmaker,
    ):
        yield OwnDatabase(settings, sessionmaker)


NATS_URL = "nats://127.0.0.1:4222"
PUBSUB_HOST = os.environ.get("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
ACK_WAIT = 1.0
BUSES = ["inprocess", "nats", "pubsub"]


async def _reachable(host: str, port: int) -> str | None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=2)
    except (OSError, TimeoutError) as exc:
        return str(exc) or type(exc).__name__
    writer.close()
    await writer.wait_closed()
    return None


def _settings(kind: str, namespace: str) -> Settings:
    return Settings(
        bus=kind,  # type: ignore[arg-type]
        bus_namespace=namespace,
        nats_url=NATS_URL,
        pubsub_emulator_host=PUBSUB_HOST,
    )


@pytest.fixture(params=BUSES)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    kind: str = request.param
    if kind == "nats":
        problem = await _reachable("127.0.0.1", 4222)
        if problem:
            service_unavailable(f"NATS unreachable at {NATS_URL}: {problem}")
    if kind == "pubsub":
        host, port = PUBSUB_HOST.rsplit(":", 1)
        problem = await _reachable(host, int(port))
        if problem:
            service_unavailable(f"Pub/Sub emulator unreachable at {PUBSUB_HOST}: {problem}")
    settings = _settings(kind, f"t{uuid.uuid4().hex[:10]}")
    subject = create_bus(settings)
    await subject.connect()
    try:
        yield subject
    finally:
        await subject.close()
        if isinstance(subject, NatsBus | PubSubBus):
            cleaner = type(subject).from_settings(settings)
            await cleaner.connect()
            await cleaner.delete_namespace()
            await cleaner.close()
