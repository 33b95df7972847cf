"""Events of the bookkeeping loop: a proposal was made, booked on its own, or reviewed."""

import uuid

from autoledger.categorize.schemas import ProposalEvent
from autoledger.platform.events.catalog import register
from autoledger.platform.events.envelope import Event, make_event

SOURCE = "/autoledger/bookkeeping"

PROPOSAL_CREATED = register(
    "bookkeeping.proposal.created.v1",
    ProposalEvent,
    "A bank line got a proposed account (top-3 with probabilities); queued or auto-booked.",
)
PROPOSAL_AUTO_BOOKED = register(
    "bookkeeping.proposal.auto_booked.v1",
    ProposalEvent,
    "A proposal was confident enough under the ledger's policy and was booked on its own.",
)
PROPOSAL_REVIEWED = register(
    "bookkeeping.proposal.reviewed.v1",
    ProposalEvent,
    "A person accepted or corrected a proposal (a correction of a booked line reverses it).",
)


def proposal_event(event_type: str, tenant_id: uuid.UUID, payload: ProposalEvent) -> Event:
    return make_event(
        event_type=event_type,
        tenant_id=tenant_id,
        subject=f"proposals/{payload.id}",
        data=payload,
        ordering_key=f"{tenant_id}/{payload.ledger_id}",
        source=SOURCE,
    )
