"""Events of reconciliation: a match was made, reconciled, rejected or unreconciled."""

import uuid

from autoledger.platform.events.catalog import register
from autoledger.platform.events.envelope import Event, make_event
from autoledger.reconcile.schemas import MatchOut

SOURCE = "/autoledger/reconcile"

MATCH_CREATED = register(
    "reconcile.match.created.v1",
    MatchOut,
    "A run kept a match for a bank line: the engine's choice (rank 1) or an alternative.",
).name
MATCH_RECONCILED = register(
    "reconcile.match.reconciled.v1",
    MatchOut,
    "A match was reconciled (automatically or accepted): its settlement entry is booked.",
).name
MATCH_REJECTED = register(
    "reconcile.match.rejected.v1",
    MatchOut,
    "A person rejected a match; its line and items are never proposed together again.",
).name
MATCH_UNRECONCILED = register(
    "reconcile.match.unreconciled.v1",
    MatchOut,
    "A reconciled match's settlement was reversed and what it settled reopened.",
).name


def match_event(event_type: str, tenant_id: uuid.UUID, payload: MatchOut) -> Event:
    return make_event(
        event_type=event_type,
        tenant_id=tenant_id,
        subject=f"matches/{payload.id}",
        data=payload,
        ordering_key=f"{tenant_id}/{payload.ledger_id}",
        source=SOURCE,
    )
