"""Builds the bus a deployment configures; broker clients are imported only when chosen."""

from autoledger.kit.settings import Settings
from autoledger.platform.events.bus import Bus
from autoledger.platform.events.inprocess import InProcessBus


def create_bus(settings: Settings) -> Bus:
    if settings.bus == "nats":
        from autoledger.platform.events.nats_bus import NatsBus

        return NatsBus.from_settings(settings)
    if settings.bus == "pubsub":
        from autoledger.platform.events.pubsub_bus import PubSubBus

        return PubSubBus.from_settings(settings)
    return InProcessBus(dedup_window=settings.nats_dedup_window_seconds)
