"""Ledger throughput on PostgreSQL: the engine alone, single-entry HTTP and batch HTTP.

Run ``python -m bench.ledger`` (or ``make bench-ledger``). It creates a throw-away database
``autoledger_bench_<random>`` on the server named by ``BENCH_PG`` (default
``postgres@127.0.0.1:5432``, trust auth), migrates it, opens 1,000 accounts, measures, and
drops the database. Progress goes to stderr; the last line of stdout is one JSON object.

Every entry has two postings between two distinct accounts picked at random among the 1,000
(no balance constraints, so nothing is refused). Measured:

* engine: ``journal.execute`` directly in groups of ``GROUP`` commands per transaction, and
  ``JournalWriter.submit`` from many concurrent coroutines (the path HTTP requests take);
* single HTTP: the real server (``autoledger serve``) with 1 and 2 workers, 64 keep-alive
  connections in one load-generator process (a minimal raw HTTP/1.1 client: httpx costs
  more CPU than the server on a 2-core box), one entry per request, counting 201s only;
* batch HTTP: ``entries:batch`` with 1,000 entries per request, atomic, a few clients.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench.common import machine_info

ACCOUNTS = 1_000
GROUP = 500
SINGLE_TARGET = 3_000.0
BATCH_TARGET = 20_000.0
REPO = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    common.say("bench.ledger", message)


# --------------------------------------------------------------------------- database
@dataclass
class Fixture:
    url: str
    tenant_id: uuid.UUID
    ledger_id: uuid.UUID
    codes: list[str]
    api_key: str


async def create_database(admin_dsn: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        version = await conn.fetchval("show server_version")
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return str(version)


async def drop_database(admin_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


async def prepare(url: str) -> Fixture:
    from autoledger.db import migrate
    from autoledger.db.engine import create_engine, create_sessionmaker
    from autoledger.kit.settings import Settings
    from autoledger.ledger import service
    from autoledger.ledger.types import AccountType
    from autoledger.platform.auth import service as auth
    from autoledger.platform.auth.roles import Role

    settings = Settings(database_url=url)
    await migrate.upgrade_async(settings)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    codes = [f"acct-{i:04d}" for i in range(ACCOUNTS)]
    try:
        async with sessionmaker() as session:
            tenant = await auth.create_tenant(session, "bench")
            _, key = await auth.create_api_key(session, tenant.id, name="bench", roles=[Role.ADMIN])
            ledger = await service.create_ledger(
                session, tenant.id, name="bench", base_currency="USD", metadata={}
            )
            for code in codes:
                await service.create_account(
                    session, tenant.id, ledger.id, code=code, name=code, type=AccountType.ASSET
                )
            await session.commit()
            return Fixture(url, tenant.id, ledger.id, codes, key)
    finally:
        await engine.dispose()


def pair(codes: list[str], rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(codes, 2)
    return a, b


def entry_body(codes: list[str], rng: random.Random) -> dict[str, Any]:
    debit, credit = pair(codes, rng)
    amount = f"{rng.randint(1, 99_999) / 100:.2f}"
    return {
        "postings": [
            {"account": debit, "direction": "debit", "amount": amount, "asset": "USD"},
            {"account": credit, "direction": "credit", "amount": amount, "asset": "USD"},
        ]
    }


# --------------------------------------------------------------------------- engine
async def bench_engine(fx: Fixture, group_txns: int, writer_seconds: float) -> dict[str, Any]:
    from autoledger.db.engine import create_engine, create_sessionmaker
    from autoledger.kit.errors import AutoledgerError
    from autoledger.kit.settings import Settings
    from autoledger.ledger import journal
    from autoledger.ledger.commands import CreateEntry, PostingInput
    from autoledger.ledger.types import Direction
    from autoledger.ledger.writer import JournalWriter

    rng = random.Random(1)

    def command() -> CreateEntry:
        debit, credit = pair(fx.codes, rng)
        amount = f"{rng.randint(1, 99_999) / 100:.2f}"
        return CreateEntry(
            tenant_id=fx.tenant_id,
            ledger_id=fx.ledger_id,
            postings=(
                PostingInput(debit, Direction.DEBIT, amount, "USD"),
                PostingInput(credit, Direction.CREDIT, amount, "USD"),
            ),
            actor="bench",
        )

    settings = Settings(database_url=fx.url)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    result: dict[str, Any] = {}
    try:
        # warm-up: one group (also creates the balance rows)
        async with sessionmaker() as session:
            await journal.execute(session, [command() for _ in range(GROUP)])
            await session.commit()

        say(f"engine: journal.execute, {group_txns} transactions x {GROUP} commands")
        groups = [[command() for _ in range(GROUP)] for _ in range(group_txns)]
        failed = 0
        start = time.perf_counter()
        for cmds in groups:
            async with sessionmaker() as session:
                outcomes = await journal.execute(session, cmds)
                await session.commit()
            failed += sum(isinstance(o, AutoledgerError) for o in outcomes)
        elapsed = time.perf_counter() - start
        done = group_txns * GROUP - failed
        result["engine_group_entries_per_s"] = round(done / elapsed, 1)
        result["engine_group_ms_per_txn"] = round(elapsed / group_txns * 1000, 1)
        say(f"engine group: {done / elapsed:,.0f} entries/s ({failed} failed)")

        say(f"engine: JournalWriter.submit, 512 coroutines, {writer_seconds:.0f} s")
        writer = JournalWriter(sessionmaker, max_group=settings.writer_max_group)
        await writer.start()
        stop_at = 0.0
        counts = Counter[str]()

        async def client() -> None:
            while time.perf_counter() < stop_at:
                outcome = await writer.submit(command())
                counts["error" if isinstance(outcome, AutoledgerError) else "ok"] += 1

        stop_at = time.perf_counter() + 1.0  # warm-up
        await asyncio.gather(*(client() for _ in range(512)))
        counts.clear()
        g0, c0 = writer.groups, writer.commands
        start = time.perf_counter()
        stop_at = start + writer_seconds
        await asyncio.gather(*(client() for _ in range(512)))
        elapsed = time.perf_counter() - start
        await writer.stop()
        groups_n = writer.groups - g0
        result["engine_writer_entries_per_s"] = round(counts["ok"] / elapsed, 1)
        result["engine_writer_mean_group"] = round((writer.commands - c0) / max(groups_n, 1), 1)
        result["engine_writer_errors"] = counts["error"]
        result["engine_entries_per_s"] = result["engine_writer_entries_per_s"]
        say(
            f"engine writer: {counts['ok'] / elapsed:,.0f} entries/s, "
            f"mean group {result['engine_writer_mean_group']}"
        )
    finally:
        await engine.dispose()
    return result


async def profile_engine(fx: Fixture, txns: int) -> list[dict[str, Any]]:
    """cProfile of ``journal.execute`` + commit in groups: the top cumulative costs."""
    import cProfile
    import pstats

    from autoledger.db.engine import create_engine, create_sessionmaker
    from autoledger.kit.settings import Settings
    from autoledger.ledger import journal
    from autoledger.ledger.commands import CreateEntry, PostingInput
    from autoledger.ledger.types import Direction

    rng = random.Random(2)
    engine = create_engine(Settings(database_url=fx.url))
    sessionmaker = create_sessionmaker(engine)
    groups = []
    for _ in range(txns):
        cmds = []
        for _ in range(GROUP):
            debit, credit = pair(fx.codes, rng)
            cmds.append(
                CreateEntry(
                    fx.tenant_id,
                    fx.ledger_id,
                    (
                        PostingInput(debit, Direction.DEBIT, "1.00", "USD"),
                        PostingInput(credit, Direction.CREDIT, "1.00", "USD"),
                    ),
                    "bench",
                )
            )
        groups.append(cmds)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        for cmds in groups:
            async with sessionmaker() as session:
                await journal.execute(session, cmds)
                await session.commit()
        profiler.disable()
    finally:
        await engine.dispose()
    stats = pstats.Stats(profiler)
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_cc, _nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((ct, tt, f"{Path(filename).name}:{line}:{name}"))
    rows.sort(reverse=True)
    return [
        {"fn": fn, "cum_pct": round(ct / total * 100, 1), "self_pct": round(tt / total * 100, 1)}
        for ct, tt, fn in rows[:40]
    ]


async def discard_outbox(fx: Fixture) -> None:
    """Mark the engine phases' events as published. They were written with no relay running
    (the engine is measured alone); left unsent, the server's relay would start the HTTP
    phases with tens of thousands of rows of backlog to publish, which a live system, whose
    relay keeps up, never has."""
    import asyncpg

    conn = await asyncpg.connect(fx.url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        done = await conn.execute(
            "UPDATE event_outbox SET published_at = now() WHERE published_at IS NULL"
        )
    finally:
        await conn.close()
    say(f"engine events marked published ({done.split()[-1]} rows)")


# --------------------------------------------------------------------------- HTTP server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str, workers: int, extra_env: dict[str, str]) -> None:
        self.port = free_port()
        self.workers = workers
        env = (
            os.environ
            | extra_env
            | {
                "AUTOLEDGER_DATABASE_URL": url,
                "AUTOLEDGER_LOG_LEVEL": "warning",
                # one key drives the whole load: lift the per-key rate limit out of the way
                "AUTOLEDGER_RATE_LIMIT_PER_SECOND": "1000000",
                "AUTOLEDGER_RATE_LIMIT_BURST": "1000000",
                "AUTOLEDGER_WORKERS": str(workers),
                "AUTOLEDGER_PORT": str(self.port),
                "AUTOLEDGER_HOST": "127.0.0.1",
            }
        )
        exe = Path(sys.executable).parent / "autoledger"
        self.proc = subprocess.Popen(
            [str(exe), "serve"], env=env, cwd=REPO, stdout=sys.stderr, stderr=sys.stderr
        )

    async def ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                conn = RawConnection("127.0.0.1", self.port)
                await conn.open()
                status, _ = await conn.request(b"GET", "/healthz", b"", {})
                await conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class RawConnection:
    """One keep-alive HTTP/1.1 connection: enough protocol for this server, little CPU."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**24)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None

    async def request(
        self, method: bytes, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None
        assert self.reader is not None
        head = [f"{method.decode()} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            payload = b"".join(parts)
        else:
            payload = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, payload


# --------------------------------------------------------------------------- load
@dataclass
class LoadResult:
    ok: int = 0
    entries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu_s: float = 0.0


async def run_load(
    port: int,
    fx: Fixture,
    *,
    clients: int,
    warmup: float,
    duration: float,
    batch: int,
    seed: int,
) -> LoadResult:
    """``clients`` connections, each sending back-to-back requests; measured after ``warmup``."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {fx.api_key}", "Content-Type": "application/json"}
    if batch:
        path, ok_status = f"/v1/ledgers/{fx.ledger_id}/entries:batch", 200
    else:
        path, ok_status = f"/v1/ledgers/{fx.ledger_id}/entries", 201
    result = LoadResult()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    measure_from, stop_at = t0 + warmup, t0 + warmup + duration

    def body() -> bytes:
        if batch:
            entries = [entry_body(fx.codes, rng) for _ in range(batch)]
            return json.dumps({"entries": entries, "atomic": True}).encode()
        return json.dumps(entry_body(fx.codes, rng)).encode()

    async def client(i: int) -> None:
        # Ramp up over ~0.5 s: a cold server authenticates the first requests against the
        # database, and a burst of them all at once can starve the writer of connections.
        await asyncio.sleep(min(warmup, 0.5) * i / clients)
        conn = RawConnection("127.0.0.1", port)
        await conn.open()
        try:
            while True:
                payload = body()
                sent = loop.time()
                if sent >= stop_at:
                    return
                try:
                    status, _ = await conn.request(b"POST", path, payload, headers)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    status = 0
                    result.statuses[type(exc).__name__] += 1
                    await conn.close()
                    await asyncio.sleep(0.05)
                done = loop.time()
                if sent < measure_from or done > stop_at:
                    continue  # warm-up, or finished after the window
                if status:
                    result.statuses[str(status)] += 1
                if status == ok_status:
                    result.ok += 1
                    result.entries += batch or 1
                    result.latencies_ms.append((done - sent) * 1000)
        finally:
            await conn.close()

    await asyncio.sleep(0)
    cpu0 = time.process_time()
    await asyncio.gather(*(client(i) for i in range(clients)))
    result.elapsed = duration
    result.cpu_s = time.process_time() - cpu0
    return result


def _load_process(args: dict[str, Any]) -> dict[str, Any]:
    fx = Fixture(**args.pop("fx"))
    return _as_dict(asyncio.run(run_load(fx=fx, **args)))


def _as_dict(res: LoadResult) -> dict[str, Any]:
    return {
        "ok": res.ok,
        "entries": res.entries,
        "statuses": dict(res.statuses),
        "latencies_ms": res.latencies_ms,
        "cpu_s": res.cpu_s,
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(
    port: int,
    fx: Fixture,
    *,
    clients: int,
    warmup: float,
    duration: float,
    batch: int,
    generators: int,
) -> dict[str, Any]:
    """Run the load in ``generators`` processes (clients split between them)."""
    import concurrent.futures
    import multiprocessing

    fx_args = {
        "url": fx.url,
        "tenant_id": fx.tenant_id,
        "ledger_id": fx.ledger_id,
        "codes": fx.codes,
        "api_key": fx.api_key,
    }
    if generators == 1:
        parts = [
            _as_dict(
                await run_load(
                    port,
                    fx,
                    clients=clients,
                    warmup=warmup,
                    duration=duration,
                    batch=batch,
                    seed=7,
                )
            )
        ]
    else:
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(generators, mp_context=ctx) as pool:
            futures = [
                asyncio.wrap_future(
                    pool.submit(
                        _load_process,
                        {
                            "port": port,
                            "fx": fx_args,
                            "clients": clients // generators,
                            "warmup": warmup,
                            "duration": duration,
                            "batch": batch,
                            "seed": 7 + g,
                        },
                    )
                )
                for g in range(generators)
            ]
            parts = list(await asyncio.gather(*futures))
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    entries = ok = 0
    cpu = 0.0
    for part in parts:
        statuses.update(part["statuses"])
        latencies += part["latencies_ms"]
        entries += part["entries"]
        ok += part["ok"]
        cpu += part["cpu_s"]
    return {
        "entries_per_s": round(entries / duration, 1),
        "requests_per_s": round(ok / duration, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "statuses": dict(statuses),
        "errors": {k: v for k, v in statuses.items() if k != ("200" if batch else "201")},
        "generator_processes": generators,
        "generator_cpu_pct_of_one_core": round(cpu / duration / generators * 100, 1),
    }


async def warm_principal_cache(port: int, fx: Fixture) -> None:
    """One authenticated request per fresh connection, one at a time, so each worker caches
    the API key before the load starts (see the pool-starvation note in docs/benchmarks.md)."""
    headers = {"Authorization": f"Bearer {fx.api_key}"}
    for _ in range(16):
        conn = RawConnection("127.0.0.1", port)
        await conn.open()
        await conn.request(b"GET", f"/v1/ledgers/{fx.ledger_id}", b"", headers)
        await conn.close()


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its children (uvicorn workers)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def postgres_cpu() -> float:
    """CPU seconds of all ``postgres`` processes (a rough share of the box)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        if name.startswith("postgres"):
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def bench_http(fx: Fixture, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for workers in args.workers:
        extra = dict(item.split("=", 1) for item in args.server_env)
        server = Server(fx.url, workers, extra)
        try:
            await server.ready()
            await warm_principal_cache(server.port, fx)
            say(
                f"HTTP workers={workers}: single, {args.clients} connections, "
                f"{args.generators} generator(s), {args.warmup:.0f}+{args.duration:.0f} s"
            )
            cpu0, pg0, t0 = server_cpu(server.proc.pid), postgres_cpu(), time.perf_counter()
            single = await load(
                server.port,
                fx,
                clients=args.clients,
                warmup=args.warmup,
                duration=args.duration,
                batch=0,
                generators=args.generators,
            )
            wall = time.perf_counter() - t0
            single["server_cpu_pct_of_one_core"] = round(
                (server_cpu(server.proc.pid) - cpu0) / wall * 100, 1
            )
            single["postgres_cpu_pct_of_one_core"] = round((postgres_cpu() - pg0) / wall * 100, 1)
            say(
                f"  single: {single['entries_per_s']:,.0f} entries/s, "
                f"p99 {single['p99_ms']} ms, errors {single['errors']}, "
                f"cpu gen {single['generator_cpu_pct_of_one_core']}% "
                f"server {single['server_cpu_pct_of_one_core']}% "
                f"pg {single['postgres_cpu_pct_of_one_core']}%"
            )
            say(f"HTTP workers={workers}: batch of {args.batch_size}, {args.batch_clients} clients")
            cpu0, pg0, t0 = server_cpu(server.proc.pid), postgres_cpu(), time.perf_counter()
            batch = await load(
                server.port,
                fx,
                clients=args.batch_clients,
                warmup=args.batch_warmup,
                duration=args.batch_duration,
                batch=args.batch_size,
                generators=1,
            )
            wall = time.perf_counter() - t0
            batch["server_cpu_pct_of_one_core"] = round(
                (server_cpu(server.proc.pid) - cpu0) / wall * 100, 1
            )
            batch["postgres_cpu_pct_of_one_core"] = round((postgres_cpu() - pg0) / wall * 100, 1)
            say(
                f"  batch: {batch['entries_per_s']:,.0f} entries/s, "
                f"p99 {batch['p99_ms']} ms per request, errors {batch['errors']}"
            )
        finally:
            server.stop()
        out[f"workers_{workers}"] = {"single": single, "batch": batch}
    return out


# --------------------------------------------------------------------------- main
async def main(args: argparse.Namespace) -> dict[str, Any]:
    base = os.environ.get("BENCH_PG", "postgres@127.0.0.1:5432")
    name = f"autoledger_bench_{secrets.token_hex(4)}"
    admin_dsn = f"postgresql://{base}/postgres"
    url = f"postgresql+asyncpg://{base}/{name}"
    started = time.perf_counter()
    say(f"creating database {name}")
    pg_version = await create_database(admin_dsn, name)
    result: dict[str, Any] = {"benchmark": "ledger", "machine": machine_info(pg_version)}
    try:
        t = time.perf_counter()
        fx = await prepare(url)
        say(f"migrated, tenant + ledger + {ACCOUNTS} accounts in {time.perf_counter() - t:.1f} s")
        result["setup"] = {
            "accounts": ACCOUNTS,
            "postings_per_entry": 2,
            "group_size": GROUP,
            "single_clients": args.clients,
            "single_generators": args.generators,
            "single_seconds": args.duration,
            "warmup_seconds": args.warmup,
            "batch_size": args.batch_size,
            "batch_clients": args.batch_clients,
            "batch_seconds": args.batch_duration,
            "server_env": args.server_env,
        }
        if not args.skip_engine:
            result |= await bench_engine(fx, args.group_txns, args.writer_seconds)
        if args.profile:
            say("profiling journal.execute (cProfile)")
            result["engine_profile_top"] = await profile_engine(fx, 6)
        if not args.skip_engine or args.profile:
            await discard_outbox(fx)
        if not args.skip_http:
            http = await bench_http(fx, args)
            result["http"] = http
            best_single = max(http.values(), key=lambda r: r["single"]["entries_per_s"])
            best_batch = max(http.values(), key=lambda r: r["batch"]["entries_per_s"])
            single_key = next(k for k, v in http.items() if v is best_single)
            result["single_http_entries_per_s"] = best_single["single"]["entries_per_s"]
            result["single_http_p99_ms"] = best_single["single"]["p99_ms"]
            result["single_http_best_workers"] = int(single_key.split("_")[1])
            result["batch_http_entries_per_s"] = best_batch["batch"]["entries_per_s"]
            result["batch_http_best_workers"] = int(
                next(k for k, v in http.items() if v is best_batch).split("_")[1]
            )
            result["targets"] = {
                "single_http_entries_per_s": {
                    "target": SINGLE_TARGET,
                    "met": result["single_http_entries_per_s"] >= SINGLE_TARGET,
                },
                "batch_http_entries_per_s": {
                    "target": BATCH_TARGET,
                    "met": result["batch_http_entries_per_s"] >= BATCH_TARGET,
                },
            }
    finally:
        say(f"dropping database {name}")
        await drop_database(admin_dsn, name)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--generators", type=int, default=1, help="load-generator processes")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--batch-clients", type=int, default=3)
    p.add_argument("--batch-warmup", type=float, default=2.0)
    p.add_argument("--batch-duration", type=float, default=12.0)
    p.add_argument("--group-txns", type=int, default=20)
    p.add_argument("--writer-seconds", type=float, default=8.0)
    p.add_argument(
        "--server-env",
        nargs="*",
        default=["AUTOLEDGER_API_KEY_CACHE_SECONDS=3600"],
        metavar="NAME=VALUE",
        help="extra server settings; the default keeps the key cache from expiring mid-run",
    )
    p.add_argument("--profile", action="store_true", help="add a cProfile of the engine path")
    p.add_argument("--skip-engine", action="store_true")
    p.add_argument("--skip-http", action="store_true")
    return p.parse_args(argv)


def run(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(main(args))
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    run()
