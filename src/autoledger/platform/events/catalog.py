"""The catalog of event types: every type, its payload model and what it means.

Domains register their types at import (``register``); :func:`json_schema` renders the
catalog that ``autoledger events schema`` writes to ``docs/events/catalog.json`` (a test keeps
the committed file in sync, so a payload change is always a reviewed diff).
"""

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from autoledger.platform.events.envelope import Event

# Modules that declare event types or outbox expanders; importing them fills the catalog
# (and the outbox's expanders).
EVENT_MODULES = (
    "autoledger.ledger.events",
    "autoledger.banking.events",
    "autoledger.banking.repository",
    "autoledger.categorize.events",
    "autoledger.reconcile.events",
)


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    payload: type[BaseModel]
    description: str

    def __post_init__(self) -> None:
        family, _, version = self.name.rpartition(".")
        if not family or not version.startswith("v") or not version[1:].isdigit():
            raise ValueError(f"event type {self.name!r} must end in a version such as .v1")


_CATALOG: dict[str, EventType] = {}


def register(name: str, payload: type[BaseModel], description: str) -> EventType:
    event_type = EventType(name, payload, description)
    existing = _CATALOG.get(name)
    if existing is not None and existing != event_type:
        raise ValueError(f"event type {name!r} is registered twice")
    _CATALOG[name] = event_type
    return event_type


def catalog() -> dict[str, EventType]:
    for module in EVENT_MODULES:
        importlib.import_module(module)
    return dict(sorted(_CATALOG.items()))


def json_schema() -> dict[str, Any]:
    """The whole catalog as one JSON document: the envelope schema and one schema per type."""
    types = catalog()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "autoledger event catalog",
        "description": (
            "Every event is a CloudEvents 1.0 envelope (structured JSON); `data` follows the "
            "schema of its `type`. Types are versioned: a breaking change is a new version."
        ),
        "envelope": Event.model_json_schema(),
        "types": {
            name: {
                "description": t.description,
                "data": t.payload.model_json_schema(),
            }
            for name, t in types.items()
        },
    }
