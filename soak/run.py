"""One soak run: start the deployment, load it, break it on schedule, drain, check, report.

Progress goes to stderr; the JSON report is the last thing printed on stdout. The exit
status is 1 when an invariant fails (or a fault could not be injected), 2 when the harness
itself could not run.
"""

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from soak import checker, report
from soak.cluster import NAMESPACE, Cluster, make_root, missing_binaries
from soak.faults import Injector, schedule
from soak.load import BANK_CHART, BANK_GL, RECEIVABLE, WALLETS, Api, Book, Load, Stats
from soak.receivers import Receiver

TENANTS = ("soak-a", "soak-b")
DRAIN_TIMEOUT = 180.0


@dataclass(frozen=True)
class Options:
    seconds: float = 180.0
    bus: str = "nats"
    short: bool = False
    clients: int = 12
    keep: bool = False

    @classmethod
    def from_env(cls) -> "Options":
        bus = os.environ.get("SOAK_BUS", "nats")
        if bus not in ("nats", "pubsub"):
            raise SystemExit(f"SOAK_BUS must be nats or pubsub, not {bus!r}")
        return cls(
            seconds=float(os.environ.get("SOAK_SECONDS", "180")),
            bus=bus,
            short=os.environ.get("SOAK_SHORT", "") == "1",
            clients=int(os.environ.get("SOAK_CLIENTS", "12")),
            keep=os.environ.get("SOAK_KEEP", "") == "1",
        )


def say(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _must(
    api: Api, book: Book, path: str, body: dict[str, Any], key: str, method: str = "POST"
) -> Any:
    response = await api.call(book, method, path, body, key)
    if response is None or not response.is_success:
        detail = "no answer" if response is None else f"{response.status_code} {response.text}"
        raise RuntimeError(f"setup {method} {path} failed: {detail}")
    return response.json()


async def set_up(api: Api, books: list[Book], receivers: dict[str, Receiver]) -> None:
    """Per tenant: a ledger, an equity account that funds and wallets that may not go
    negative (the balance constraint under test), the bank flows' chart with 1200 as an
    open-item receivable and a bank account booked on 1110, and webhook endpoints. Tenant A has a
    steady receiver for every entry event and the flaky one for posted entries; tenant B
    its own steady receiver."""
    hooks = {
        TENANTS[0]: [("steady", "ledger.entry.*"), ("flaky", "ledger.entry.posted.v1")],
        TENANTS[1]: [("other", "ledger.entry.*")],
    }
    for book in books:
        ledger = await _must(
            api,
            book,
            "/v1/ledgers",
            {"name": "soak", "base_currency": "USD"},
            f"setup-{book.tenant}",
        )
        book.ledger_id = ledger["id"]
        accounts = (
            [("3000", "Owner funding", "equity", False)]
            + [(f"1{i:03d}", f"Wallet {i}", "liability", True) for i in range(WALLETS)]
            + [(code, name, kind, False) for code, name, kind in BANK_CHART]
        )
        for code, name, kind, guarded in accounts:
            body: dict[str, Any] = {"code": code, "name": name, "type": kind}
            if guarded:
                body["debits_must_not_exceed_credits"] = True
            path = f"/v1/ledgers/{book.ledger_id}/accounts"
            made = await _must(api, book, path, body, f"setup-{book.tenant}-{code}")
            book.accounts[code] = made["id"]
        await _must(
            api,
            book,
            f"/v1/ledgers/{book.ledger_id}/open-item-accounts/{RECEIVABLE}",
            {"role": "receivable"},
            f"setup-{book.tenant}-receivable",
            method="PUT",
        )
        bank = {
            "ledger_id": book.ledger_id,
            "gl_account": BANK_GL,
            "name": "Operating",
            "currency": "USD",
            "account_number": f"US00SOAK{book.tenant.upper()}",
        }
        made = await _must(api, book, "/v1/bank-accounts", bank, f"setup-{book.tenant}-bank")
        book.bank_account_id = made["id"]
        for name, types in hooks.get(book.tenant, []):
            receiver = receivers[name]
            hook = {"url": receiver.url, "event_types": [types]}
            made = await _must(api, book, "/v1/webhooks", hook, f"setup-{book.tenant}-{name}")
            receiver.secret = made["secret"]


async def _backlog(cluster: Cluster) -> dict[str, int]:
    conn = await asyncpg.connect(cluster.owner_dsn, timeout=10)
    try:
        unsent = await conn.fetchval(
            "SELECT coalesce(sum(weight), 0) FROM event_outbox WHERE published_at IS NULL"
        )
        due = await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= now() at time zone 'utc')"
        )
        pending = await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
        )
        imports = await conn.fetchval(
            "SELECT count(*) FROM bank_imports WHERE status IN ('queued', 'processing')"
        )
    finally:
        await conn.close()
    out = {
        "outbox": int(unsent),
        "webhooks_due": int(due),
        "webhooks_pending": int(pending),
        "imports": int(imports),
    }
    if cluster.bus == "nats":
        broker = await checker.broker_pending(f"nats://127.0.0.1:{cluster.broker_port}", NAMESPACE)
        out["broker"] = sum(broker.values())
    return out


async def drain(cluster: Cluster, *, until_no_pending: bool) -> dict[str, int]:
    """Wait until every statement import has finished, the outbox is published, the broker
    has nothing undelivered or unacked and no webhook delivery is due (or, with ``until_no_pending``, none is pending at all)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    polls = 0
    while True:
        try:
            backlog = await _backlog(cluster)
        except (OSError, asyncpg.PostgresError) as exc:
            backlog = {"unreachable": 1}
            say(f"drain: {exc}")
        waiting = {
            k: v for k, v in backlog.items() if v and (until_no_pending or k != "webhooks_pending")
        }
        if not waiting or time.monotonic() > deadline:
            return backlog
        polls += 1
        if polls % 10 == 0:
            say(f"draining: {waiting}")
        await asyncio.sleep(1.0)


async def redeliver_waiting(cluster: Cluster, books: list[Book]) -> int:
    """Deliveries whose next retry is minutes away (the Standard Webhooks schedule: 5 s,
    then 5 min) are sent again now, as an operator would with ``:redeliver`` (an operator's
    requests, not counted with the load's)."""
    conn = await asyncpg.connect(cluster.owner_dsn, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT d.id, t.name FROM webhook_deliveries d JOIN tenants t ON t.id = d.tenant_id "
            "WHERE d.status = 'pending'"
        )
    finally:
        await conn.close()
    by_tenant = {b.tenant: b for b in books}
    count = 0
    api = Api(cluster.api_urls, Stats())
    try:
        for delivery_id, tenant in rows:
            response = await api.call(
                by_tenant[tenant],
                "POST",
                f"/v1/webhook-deliveries/{delivery_id}:redeliver",
                {},
                f"redeliver-{delivery_id}",
            )
            if response is not None and response.is_success:
                count += 1
    finally:
        await api.close()
    return count


async def soak(options: Options) -> dict[str, Any]:
    missing = missing_binaries(options.bus)
    if missing:
        raise RuntimeError(f"missing: {', '.join(missing)}")
    cluster = Cluster(options.bus, make_root(), keep=options.keep)
    receivers = {name: Receiver(name) for name in ("steady", "flaky", "other")}
    stats = Stats()
    api = Api([], stats)
    try:
        for receiver in receivers.values():
            await receiver.start()
        say(f"starting PostgreSQL, {options.bus}, 2 API servers and 2 workers in {cluster.root}")
        await cluster.start(TENANTS)
        api.urls = cluster.api_urls
        books = [Book(t.name, t.api_key) for t in cluster.tenants]
        await set_up(api, books, receivers)

        say(f"load for {options.seconds:.0f} s with {options.clients} clients")
        stats = api.stats = Stats()  # count the load only, not the set-up
        load = Load(api, books)
        # a few invoices before the first statement, so that even a short run's first files
        # carry payments for the matcher (acknowledged writes like any other)
        await asyncio.gather(*(load.invoice(book) for book in books for _ in range(3)))
        stop = asyncio.Event()
        injector = Injector(cluster, receivers["flaky"], started=stats.started)
        faults = schedule(options.seconds, short=options.short, bus=options.bus)
        clients = [asyncio.create_task(load.client(stop)) for _ in range(options.clients)]
        injecting = asyncio.create_task(injector.run(faults, stop))
        await asyncio.sleep(options.seconds)
        stop.set()
        say("load stopped; waiting for writes in flight to get their answer")
        await asyncio.gather(*clients, injecting)

        drain_started = time.monotonic()
        say(f"draining: {await drain(cluster, until_no_pending=False)}")
        redelivered = await redeliver_waiting(cluster, books)
        say(f"redelivered {redelivered} webhook deliveries waiting on a later retry")
        say(f"drained: {await drain(cluster, until_no_pending=True)}")
        drain_seconds = time.monotonic() - drain_started

        say("checking invariants")
        received = {name: r.accepted for name, r in receivers.items()}
        snap = await checker.collect(
            cluster.owner_dsn, received, {r.url: name for name, r in receivers.items()}
        )
        system_url = cluster.owner_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        await checker.collect_events(system_url, snap)
        await checker.verify_chains(system_url, snap)
        if options.bus == "nats":
            snap.broker_pending = await checker.broker_pending(
                f"nats://127.0.0.1:{cluster.broker_port}", NAMESPACE
            )
        invariants = checker.check(snap, load.writes, load.uploads, load.decisions)
        deliveries = sorted(
            t - stats.started for name in ("steady", "other") for t in receivers[name].accepted_at
        )
        return report.build(
            bus=options.bus,
            seconds=options.seconds,
            stats=stats,
            writes=load.writes,
            uploads=load.uploads,
            decisions=load.decisions,
            faults=injector.log,
            deliveries=deliveries,
            invariants=invariants,
            drain_seconds=drain_seconds,
            redelivered=redelivered,
        )
    finally:
        await api.close()
        for receiver in receivers.values():
            await receiver.close()
        say("stopping the deployment")
        await asyncio.to_thread(cluster.close)


async def _until_signalled(options: Options) -> dict[str, Any]:
    """Run the soak; SIGINT or SIGTERM cancels it, which unwinds through every ``finally``:
    the deployment is stopped and its temp dir removed."""
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("not inside a task")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    return await soak(options)


def main() -> int:
    options = Options.from_env()
    try:
        result = asyncio.run(_until_signalled(options))
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted; the deployment was stopped")
        return 130
    except RuntimeError as exc:
        say(f"the soak could not run: {exc}")
        return 2
    print(json.dumps(result, indent=2, sort_keys=False))
    return 0 if result["passed"] else 1
