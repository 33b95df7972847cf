"""The event catalog: the committed export is current, every type is versioned, and the
events the ledger really writes match their declared payload schema."""

from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from autoledger.cli.event_commands import CATALOG_PATH, render_catalog
from autoledger.ledger import journal
from autoledger.ledger.commands import PostPending, ReverseEntry, VoidPending
from autoledger.ledger.types import AccountType
from autoledger.platform.events.catalog import catalog, register
from autoledger.platform.events.envelope import Event
from autoledger.platform.events.tables import OutboxRecord
from tests.ledger.support import create, new_account, new_ledger, transfer
from tests.platform.events.conftest import OwnDatabase


def test_the_committed_catalog_is_current(repo_root: Path) -> None:
    committed = (repo_root / CATALOG_PATH).read_text()
    assert committed == render_catalog(), f"run: autoledger events schema --output {CATALOG_PATH}"


def test_event_types_must_carry_a_version() -> None:
    with pytest.raises(ValueError, match="version"):
        register("ledger.entry.posted", BaseModel, "no version")
    with pytest.raises(ValueError, match="twice"):
        register("ledger.entry.posted.v1", BaseModel, "another payload")


async def test_ledger_events_match_their_catalog_schema(own_db: OwnDatabase) -> None:
    sm = own_db.sessionmaker
    setup = await new_ledger(sm)
    cash = await new_account(sm, setup, "1000")
    sales = await new_account(sm, setup, "4000", AccountType.REVENUE)
    posted = await create(sm, transfer(setup, cash, sales, "5.00"))
    held = await create(sm, transfer(setup, cash, sales, "7.00", pending=True))
    dropped = await create(sm, transfer(setup, cash, sales, "1.00", pending=True))
    async with sm() as session:
        await journal.execute(
            session,
            [
                PostPending(setup.tenant_id, held.id, "test", ("6.00", "6.00")),
                VoidPending(setup.tenant_id, dropped.id, "test"),
                ReverseEntry(setup.tenant_id, posted.id, "test"),
            ],
        )
        await session.commit()
    async with sm() as session:
        bodies = (await session.scalars(select(OutboxRecord.body).order_by(OutboxRecord.seq))).all()
    events = [Event.from_json(b) for b in bodies]
    types = catalog()
    for event in events:
        types[event.type].payload.model_validate(event.data)
    assert [e.type for e in events] == [
        "ledger.ledger.created.v1",
        "ledger.account.created.v1",
        "ledger.account.created.v1",
        "ledger.entry.posted.v1",
        "ledger.entry.pending.v1",
        "ledger.entry.pending.v1",
        "ledger.entry.posted.v1",
        "ledger.entry.voided.v1",
        "ledger.entry.posted.v1",
        "ledger.entry.reversed.v1",
    ]
    partial = events[6].data
    assert [p["posted_amount"] for p in partial["postings"]] == ["6.00", "6.00"]
    reversal = events[9]
    assert reversal.subject == f"entries/{posted.id}"
    assert reversal.data["reversal"]["reverses_id"] == str(posted.id)
