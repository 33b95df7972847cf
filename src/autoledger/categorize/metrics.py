"""Prometheus metrics of the bookkeeping loop (per process; the API's stats endpoint has the
per-ledger, per-model-version numbers from the database)."""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PROPOSAL_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


@dataclass
class BookkeepingMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.proposals = Counter(
            "autoledger_bookkeeping_proposals_total",
            "Proposals made, by source (rule, memory, model, prior) and outcome"
            " (auto_booked, queued).",
            ("source", "outcome"),
            registry=self.registry,
        )
        self.reviews = Counter(
            "autoledger_bookkeeping_reviews_total",
            "Human decisions, by decision (accepted, corrected) and whether the line had been"
            " auto-booked: corrected auto-bookings over auto-booked proposals is the"
            " precision lost.",
            ("decision", "auto_booked"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "autoledger_bookkeeping_proposal_seconds",
            "Time to propose (and book) one bank line.",
            buckets=PROPOSAL_BUCKETS,
            registry=self.registry,
        )
        self.queued = Gauge(
            "autoledger_bookkeeping_queue_size",
            "Proposals waiting for a reviewer (all tenants of this database).",
            registry=self.registry,
        )
        self.queue_age = Gauge(
            "autoledger_bookkeeping_queue_oldest_seconds",
            "Age of the oldest proposal waiting for a reviewer.",
            registry=self.registry,
        )
