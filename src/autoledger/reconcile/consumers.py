"""Open items follow the ledger: every posted entry (reversals included, they are announced
as posted with ``reverses_id``) is applied to the open items of its ledger."""

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.ledger.events import ENTRY_POSTED
from autoledger.ledger.schemas import EntryOut
from autoledger.platform.events.consumers import Consumer
from autoledger.platform.events.envelope import Event
from autoledger.reconcile import openitems


async def apply_posted_entry(session: AsyncSession, event: Event) -> None:
    await openitems.apply_entry(session, event.tenant, EntryOut.model_validate(event.data))


CONSUMERS = [
    Consumer(
        name="reconcile.open_items",
        handle=apply_posted_entry,
        types=frozenset({ENTRY_POSTED}),
    )
]
