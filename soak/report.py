"""The JSON report: pure functions over what the load, the injector and the checker saw."""

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from soak.checker import Invariant
from soak.faults import RECOVERY_SIGNAL, Injected
from soak.load import Decision, Stats, Upload, Write


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def throughput(ack_times: Iterable[float], seconds: float, bucket: float) -> list[dict[str, Any]]:
    """Acknowledged writes per second, per ``bucket`` seconds from the start of the load."""
    counts: Counter[int] = Counter(int(t // bucket) for t in ack_times if t < seconds)
    return [
        {"t": round(i * bucket, 1), "acked_per_s": round(counts[i] / bucket, 1)}
        for i in range(int(-(-seconds // bucket)))
    ]


def recovery_seconds(
    fault: Injected, ack_times: Sequence[float], deliveries: Sequence[float]
) -> float | None:
    """Seconds from the end of a fault to the first sign that the path it broke works again
    (a write acknowledged, or a webhook accepted by a healthy receiver); None if none came."""
    signals = ack_times if RECOVERY_SIGNAL[fault.name] == "write" else deliveries
    after = [t for t in signals if t >= fault.ended]
    return round(min(after) - fault.ended, 3) if after else None


def build(
    *,
    bus: str,
    seconds: float,
    stats: Stats,
    writes: Sequence[Write],
    faults: Sequence[Injected],
    deliveries: Sequence[float],
    invariants: Sequence[Invariant],
    drain_seconds: float,
    redelivered: int,
    uploads: Sequence[Upload] = (),
    decisions: Sequence[Decision] = (),
) -> dict[str, Any]:
    outcomes = Counter(w.outcome for w in writes)
    kinds = Counter(w.kind for w in writes)
    by_status = dict(sorted(stats.by_status.items()))
    ok = sum(n for status, n in by_status.items() if status.startswith("2"))
    return {
        "bus": bus,
        "duration_s": seconds,
        "requests": {
            "sent": sum(by_status.values()),
            "acknowledged": ok,
            "failed": sum(by_status.values()) - ok,
            "by_status": by_status,
            "reads": stats.reads,
        },
        "writes": {
            "total": len(writes),
            "acked": outcomes["acked"],
            "rejected": outcomes["rejected"],
            "unknown": outcomes["unknown"],
            "by_kind": dict(sorted(kinds.items())),
            "retried": sum(1 for w in writes if w.attempts > 1),
        },
        "bank": {
            "uploads": dict(sorted(Counter(f"{u.how}_{u.outcome}" for u in uploads).items())),
            "uploads_retried": sum(1 for u in uploads if u.attempts > 1),
            "lines_generated": len({r for u in uploads for r in u.references}),
            "decisions": dict(sorted(Counter(f"{d.kind}_{d.outcome}" for d in decisions).items())),
            "decision_attempts": dict(
                sorted(Counter(f"{d.kind}:{s}" for d in decisions for s in d.statuses).items())
            ),
        },
        "latency_ms": {
            "p50": round(percentile(stats.latencies_ms, 0.50), 1),
            "p99": round(percentile(stats.latencies_ms, 0.99), 1),
            "max": round(max(stats.latencies_ms, default=0.0), 1),
        },
        "throughput": throughput(stats.ack_times, seconds, max(1.0, seconds / 30)),
        "faults": [
            {
                "fault": f.name,
                "at_s": f.started,
                "ended_s": f.ended,
                "restored_s": round(f.ended - f.started, 3),
                "detail": f.detail,
                **({"error": f.error} if f.error else {}),
                "recovery_s": recovery_seconds(f, stats.ack_times, deliveries),
            }
            for f in sorted(faults, key=lambda f: f.started)
        ],
        "drain_s": round(drain_seconds, 1),
        "webhooks_redelivered_after_drain": redelivered,
        "invariants": {i.name: i.as_json() for i in invariants},
        "passed": all(i.passed for i in invariants) and all(f.error is None for f in faults),
    }
