"""The ledger's events: payload models, their catalog entries, and builders.

Every event of a ledger carries the ordering key ``tenant/ledger``, so consumers see one
ledger's facts in commit order. Entry payloads are the same ``Entry`` schema the API returns.
"""

import uuid
from collections.abc import Callable
from datetime import date, datetime

from pydantic import BaseModel

from autoledger.ledger import schemas
from autoledger.ledger.presenter import entry_out
from autoledger.ledger.tables import Account, Ledger, Period
from autoledger.ledger.views import EntryView
from autoledger.platform.events.catalog import register
from autoledger.platform.events.envelope import Event, make_event

SOURCE = "/autoledger/ledger"


class EntryReversed(BaseModel):
    entry_id: uuid.UUID
    reversal: schemas.EntryOut


class LedgerCreated(BaseModel):
    id: uuid.UUID
    name: str
    base_currency: str
    metadata: dict[str, str]
    created_at: datetime


class AccountChanged(BaseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    code: str
    name: str
    type: str
    parent_id: uuid.UUID | None
    asset: str | None
    status: str
    metadata: dict[str, str]


class PeriodChanged(BaseModel):
    id: uuid.UUID
    ledger_id: uuid.UUID
    name: str
    start_date: date
    end_date: date
    status: str
    closed_at: datetime | None
    closed_by: str | None


ENTRY_POSTED = register(
    "ledger.entry.posted.v1",
    schemas.EntryOut,
    "An entry is posted: created posted, posted from pending (full or partial), or a reversal.",
).name
ENTRY_PENDING = register(
    "ledger.entry.pending.v1",
    schemas.EntryOut,
    "A pending (two-phase) entry was created; its amounts are held against available balances.",
).name
ENTRY_VOIDED = register(
    "ledger.entry.voided.v1",
    schemas.EntryOut,
    "A pending entry was voided (by request or because it expired); its holds are released.",
).name
ENTRY_REVERSED = register(
    "ledger.entry.reversed.v1",
    EntryReversed,
    "A posted entry was reversed by a linked mirror entry (also announced as posted).",
).name
LEDGER_CREATED = register("ledger.ledger.created.v1", LedgerCreated, "A ledger was created.").name
ACCOUNT_CREATED = register(
    "ledger.account.created.v1", AccountChanged, "An account was created."
).name
ACCOUNT_UPDATED = register(
    "ledger.account.updated.v1", AccountChanged, "An account's name, status or metadata changed."
).name
PERIOD_CLOSED = register(
    "ledger.period.closed.v1", PeriodChanged, "A period was closed: it rejects new entries."
).name
PERIOD_REOPENED = register(
    "ledger.period.reopened.v1", PeriodChanged, "A closed period was reopened."
).name


def ordering_key(tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> str:
    return f"{tenant_id}/{ledger_id}"


def _event(
    event_type: str, tenant_id: uuid.UUID, ledger_id: uuid.UUID, subject: str, data: BaseModel
) -> Event:
    return make_event(
        event_type=event_type,
        tenant_id=tenant_id,
        subject=subject,
        data=data,
        ordering_key=ordering_key(tenant_id, ledger_id),
        source=SOURCE,
    )


def entry_events(
    tenant_id: uuid.UUID, view: EntryView, amount: Callable[[int, str], str]
) -> list[Event]:
    """The events of an entry that just reached ``view.status`` in this transaction."""
    out = entry_out(view, amount)
    subject = f"entries/{view.id}"
    event_type = {"posted": ENTRY_POSTED, "pending": ENTRY_PENDING, "voided": ENTRY_VOIDED}[
        view.status
    ]
    events = [_event(event_type, tenant_id, view.ledger_id, subject, out)]
    if view.reverses_id is not None:
        events.append(
            _event(
                ENTRY_REVERSED,
                tenant_id,
                view.ledger_id,
                f"entries/{view.reverses_id}",
                EntryReversed(entry_id=view.reverses_id, reversal=out),
            )
        )
    return events


def ledger_created(ledger: Ledger) -> Event:
    data = LedgerCreated(
        id=ledger.id,
        name=ledger.name,
        base_currency=ledger.base_currency,
        metadata=dict(ledger.meta),
        created_at=ledger.created_at,
    )
    return _event(LEDGER_CREATED, ledger.tenant_id, ledger.id, f"ledgers/{ledger.id}", data)


def account_changed(account: Account, *, created: bool) -> Event:
    data = AccountChanged(
        id=account.id,
        ledger_id=account.ledger_id,
        code=account.code,
        name=account.name,
        type=account.type,
        parent_id=account.parent_id,
        asset=account.asset,
        status=account.status,
        metadata=dict(account.meta),
    )
    event_type = ACCOUNT_CREATED if created else ACCOUNT_UPDATED
    return _event(event_type, account.tenant_id, account.ledger_id, f"accounts/{account.id}", data)


def period_changed(period: Period) -> Event:
    data = PeriodChanged(
        id=period.id,
        ledger_id=period.ledger_id,
        name=period.name,
        start_date=period.start_date,
        end_date=period.end_date,
        status=period.status,
        closed_at=period.closed_at,
        closed_by=period.closed_by,
    )
    event_type = PERIOD_CLOSED if period.status == "closed" else PERIOD_REOPENED
    return _event(event_type, period.tenant_id, period.ledger_id, f"periods/{period.id}", data)
