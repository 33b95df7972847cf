"""The deployment under test, all on 127.0.0.1 and all owned by the harness: a PostgreSQL
cluster of its own (initdb into a temp dir), a TCP proxy in front of it (the slow-database
fault), its own broker (nats-server -js or the Pub/Sub emulator), API servers and workers.

Nothing here touches the shared PostgreSQL on 5432 or the shared NATS on 4222. Every child
process is started in its own process group and stopped by ``Cluster.close`` (also on
Ctrl-C or an exception), and the temp dir is removed.
"""

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess  # the harness runs the service's own binaries, no shell  # nosec B404
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

PG_BIN = Path(os.environ.get("SOAK_PG_BIN", "/usr/lib/postgresql/15/bin"))
NATS_SERVER = Path(os.environ.get("SOAK_NATS_SERVER", "/usr/sbin/nats-server"))
PUBSUB_EMULATOR = Path(
    os.environ.get(
        "SOAK_PUBSUB_EMULATOR",
        "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    )
)
AUTOLEDGER = Path(sys.executable).parent / "autoledger"
KEY = re.compile(r"al_[0-9a-f]{12}_[A-Za-z0-9]{43}")
APP_ROLE = "autoledger_app"  # created by the migrations; row-level security binds it
NAMESPACE = "soak"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def missing_binaries(bus: str) -> list[str]:
    """What this machine lacks to run the soak on ``bus`` (empty: everything is there)."""
    needed = [PG_BIN / "initdb", PG_BIN / "pg_ctl", AUTOLEDGER]
    needed.append(NATS_SERVER if bus == "nats" else PUBSUB_EMULATOR)
    return [str(path) for path in needed if not os.access(path, os.X_OK)]


def _as_postgres() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
    done = subprocess.run(  # fixed argv of known binaries, no shell  # nosec B603
        list(argv), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


class DelayProxy:
    """A TCP proxy that can add latency to every chunk it forwards, in both directions.

    Services reach PostgreSQL through it, so ``delay`` makes every statement slower without
    changing the database (PostgreSQL has no "statement delay" setting); ``drop_all`` cuts
    every open connection, as a network partition does.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.delay = 0.0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_all()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, server_w}
        await asyncio.gather(
            self._pipe(client_r, server_w), self._pipe(server_r, client_w), return_exceptions=True
        )
        for writer in (client_w, server_w):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.transport.abort()


@dataclass
class Service:
    """One child process the harness can kill, pause and start again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.log_dir / f"{self.name}.log").open("ab")
        with log:
            self.process = subprocess.Popen(  # fixed argv, no shell  # nosec B603
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach it alone
            )

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        if self.alive():
            self.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, leases and in-flight work are left as they are."""
        if self.process is not None:
            self.signal(signal.SIGKILL)
            self.process.wait(10)


@dataclass
class Tenant:
    name: str
    api_key: str


@dataclass
class Cluster:
    """The whole deployment; use ``async with Cluster.up(...)``."""

    bus: str
    root: Path
    api_count: int = 2
    worker_count: int = 2
    pg_port: int = 0
    broker_port: int = 0
    proxy: DelayProxy | None = None
    broker: Service | None = None
    apis: list[Service] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)
    api_urls: list[str] = field(default_factory=list)
    tenants: list[Tenant] = field(default_factory=list)
    keep: bool = False  # leave the temp dir (logs, data) for a post-mortem

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def owner_dsn(self) -> str:
        """Direct to PostgreSQL (not through the proxy): the harness's own connection."""
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/autoledger"

    def service_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOLEDGER_")}
        via_proxy = f"127.0.0.1:{self.running_proxy().port}/autoledger"
        env |= {
            "AUTOLEDGER_SYSTEM_DATABASE_URL": f"postgresql+asyncpg://postgres@{via_proxy}",
            "AUTOLEDGER_DATABASE_URL": f"postgresql+asyncpg://{APP_ROLE}@{via_proxy}",
            "AUTOLEDGER_DATA_DIR": str(self.root / "data"),  # one key-encryption key for all
            "AUTOLEDGER_BUS": self.bus,
            "AUTOLEDGER_BUS_NAMESPACE": NAMESPACE,
            "AUTOLEDGER_EMBEDDED_WORKER": "false",
            "AUTOLEDGER_LOG_LEVEL": "warning",
            "AUTOLEDGER_LOG_FORMAT": "json",
            "AUTOLEDGER_DB_POOL_SIZE": "6",
            "AUTOLEDGER_DB_MAX_OVERFLOW": "6",
            "AUTOLEDGER_RATE_LIMIT_PER_SECOND": "100000",
            "AUTOLEDGER_RATE_LIMIT_BURST": "100000",
            "AUTOLEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "AUTOLEDGER_WEBHOOK_TIMEOUT_SECONDS": "2",
            "AUTOLEDGER_IDEMPOTENCY_LEASE_SECONDS": "15",
            "AUTOLEDGER_RELAY_LEASE_SECONDS": "10",
            "AUTOLEDGER_CONSUMER_ACK_WAIT_SECONDS": "10",
            "AUTOLEDGER_CONSUMER_BACKOFF_MAX_SECONDS": "5",
            "AUTOLEDGER_CONSUMER_MAX_ATTEMPTS": "20",
            "AUTOLEDGER_API_KEY_CACHE_SECONDS": "30",
            "AUTOLEDGER_REQUEST_TIMEOUT_SECONDS": "20",
            # every statement import goes to the import worker (a queued import, 202), the
            # path that crashes and leases are about, rather than into the request
            "AUTOLEDGER_IMPORT_INLINE_MAX_BYTES": "0",
            "PYTHONUNBUFFERED": "1",
        }
        if self.bus == "nats":
            env["AUTOLEDGER_NATS_URL"] = f"nats://127.0.0.1:{self.broker_port}"
        else:
            env["AUTOLEDGER_PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{self.broker_port}"
            env["AUTOLEDGER_PUBSUB_PROJECT"] = "soak-local"
        return env

    def running_broker(self) -> Service:
        if self.broker is None:
            raise RuntimeError("the broker is not started")
        return self.broker

    def running_proxy(self) -> DelayProxy:
        if self.proxy is None:
            raise RuntimeError("the database proxy is not started")
        return self.proxy

    # PostgreSQL ---------------------------------------------------------------------------

    def _init_postgres(self) -> None:
        self.pgdata.mkdir()
        (self.root / "pgsock").mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            for path in (self.pgdata, self.root / "pgsock"):
                shutil.chown(path, "postgres", "postgres")
        _run(
            [
                *_as_postgres(),
                str(PG_BIN / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )

    def start_postgres(self) -> None:
        options = " ".join(
            [
                f"-p {self.pg_port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root / 'pgsock'}",
                "-c max_connections=300",
                "-c shared_buffers=128MB",
                "-c fsync=on",
            ]
        )
        _run(
            [
                *_as_postgres(),
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.root / "postgres.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop_postgres(self, mode: str = "fast") -> None:
        _run(
            [
                *_as_postgres(),
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-m",
                mode,
                "-w",
                "-t",
                "60",
                "stop",
            ]
        )

    # broker -------------------------------------------------------------------------------

    def _broker_service(self) -> Service:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOLEDGER_")}
        if self.bus == "nats":
            argv = [
                str(NATS_SERVER),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.broker_port),
                "-js",
                "-sd",
                str(self.root / "nats"),
            ]
        else:
            argv = [str(PUBSUB_EMULATOR), "--host=127.0.0.1", f"--port={self.broker_port}"]
        return Service("broker", argv, env, self.root / "logs")

    async def wait_broker(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.broker_port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            writer.close()
            return
        raise RuntimeError(f"the broker did not listen on {self.broker_port} in {timeout} s")

    # autoledger processes -----------------------------------------------------------------

    def _cli(self, *args: str) -> str:
        return _run([str(AUTOLEDGER), *args], env=self.service_env())

    def _api_service(self, index: int, port: int) -> Service:
        argv = [str(AUTOLEDGER), "serve", "--port", str(port), "--no-bootstrap"]
        return Service(f"api{index}", argv, self.service_env(), self.root / "logs")

    def _worker_service(self, index: int) -> Service:
        argv = [str(AUTOLEDGER), "worker"]
        return Service(f"worker{index}", argv, self.service_env(), self.root / "logs")

    async def wait_ready(self, url: str, service: Service, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as http:
            while time.monotonic() < deadline:
                if not service.alive():
                    raise RuntimeError(f"{service.name} exited; see {self.root / 'logs'}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{service.name} was not ready within {timeout} s")

    async def restart_api(self, index: int, timeout: float = 180) -> None:
        """Start a killed API process again; if it exits while starting (the database may be
        restarting too), start it again until the deadline."""
        service = self.apis[index]
        deadline = time.monotonic() + timeout
        while True:
            service.start()
            try:
                await self.wait_ready(self.api_urls[index], service, deadline - time.monotonic())
                return
            except RuntimeError:
                if time.monotonic() >= deadline:
                    raise
                service.stop()
                await asyncio.sleep(1.0)

    async def start(self, tenant_names: Sequence[str]) -> None:
        (self.root / "logs").mkdir()
        (self.root / "data").mkdir()
        self.pg_port, self.broker_port = free_port(), free_port()
        await asyncio.to_thread(self._init_postgres)
        await asyncio.to_thread(self.start_postgres)
        admin = await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres", timeout=10
        )
        try:
            await admin.execute("CREATE DATABASE autoledger")
        finally:
            await admin.close()
        self.proxy = DelayProxy(self.pg_port)
        await self.proxy.start()
        self.broker = self._broker_service()
        self.broker.start()
        await self.wait_broker()
        await asyncio.to_thread(self._cli, "migrate")
        for name in tenant_names:
            await asyncio.to_thread(self._cli, "tenants", "create", name)
            out = await asyncio.to_thread(
                self._cli, "keys", "create", "--tenant", name, "--roles", "admin", "--name", "soak"
            )
            found = KEY.findall(out)
            if len(found) != 1:
                raise RuntimeError(f"no API key in the output of keys create: {out!r}")
            self.tenants.append(Tenant(name, found[0]))
        for index in range(self.api_count):
            port = free_port()
            self.api_urls.append(f"http://127.0.0.1:{port}")
            self.apis.append(self._api_service(index, port))
        self.workers = [self._worker_service(i) for i in range(self.worker_count)]
        for service in [*self.apis, *self.workers]:
            service.start()
        for url, service in zip(self.api_urls, self.apis, strict=True):
            await self.wait_ready(url, service)

    def close(self) -> None:
        """Stop everything the harness started; safe to call twice and after a failure."""
        for service in [*self.apis, *self.workers]:
            with contextlib.suppress(Exception):
                service.stop()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                self.broker.stop()
        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self.stop_postgres("immediate")
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def make_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="autoledger-soak-"))
