"""Reconciliation's consumers.

- ``reconcile.open_items``: open items follow the ledger. Every posted entry (reversals
  included, they are announced as posted with ``reverses_id``) is applied to the open items
  of its ledger.
- ``reconcile.after_import``: a statement import that brought new lines runs the matcher
  over its bank account (unless the ledger's settings say ``run_on_import: false``), so sure
  matches are reconciled without anyone asking and the rest wait as suggestions.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.banking.events import IMPORT_COMPLETED, ImportCompleted
from autoledger.ledger.events import ENTRY_POSTED
from autoledger.ledger.schemas import EntryOut
from autoledger.platform.events.consumers import Consumer
from autoledger.platform.events.envelope import Event
from autoledger.reconcile import openitems, service
from autoledger.reconcile.errors import BankAccountNotFound


async def apply_posted_entry(session: AsyncSession, event: Event) -> None:
    await openitems.apply_entry(session, event.tenant, EntryOut.model_validate(event.data))


async def run_after_import(session: AsyncSession, event: Event) -> None:
    completed = ImportCompleted.model_validate(event.data)
    if completed.counts.new == 0:
        return
    try:
        bank = await service.get_bank_account(session, event.tenant, completed.bank_account_id)
    except BankAccountNotFound:
        return  # deleted since: nothing to match
    settings = await service.settings_of(session, bank.ledger_id)
    if settings.run_on_import:
        await service.run(session, event.tenant, bank.id, bank=bank, settings=settings)


CONSUMERS = [
    Consumer(
        name="reconcile.open_items",
        handle=apply_posted_entry,
        types=frozenset({ENTRY_POSTED}),
    ),
    Consumer(
        name="reconcile.after_import",
        handle=run_after_import,
        types=frozenset({IMPORT_COMPLETED.name}),
    ),
]
