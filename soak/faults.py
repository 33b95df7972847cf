"""Faults on a schedule. Each is injected at its time, lasts its duration (instant faults:
until the harness has restarted what it killed) and is logged with both times; recovery is
measured afterwards from what clients and receivers saw (see ``report.recovery_seconds``).
"""

import asyncio
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from soak.cluster import Cluster
from soak.receivers import Mode, Receiver

FaultName = Literal[
    "kill_api",
    "kill_worker",
    "restart_postgres",
    "restart_broker",
    "webhook_errors",
    "webhook_timeouts",
    "stall_broker",
    "slow_database",
]
# What tells that the system is working again after a fault: a write acknowledged to a
# client, or a webhook accepted by a healthy receiver (the event path end to end).
RECOVERY_SIGNAL: dict[FaultName, Literal["write", "delivery"]] = {
    "kill_api": "write",
    "kill_worker": "delivery",
    "restart_postgres": "write",
    "restart_broker": "delivery",
    "webhook_errors": "delivery",
    "webhook_timeouts": "delivery",
    "stall_broker": "delivery",
    "slow_database": "write",
}
SLOW_DATABASE_DELAY = 0.05  # seconds added to every chunk each way through the proxy


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the load started
    name: FaultName
    duration: float = 0.0


@dataclass
class Injected:
    name: FaultName
    started: float  # seconds after the load started
    ended: float
    detail: str = ""
    error: str | None = None


def schedule(seconds: float, *, short: bool, bus: str) -> list[Fault]:
    """The faults of a run of ``seconds``: spread over its first 85 %, so the last one
    has time to recover under load. The short run keeps one of each kind of damage."""
    if short:
        plan: list[tuple[float, FaultName, float]] = [
            (0.15, "kill_api", 0),
            (0.30, "kill_worker", 0),
            (0.45, "restart_postgres", 0),
            (0.60, "webhook_errors", 0.12),
            (0.75, "stall_broker", 0.1),
        ]
    else:
        plan = [
            (0.06, "kill_api", 0),
            (0.14, "kill_worker", 0),
            (0.22, "restart_postgres", 0),
            (0.32, "restart_broker", 0),
            (0.42, "webhook_errors", 0.08),
            (0.52, "stall_broker", 0.06),
            (0.62, "slow_database", 0.08),
            (0.72, "webhook_timeouts", 0.06),
            (0.80, "kill_api", 0),
            (0.85, "kill_worker", 0),
        ]
    faults = [Fault(round(seconds * at, 1), name, round(seconds * d, 1)) for at, name, d in plan]
    if bus == "pubsub":
        # The emulator keeps topics, subscriptions and messages in memory only: restarting it
        # loses them by design, which is not a fault a real Pub/Sub has.
        faults = [f for f in faults if f.name != "restart_broker"]
    return faults


@dataclass
class Injector:
    cluster: Cluster
    flaky: Receiver
    started: float = field(default_factory=time.monotonic)
    log: list[Injected] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)  # kills so far, per role

    def _now(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def _say(self, message: str) -> None:
        print(f"[soak {self._now():7.1f}s] {message}", file=sys.stderr, flush=True)

    async def run(self, faults: list[Fault], stop: asyncio.Event) -> None:
        """Each fault at its own time, whatever the others are doing (a restart that takes
        long does not push the schedule); faults not yet due when the load stops are skipped,
        those under way run to their end."""
        await asyncio.gather(*(self._at(fault, stop) for fault in faults))

    async def _at(self, fault: Fault, stop: asyncio.Event) -> None:
        wait = fault.at - (time.monotonic() - self.started)
        if wait > 0:
            try:
                await asyncio.wait_for(stop.wait(), wait)
                return
            except TimeoutError:
                pass
        if stop.is_set():
            return
        started = self._now()
        self._say(f"fault {fault.name} injected")
        record = Injected(fault.name, started, started)
        try:
            record.detail = await self.inject(fault)
        except Exception as exc:  # a fault that could not be injected is reported
            record.error = f"{type(exc).__name__}: {exc}"
        record.ended = self._now()
        self._say(f"fault {fault.name} over ({record.detail or record.error})")
        self.log.append(record)

    async def inject(self, fault: Fault) -> str:
        cluster = self.cluster
        match fault.name:
            case "kill_api":
                index = self.kills["api"] % len(cluster.apis)
                self.kills["api"] += 1
                service = cluster.apis[index]
                pid = service.pid
                service.kill()
                await cluster.restart_api(index)
                return f"SIGKILL {service.name} (pid {pid}), restarted"
            case "kill_worker":
                index = self.kills["worker"] % len(cluster.workers)
                self.kills["worker"] += 1
                service = cluster.workers[index]
                pid = service.pid
                service.kill()
                service.start()
                return f"SIGKILL {service.name} (pid {pid}), restarted"
            case "restart_postgres":
                await asyncio.to_thread(cluster.stop_postgres, "fast")
                await asyncio.to_thread(cluster.start_postgres)
                return "pg_ctl stop -m fast, then start"
            case "restart_broker":
                broker = cluster.running_broker()
                broker.stop()
                broker.start()
                await cluster.wait_broker()
                return "nats-server SIGTERM, then started on the same store"
            case "stall_broker":
                broker = cluster.running_broker()
                broker.signal(signal.SIGSTOP)
                try:
                    await asyncio.sleep(fault.duration)
                finally:
                    broker.signal(signal.SIGCONT)
                return f"broker SIGSTOP for {fault.duration} s, then SIGCONT"
            case "slow_database":
                proxy = cluster.running_proxy()
                proxy.delay = SLOW_DATABASE_DELAY
                try:
                    await asyncio.sleep(fault.duration)
                finally:
                    proxy.delay = 0.0
                return f"+{SLOW_DATABASE_DELAY * 1000:.0f} ms per round trip leg for {fault.duration} s"
            case "webhook_errors" | "webhook_timeouts":
                mode: Mode = "error" if fault.name == "webhook_errors" else "timeout"
                self.flaky.mode = mode
                await asyncio.sleep(fault.duration)
                self.flaky.mode = "ok"
                return f"receiver {self.flaky.name} answers {mode} for {fault.duration} s"
