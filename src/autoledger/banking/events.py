"""Banking events: a line imported (one per new bank line) and an import completed.

Both carry the ordering key ``tenant/bank_account``, so a consumer sees one account's lines
in import order and the completion after them. The line payload is the API's own
``BankTransaction`` schema, with the counterparty account masked.
"""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from autoledger.banking import schemas
from autoledger.kit.ids import new_id
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


def transaction_imported(
    tenant_id: uuid.UUID, bank_account_id: uuid.UUID, line: dict[str, Any], at: datetime
) -> Event:
    """The event of one new line. ``line`` is already the JSON form of
    ``schemas.BankTransactionOut`` (the pipeline builds it without a model: an import
    announces 100,000 lines, and validating what it just built would double its cost; a
    test holds the two shapes equal)."""
    return Event.model_construct(
        specversion="1.0",
        id=new_id(),
        source=SOURCE,
        type=TRANSACTION_IMPORTED.name,
        subject=f"bank-transactions/{line['id']}",
        time=at,
        datacontenttype="application/json",
        tenant=tenant_id,
        partitionkey=ordering_key(tenant_id, bank_account_id),
        data=line,
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
