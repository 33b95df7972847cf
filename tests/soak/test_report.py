"""The soak report: percentiles, throughput buckets, recovery times and the verdict."""

from soak.checker import Invariant
from soak.faults import Injected, schedule
from soak.load import Decision, Stats, Upload, Write

from soak import report


def test_percentile_is_nearest_rank_and_zero_when_empty() -> None:
    values = [float(v) for v in range(1, 101)]
    assert report.percentile(values, 0.5) == 51.0
    assert report.percentile(values, 0.99) == 99.0
    assert report.percentile([], 0.5) == 0.0


def test_throughput_counts_acknowledgements_per_bucket() -> None:
    assert report.throughput([0.1, 0.2, 1.5, 4.9, 7.0], seconds=6, bucket=2) == [
        {"t": 0.0, "acked_per_s": 1.5},
        {"t": 2.0, "acked_per_s": 0.0},
        {"t": 4.0, "acked_per_s": 0.5},
    ]


def test_recovery_is_the_first_signal_after_the_fault_ended() -> None:
    killed = Injected("kill_api", started=10.0, ended=14.0)
    assert report.recovery_seconds(killed, [9.0, 13.0, 15.5, 16.0], []) == 1.5
    stalled = Injected("stall_broker", started=10.0, ended=14.0)
    assert report.recovery_seconds(stalled, [14.1], [20.0]) == 6.0
    assert report.recovery_seconds(stalled, [14.1], [3.0]) is None


def test_build_counts_requests_and_fails_on_an_invariant_or_an_uninjected_fault() -> None:
    stats = Stats()
    for status in ("201", "201", "200", "500", "timeout"):
        stats.attempt(status, 0.01)
    writes = [Write("a", "entry", "t", "l", outcome="acked"), Write("b", "entry", "t", "l")]
    ok = Invariant("x", True, {"violations": 0})
    args = {
        "bus": "nats",
        "seconds": 10.0,
        "stats": stats,
        "writes": writes,
        "deliveries": [],
        "drain_seconds": 1.0,
        "redelivered": 0,
    }
    built = report.build(faults=[], invariants=[ok], **args)  # type: ignore[arg-type]
    assert built["passed"]
    assert built["requests"]["sent"] == 5
    assert built["requests"]["acknowledged"] == 3
    assert built["requests"]["failed"] == 2
    assert built["writes"]["unknown"] == 1
    broken = Invariant("y", False, {"violations": 1})
    assert not report.build(faults=[], invariants=[ok, broken], **args)["passed"]  # type: ignore[arg-type]
    failed = Injected("restart_postgres", 1.0, 2.0, error="RuntimeError: pg_ctl failed")
    assert not report.build(faults=[failed], invariants=[ok], **args)["passed"]  # type: ignore[arg-type]


def test_schedule_spreads_faults_and_leaves_out_restarting_the_pubsub_emulator() -> None:
    full = schedule(180, short=False, bus="nats")
    assert {f.name for f in full} == {
        "kill_api",
        "kill_worker",
        "restart_postgres",
        "restart_broker",
        "webhook_errors",
        "webhook_timeouts",
        "stall_broker",
        "slow_database",
    }
    assert all(f.at > 0 and f.at + f.duration <= 0.9 * 180 for f in full)
    assert "restart_broker" not in {f.name for f in schedule(180, short=False, bus="pubsub")}
    assert len(schedule(30, short=True, bus="nats")) < len(full)


def test_build_counts_the_bank_flows() -> None:
    uploads = [
        Upload("u1", "t", "b", ["r1", "r2"], "new", "acked", 202, "i1", attempts=2),
        Upload("u2", "t", "b", ["r2", "r3"], "overlap", "unknown"),
        Upload("u3", "t", "b", ["r1", "r2"], "again", "acked", 202, "i2"),
    ]
    decisions = [
        Decision("d1", "reconcile", "acked", statuses=["500", "200"]),
        Decision("d2", "accept", "rejected", statuses=["409"]),
    ]
    built = report.build(
        bus="nats",
        seconds=10.0,
        stats=Stats(),
        writes=[],
        faults=[],
        deliveries=[],
        invariants=[],
        drain_seconds=1.0,
        redelivered=0,
        uploads=uploads,
        decisions=decisions,
    )
    assert built["bank"] == {
        "uploads": {"again_acked": 1, "new_acked": 1, "overlap_unknown": 1},
        "uploads_retried": 1,
        "lines_generated": 3,
        "decisions": {"accept_rejected": 1, "reconcile_acked": 1},
        "decision_attempts": {"accept:409": 1, "reconcile:200": 1, "reconcile:500": 1},
    }
