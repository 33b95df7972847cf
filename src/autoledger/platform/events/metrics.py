"""Event backbone metrics: outbox lag, relay throughput, consumer outcomes."""

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class EventMetrics:
    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        self.outbox_unsent = Gauge(
            "autoledger_outbox_unsent_events",
            "Events committed to the outbox and not yet accepted by the bus.",
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            "autoledger_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unsent outbox event (0 when none).",
            registry=self.registry,
        )
        self.published = Counter(
            "autoledger_events_published_total",
            "Events the relay published, by bus.",
            ("bus",),
            registry=self.registry,
        )
        self.consumer_events = Counter(
            "autoledger_consumer_events_total",
            "Deliveries handled by consumers: processed, duplicate, retried, dead_lettered.",
            ("consumer", "outcome"),
            registry=self.registry,
        )
        self.shedding = Gauge(
            "autoledger_write_shedding",
            "1 while write requests are refused because the outbox lag is over its limit.",
            registry=self.registry,
        )

    def published_for(self, bus: str) -> Callable[[int], None]:
        counter = self.published.labels(bus)
        return counter.inc

    def consumed(self, consumer: str, outcome: str) -> None:
        self.consumer_events.labels(consumer, outcome).inc()
