"""Webhook fixtures: a database of their own (so no other dispatcher, e.g. one an app
fixture runs, claims these deliveries), a real HTTP receiver on 127.0.0.1, a settable clock."""

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.migrate import upgrade
from autoledger.db.tenancy import system_settings
from autoledger.kit.clock import utcnow
from autoledger.kit.ids import new_id
from autoledger.kit.settings import Settings
from autoledger.platform.crypto import Keyring, install_keyring
from autoledger.platform.events.envelope import Event
from autoledger.platform.webhooks import service
from autoledger.platform.webhooks.consumers import CONSUMERS
from autoledger.platform.webhooks.tables import WebhookEndpoint
from tests.conftest import TenantKeys, make_settings, make_tenant, postgres_database


@pytest.fixture(scope="package")
async def wh_settings(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    """A fresh, migrated database of the same backend as ``settings``; private targets
    allowed, since the receivers listen on loopback."""
    async with AsyncExitStack() as stack:
        if settings.is_sqlite:
            url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('webhooks') / 'wh.db'}"
        else:
            url = await stack.enter_async_context(postgres_database())
        urls = make_settings(url, settings.data_dir)  # request role + system role on PostgreSQL
        fresh = settings.model_copy(
            update={
                "database_url": urls.database_url,
                "system_database_url": urls.system_database_url,
                "webhook_allow_private_targets": True,
                "embedded_worker": False,
            }
        )
        await asyncio.to_thread(upgrade, fresh)
        yield fresh


@pytest.fixture(scope="package", autouse=True)
def wh_keyring(wh_settings: Settings) -> Iterator[Keyring]:
    """Endpoint secrets are encrypted at rest: a KEK in the test data directory."""
    keyring = Keyring.from_settings(wh_settings)
    previous = install_keyring(keyring)
    yield keyring
    install_keyring(previous)


@pytest.fixture(scope="package")
async def wh_engine(wh_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(system_settings(wh_settings))  # tests arrange data across tenants
    yield engine
    await engine.dispose()


@pytest.fixture(scope="package")
def wh_sessionmaker(wh_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(wh_engine)


@pytest.fixture
async def wh_tenant(wh_sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[TenantKeys]:
    """A fresh tenant; its endpoints (and so its deliveries) are deleted afterwards, so no
    delivery of one test is due in the next."""
    tenant = await make_tenant(wh_sessionmaker)
    yield tenant
    async with wh_sessionmaker() as session:
        for endpoint in await service.list_endpoints(session, tenant.id):
            await service.delete_endpoint(session, tenant.id, endpoint.id)
        await session.commit()


@dataclass
class Clock:
    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    # A little ahead of the wall clock, so deliveries queued "now" are due.
    return Clock(utcnow() + timedelta(seconds=1))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 204
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """A real HTTP server in a thread. Replies with the queued ``Reply`` objects in order,
    then with ``default``; records every request and the most requests seen at once."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = receiver.replies.popleft() if receiver.replies else receiver.default
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                try:
                    time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, *_args: Any) -> None:  # quiet: no access log on stderr
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def make_event(
    tenant_id: uuid.UUID, event_type: str = "ledger.entry.posted.v1", **data: Any
) -> Event:
    return Event(
        id=new_id(),
        source="/autoledger/ledger",
        type=event_type,
        subject=f"entries/{uuid.uuid4()}",
        time=utcnow(),
        tenant=tenant_id,
        partitionkey=f"{tenant_id}/books",
        data=data or {"amount": 100},
    )


async def create_endpoint(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    url: str,
    event_types: list[str] | None = None,
    *,
    enabled: bool = True,
) -> tuple[WebhookEndpoint, str]:
    async with sessionmaker() as session:
        endpoint, secret = await service.create_endpoint(
            session,
            tenant_id,
            url=url,
            description="test",
            event_types=event_types or ["*"],
            enabled=enabled,
            allow_private=True,
        )
        await session.commit()
    return endpoint, secret


async def publish(sessionmaker: async_sessionmaker[AsyncSession], event: Event) -> None:
    """What the fan-out consumer does for one event, in a transaction of its own."""
    async with sessionmaker() as session, session.begin():
        await CONSUMERS[0].handle(session, event)
