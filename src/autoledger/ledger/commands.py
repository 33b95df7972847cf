"""What callers ask the journal to do. Amounts arrive as decimal strings and are parsed
against the asset's scale inside the service, where the tenant's assets are known."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from autoledger.ledger.types import Direction


@dataclass(frozen=True, slots=True)
class PostingInput:
    account: uuid.UUID | str  # id, or code within the ledger
    direction: Direction
    amount: str
    asset: str


@dataclass(frozen=True, slots=True)
class CreateEntry:
    tenant_id: uuid.UUID
    ledger_id: uuid.UUID
    postings: tuple[PostingInput, ...]
    actor: str
    effective_date: date | None = None
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    source_type: str = "api"
    source_id: str | None = None
    pending: bool = False
    expires_at: datetime | None = None
    client_id: str | None = None
    request_id: str | None = None  # the HTTP request that asked, for the audit log


@dataclass(frozen=True, slots=True)
class PostPending:
    """Post a hold in full (``amounts=None``) or partly (one amount per posting, same order)."""

    tenant_id: uuid.UUID
    entry_id: uuid.UUID
    actor: str
    amounts: tuple[str, ...] | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class VoidPending:
    tenant_id: uuid.UUID
    entry_id: uuid.UUID
    actor: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReverseEntry:
    tenant_id: uuid.UUID
    entry_id: uuid.UUID
    actor: str
    effective_date: date | None = None
    description: str | None = None
    client_id: str | None = None
    request_id: str | None = None


Command = CreateEntry | PostPending | VoidPending | ReverseEntry
