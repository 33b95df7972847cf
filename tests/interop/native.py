"""A native autoledger ledger (chart template, three currencies, a tenant asset, a pending
hold and a reversal) built through the ledger's service and journal, for the export tests."""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.ledger import journal, service
from autoledger.ledger.commands import CreateEntry, PostingInput, ReverseEntry
from autoledger.ledger.types import AccountType, Direction
from autoledger.ledger.views import EntryView
from autoledger.platform.auth import service as auth

LAST_DAY = date(2025, 3, 31)
D, C = Direction.DEBIT, Direction.CREDIT


@dataclass(frozen=True)
class NativeLedger:
    tenant_id: uuid.UUID
    ledger_id: uuid.UUID


async def build_native_ledger(session: AsyncSession) -> NativeLedger:
    tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
    await service.define_asset(session, tenant.id, "BTC", 8, "Bitcoin")
    ledger = await service.create_ledger(
        session,
        tenant.id,
        name="Native books",
        base_currency="USD",
        metadata={},
        chart_template="small_business",
    )
    for code, name, type_, parent in (
        ("1140", "Euro account", AccountType.ASSET, "1100"),
        ("1170", "Bitcoin wallet", AccountType.ASSET, "1100"),
        ("3910", "FX conversion", AccountType.EQUITY, "3000"),
        ("4250", "Export services", AccountType.REVENUE, "4000"),
    ):
        await service.create_account(
            session, tenant.id, ledger.id, code=code, name=name, type=type_, parent=parent
        )

    def entry(
        day: date, description: str, *legs: tuple[str, Direction, str, str], **extra: object
    ) -> CreateEntry:
        return CreateEntry(
            tenant_id=tenant.id,
            ledger_id=ledger.id,
            postings=tuple(PostingInput(a, d, amount, asset) for a, d, amount, asset in legs),
            actor="system:test",
            effective_date=day,
            description=description,
            **extra,  # type: ignore[arg-type]
        )

    outcomes = await journal.execute(
        session,
        [
            entry(
                date(2025, 1, 5),
                "Capital",
                ("1110", D, "10000.00", "USD"),
                ("3100", C, "10000.00", "USD"),
            ),
            entry(
                date(2025, 1, 20),
                'Sale; invoice "A-1"',
                ("1110", D, "2500.00", "USD"),
                ("4100", C, "2500.00", "USD"),
                metadata={"reference": "A-1", "counterparty": "Smith, Jones & Co"},
            ),
            entry(
                date(2025, 2, 1),
                "Buy euros",
                ("1140", D, "900.00", "EUR"),
                ("3910", C, "900.00", "EUR"),
                ("3910", D, "1000.00", "USD"),
                ("1110", C, "1000.00", "USD"),
            ),
            entry(
                date(2025, 2, 15),
                "Buy bitcoin",
                ("1170", D, "0.01234567", "BTC"),
                ("3910", C, "0.01234567", "BTC"),
                ("3910", D, "500.00", "USD"),
                ("1110", C, "500.00", "USD"),
            ),
            entry(
                date(2025, 3, 1),
                "Euro sale",
                ("1140", D, "120.50", "EUR"),
                ("4250", C, "120.50", "EUR"),
            ),
            entry(
                date(2025, 3, 10),
                "Held, not posted",
                ("1110", C, "50.00", "USD"),
                ("4900", D, "50.00", "USD"),
                pending=True,
            ),
            entry(
                date(2025, 3, 20),
                "Booked by mistake",
                ("1110", D, "75.00", "USD"),
                ("4900", C, "75.00", "USD"),
            ),
        ],
        atomic=True,
    )
    mistake = outcomes[-1]
    assert isinstance(mistake, EntryView)
    await journal.execute(
        session,
        [ReverseEntry(tenant.id, mistake.id, "system:test", effective_date=LAST_DAY)],
        atomic=True,
    )
    return NativeLedger(tenant.id, ledger.id)
