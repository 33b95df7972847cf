"""Open items follow the ledger (ADR 0012): referenced postings on open-item accounts become
items signed as the bank amount that settles them, same-reference postings the other way
settle them, reversals cancel and reopen, and a redelivered entry changes nothing.

Entries reach the service as the ``ledger.entry.posted.v1`` payload the consumer gets."""

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.ledger.errors import LedgerNotFound
from autoledger.ledger.schemas import EntryOut
from autoledger.ledger.types import AccountType
from autoledger.reconcile import openitems
from autoledger.reconcile.errors import AccountNotMarked, OpenItemAccountNotFound, OpenItemNotFound
from autoledger.reconcile.tables import OpenItem
from tests.ledger.support import Setup, new_account, new_ledger

Maker = async_sessionmaker[AsyncSession]


class Books:
    """A ledger with receivables (1200, marked), payables (2000, marked), bank (1110),
    revenue (4000), expenses (6000) and an unmarked asset account (1300)."""

    def __init__(self, setup: Setup, codes: dict[str, uuid.UUID]) -> None:
        self.setup, self.codes = setup, codes
        self.seq = 0

    def entry(
        self,
        debit: str,
        credit: str,
        amount: str,
        *,
        reverses: EntryOut | None = None,
        **metadata: str,
    ) -> EntryOut:
        """The payload of a posted entry moving ``amount`` from ``credit`` to ``debit``."""
        self.seq += 1
        return EntryOut.model_validate(
            {
                "id": uuid.uuid4(),
                "ledger_id": self.setup.ledger_id,
                "client_id": None,
                "seq": self.seq,
                "status": "posted",
                "effective_date": date(2026, 3, 1),
                "recorded_at": utcnow(),
                "description": "",
                "metadata": metadata,
                "source": {"type": "api", "id": None},
                "actor": "test",
                "reverses_id": None if reverses is None else reverses.id,
                "expires_at": None,
                "resolved_at": None,
                "postings": [
                    _posting(0, self.codes[debit], "debit", amount),
                    _posting(1, self.codes[credit], "credit", amount),
                ],
            }
        )

    def reversal(self, original: EntryOut) -> EntryOut:
        """What the ledger posts to reverse ``original``: the mirror, metadata kept."""
        self.seq += 1
        mirror = [
            p.model_copy(update={"direction": "credit" if p.direction == "debit" else "debit"})
            for p in original.postings
        ]
        return original.model_copy(
            update={
                "id": uuid.uuid4(),
                "seq": self.seq,
                "reverses_id": original.id,
                "postings": mirror,
            }
        )


def _posting(index: int, account: uuid.UUID, direction: str, amount: str) -> dict[str, Any]:
    return {
        "index": index,
        "account_id": account,
        "asset": "USD",
        "direction": direction,
        "amount": amount,
        "posted_amount": amount,
    }


@pytest.fixture
async def books(sessionmaker: Maker) -> Books:
    setup = await new_ledger(sessionmaker)
    codes = {
        "1110": await new_account(sessionmaker, setup, "1110"),
        "1200": await new_account(sessionmaker, setup, "1200"),
        "1300": await new_account(sessionmaker, setup, "1300"),
        "2000": await new_account(sessionmaker, setup, "2000", AccountType.LIABILITY),
        "4000": await new_account(sessionmaker, setup, "4000", AccountType.REVENUE),
        "6000": await new_account(sessionmaker, setup, "6000", AccountType.EXPENSE),
    }
    async with sessionmaker() as session:
        await openitems.mark_account(
            session, setup.tenant_id, setup.ledger_id, "1200", "receivable"
        )
        await openitems.mark_account(
            session, setup.tenant_id, setup.ledger_id, str(codes["2000"]), "payable"
        )
        await session.commit()
    return Books(setup, codes)


async def apply(sm: Maker, books: Books, *entries: EntryOut) -> None:
    """Each entry in a transaction of its own, as the consumer does."""
    for entry in entries:
        async with sm() as session:
            await openitems.apply_entry(session, books.setup.tenant_id, entry)
            await session.commit()


async def items(sm: Maker, books: Books, **filters: Any) -> list[OpenItem]:
    async with sm() as session:
        return list(
            await openitems.list_items(
                session, books.setup.tenant_id, books.setup.ledger_id, **filters
            )
        )


def invoice(books: Books, amount: str = "1200.00", reference: str = "INV-0042") -> EntryOut:
    return books.entry(
        "1200",
        "4000",
        amount,
        kind="invoice",
        reference=reference,
        due_date="2026-03-31",
        counterparty_id="cp-7",
        counterparty="ACME Corp",
    )


async def test_an_invoice_becomes_a_positive_open_item(sessionmaker: Maker, books: Books) -> None:
    await apply(sessionmaker, books, invoice(books))
    [item] = await items(sessionmaker, books)
    assert (item.kind, item.reference, item.status) == ("invoice", "INV-0042", "open")
    assert (item.amount, item.open_amount, item.currency) == (120000, 120000, "USD")
    assert (item.counterparty, item.counterparty_id) == ("ACME Corp", "cp-7")
    assert (item.due_date, item.issued) == (date(2026, 3, 31), date(2026, 3, 1))
    assert item.account_id == books.codes["1200"]
    assert item.posting_index == 0


async def test_a_bill_is_negative_and_takes_its_kind_from_the_role(
    sessionmaker: Maker, books: Books
) -> None:
    bill = books.entry("6000", "2000", "300.50", reference="BILL-9", due_date="not a date")
    await apply(sessionmaker, books, bill)
    [item] = await items(sessionmaker, books)
    assert (item.kind, item.amount, item.open_amount) == ("payable", -30050, -30050)
    assert item.due_date is None
    assert item.counterparty is None


async def test_settlements_by_another_system_partly_then_fully(
    sessionmaker: Maker, books: Books
) -> None:
    await apply(sessionmaker, books, invoice(books))
    first = books.entry("1110", "1200", "200.00", reference="INV-0042")
    await apply(sessionmaker, books, first)
    [item] = await items(sessionmaker, books)
    assert (item.status, item.open_amount) == ("partially_settled", 100000)
    await apply(sessionmaker, books, books.entry("1110", "1200", "1000.00", reference="INV-0042"))
    [item] = await items(sessionmaker, books)
    assert (item.status, item.open_amount) == ("settled", 0)
    async with sessionmaker() as session:
        _, settlements = await openitems.get_item(session, books.setup.tenant_id, item.id)
    assert [(s.amount, s.source, s.posting_index) for s in settlements] == [
        (20000, "ledger", 1),
        (100000, "ledger", 1),
    ]
    assert settlements[0].entry_id == first.id


async def test_a_bill_payment_settles_it(sessionmaker: Maker, books: Books) -> None:
    await apply(sessionmaker, books, books.entry("6000", "2000", "80.00", reference="B-1"))
    await apply(sessionmaker, books, books.entry("2000", "1110", "80.00", reference="B-1"))
    [item] = await items(sessionmaker, books)
    assert (item.status, item.open_amount, item.amount) == ("settled", 0, -8000)


async def test_an_overpayment_leaves_a_credit_item(sessionmaker: Maker, books: Books) -> None:
    await apply(sessionmaker, books, invoice(books, "100.00"))
    await apply(sessionmaker, books, books.entry("1110", "1200", "130.00", reference="INV-0042"))
    settled, credit = await items(sessionmaker, books)
    assert (settled.status, settled.open_amount) == ("settled", 0)
    assert (credit.status, credit.amount) == ("open", -3000)


async def test_reversing_the_invoice_cancels_its_item(sessionmaker: Maker, books: Books) -> None:
    issued = invoice(books)
    await apply(sessionmaker, books, issued, books.reversal(issued))
    [item] = await items(sessionmaker, books)
    assert (item.status, item.open_amount, item.amount) == ("cancelled", 0, 120000)
    assert await items(sessionmaker, books, status="open") == []


async def test_reversing_a_settlement_reopens_what_it_settled(
    sessionmaker: Maker, books: Books
) -> None:
    payment = books.entry("1110", "1200", "1200.00", reference="INV-0042")
    await apply(sessionmaker, books, invoice(books), payment)
    assert [i.status for i in await items(sessionmaker, books)] == ["settled"]
    reversal = books.reversal(payment)
    await apply(sessionmaker, books, reversal, reversal)  # redelivered: no second reopening
    [item] = await items(sessionmaker, books)
    assert (item.status, item.open_amount) == ("open", 120000)
    async with sessionmaker() as session:
        _, [settlement] = await openitems.get_item(session, books.setup.tenant_id, item.id)
    assert settlement.reversed_by_entry_id == reversal.id


async def test_unreferenced_unmarked_and_matched_postings_are_ignored(
    sessionmaker: Maker, books: Books
) -> None:
    await apply(
        sessionmaker,
        books,
        books.entry("1200", "4000", "50.00"),
        books.entry("1300", "4000", "50.00", reference="INV-1"),
        books.entry("1200", "4000", "50.00", reference="  "),
        books.entry("1200", "4000", "50.00", reference="INV-2", reconcile_match_id="m-1"),
    )
    assert await items(sessionmaker, books) == []


async def test_a_redelivered_entry_changes_nothing(sessionmaker: Maker, books: Books) -> None:
    issued = invoice(books)
    payment = books.entry("1110", "1200", "200.00", reference="INV-0042")
    await apply(sessionmaker, books, issued, payment, issued, payment)
    [item] = await items(sessionmaker, books)
    assert (item.status, item.open_amount) == ("partially_settled", 100000)
    async with sessionmaker() as session:
        _, settlements = await openitems.get_item(session, books.setup.tenant_id, item.id)
    assert len(settlements) == 1


async def test_filters_and_pages(sessionmaker: Maker, books: Books) -> None:
    await apply(
        sessionmaker,
        books,
        invoice(books, reference="INV-1"),
        invoice(books, reference="INV-2"),
        books.entry("6000", "2000", "10.00", reference="B-1", counterparty="Paper Co"),
    )
    assert [i.reference for i in await items(sessionmaker, books, account="2000")] == ["B-1"]
    assert [i.reference for i in await items(sessionmaker, books, counterparty="paper co")] == [
        "B-1"
    ]
    assert len(await items(sessionmaker, books, counterparty="cp-7")) == 2
    assert [i.reference for i in await items(sessionmaker, books, reference="INV-2")] == ["INV-2"]
    first = await items(sessionmaker, books, limit=2)
    rest = await items(sessionmaker, books, after=first[-1].id, limit=2)
    assert [i.reference for i in [*first, *rest]] == ["INV-1", "INV-2", "B-1"]


async def test_markings_list_change_and_go(sessionmaker: Maker, books: Books) -> None:
    tenant, ledger = books.setup.tenant_id, books.setup.ledger_id
    async with sessionmaker() as session:
        listed = await openitems.list_accounts(session, tenant, ledger)
        assert [(m.account.code, m.record.role) for m in listed] == [
            ("1200", "receivable"),
            ("2000", "payable"),
        ]
        await openitems.mark_account(session, tenant, ledger, "1200", "clearing")
        await openitems.unmark_account(session, tenant, ledger, "2000")
        listed = await openitems.list_accounts(session, tenant, ledger)
        assert [(m.account.code, m.record.role) for m in listed] == [("1200", "clearing")]
        with pytest.raises(AccountNotMarked):
            await openitems.unmark_account(session, tenant, ledger, "2000")
        with pytest.raises(OpenItemAccountNotFound):
            await openitems.mark_account(session, tenant, ledger, "9999", "payable")
        with pytest.raises(LedgerNotFound):
            await openitems.list_accounts(session, tenant, uuid.uuid4())
        await session.rollback()


async def test_another_tenant_sees_nothing(sessionmaker: Maker, books: Books) -> None:
    await apply(sessionmaker, books, invoice(books))
    [item] = await items(sessionmaker, books)
    other = await new_ledger(sessionmaker)
    async with sessionmaker() as session:
        with pytest.raises(OpenItemNotFound):
            await openitems.get_item(session, other.tenant_id, item.id)
        with pytest.raises(LedgerNotFound):
            await openitems.list_items(session, other.tenant_id, books.setup.ledger_id)
        # the other tenant's posting, even naming this ledger's account, makes nothing here
        await openitems.apply_entry(session, other.tenant_id, invoice(books, reference="X-1"))
        await session.commit()
    assert [i.reference for i in await items(sessionmaker, books)] == ["INV-0042"]
