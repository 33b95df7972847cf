"""Banking events: a line imported (one per new bank line) and an import completed.

Both carry the ordering key ``tenant/bank_account``, so a consumer sees one account's lines
in import order and the completion after them. The line payload is the API's own
``BankTransaction`` schema, with the counterparty account masked.
"""

import uuid
from datetime import datetime

from pydantic import BaseModel

from autoledger.banking import schemas
from autoledger.platform.events.catalog import register
from autoledger.platform.events.envelope import Event, make_event

SOURCE = "/autoledger/banking"


class ImportCompleted(BaseModel):
    id: uuid.UUID
    bank_account_id: uuid.UUID
    format: str
    filename: str | None
    counts: schemas.ImportCounts
    statements: list[schemas.StatementCheck]
    warnings: list[str]
    finished_at: datetime


TRANSACTION_IMPORTED = register(
    "banking.transaction.imported.v1",
    schemas.BankTransactionOut,
    "A new bank line was imported (duplicates of lines already imported are not announced).",
)
IMPORT_COMPLETED = register(
    "banking.import.completed.v1",
    ImportCompleted,
    "A statement file was imported; counts of new, duplicate and rejected lines.",
)


def ordering_key(tenant_id: uuid.UUID, bank_account_id: uuid.UUID) -> str:
    return f"{tenant_id}/{bank_account_id}"


def transaction_imported(tenant_id: uuid.UUID, line: schemas.BankTransactionOut) -> Event:
    return make_event(
        event_type=TRANSACTION_IMPORTED.name,
        tenant_id=tenant_id,
        subject=f"bank-transactions/{line.id}",
        data=line,
        ordering_key=ordering_key(tenant_id, line.bank_account_id),
        source=SOURCE,
    )


def import_completed(tenant_id: uuid.UUID, payload: ImportCompleted) -> Event:
    return make_event(
        event_type=IMPORT_COMPLETED.name,
        tenant_id=tenant_id,
        subject=f"imports/{payload.id}",
        data=payload,
        ordering_key=ordering_key(tenant_id, payload.bank_account_id),
        source=SOURCE,
    )
