"""A tenant's world of objects for the hostile-input suite: one of each thing a route can
name by id, built through the API (plus the two rows no API call creates on demand)."""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.banking.tables import BankAccount, BankTransactionRecord
from autoledger.categorize import service
from autoledger.categorize.features import LineFacts
from autoledger.categorize.model import LabelledExample, train_model
from autoledger.categorize.tables import ModelVersionRecord
from autoledger.kit.clock import utcnow
from autoledger.kit.ids import new_id
from autoledger.ledger.schemas import EntryOut
from autoledger.platform.webhooks.tables import WebhookDelivery
from autoledger.reconcile import openitems, periods
from autoledger.reconcile.tables import (
    BankReconciliation,
    OpenItem,
    ReconcileMatch,
    ReconcileMatchItem,
    ReconcileMatchLine,
)
from tests.conftest import TenantKeys
from tests.platform.audit.test_api import _dead_letter

PUBLIC_HOOK = "https://93.184.216.34/hook"  # a public IP literal: no DNS, allowed as a target
UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class World:
    """Ids of one tenant's objects, by the path parameter that names each."""

    tenant: TenantKeys
    ledger_id: str
    account_ids: tuple[str, str]
    posted_entry_id: str
    pending_entry_id: str
    period_id: str
    endpoint_id: str
    delivery_id: str
    dead_letter_id: str
    key_id: str
    bank_account_id: str
    import_id: str
    profile_name: str
    proposal_id: str
    rule_id: str
    model_id: str
    receivable_account_id: str
    open_item_id: str
    match_id: str
    reconciliation_id: str

    def ids(self) -> set[str]:
        """Every id of this world, tenant included, in canonical (hyphenated, lower) form."""
        return {
            str(self.tenant.id),
            self.ledger_id,
            *self.account_ids,
            self.posted_entry_id,
            self.pending_entry_id,
            self.period_id,
            self.endpoint_id,
            self.delivery_id,
            self.dead_letter_id,
            self.key_id,
            self.bank_account_id,
            self.import_id,
            self.proposal_id,
            self.rule_id,
            self.model_id,
            self.receivable_account_id,
            self.open_item_id,
            self.match_id,
            self.reconciliation_id,
        }

    def path_params(self) -> dict[str, str]:
        return {
            "ledger_id": self.ledger_id,
            "account_id": self.account_ids[0],
            "entry_id": self.posted_entry_id,
            "period_id": self.period_id,
            "endpoint_id": self.endpoint_id,
            "delivery_id": self.delivery_id,
            "dead_letter_id": self.dead_letter_id,
            "key_id": self.key_id,
            "bank_account_id": self.bank_account_id,
            "import_id": self.import_id,
            "name": self.profile_name,
            "proposal_id": self.proposal_id,
            "rule_id": self.rule_id,
            "model_id": self.model_id,
            "account": self.receivable_account_id,
            "open_item_id": self.open_item_id,
            "match_id": self.match_id,
            "reconciliation_id": self.reconciliation_id,
        }


CSV_PROFILE = {
    "spec": {
        "date_format": "%Y-%m-%d",
        "columns": {"booking_date": "Date", "amount": "Amount", "description": ["Description"]},
    }
}


def entry_body(amount: str = "10.00", **extra: Any) -> dict[str, Any]:
    return {
        "postings": [
            {"account": "1000", "direction": "debit", "amount": amount, "asset": "USD"},
            {"account": "4000", "direction": "credit", "amount": amount, "asset": "USD"},
        ],
        **extra,
    }


async def _created(http: httpx.AsyncClient, tenant: TenantKeys, url: str, body: Any) -> Any:
    response = await http.post(url, json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()


async def build_world(
    http: httpx.AsyncClient, sm: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> World:
    ledger = await _created(http, tenant, "/v1/ledgers", {"name": "Books", "base_currency": "USD"})
    accounts = f"/v1/ledgers/{ledger['id']}/accounts"
    cash = await _created(
        http, tenant, accounts, {"code": "1000", "name": "Cash", "type": "asset", "asset": "USD"}
    )
    sales = await _created(
        http, tenant, accounts, {"code": "4000", "name": "Sales", "type": "revenue", "asset": "USD"}
    )
    entries = f"/v1/ledgers/{ledger['id']}/entries"
    posted = await _created(http, tenant, entries, entry_body(description="sale"))
    pending = await _created(http, tenant, entries, entry_body("5.00", status="pending"))
    period = await _created(
        http,
        tenant,
        f"/v1/ledgers/{ledger['id']}/periods",
        {"name": "FY1999", "start_date": "1999-01-01", "end_date": "1999-12-31"},
    )
    # Disabled: nothing is ever sent to it; the one delivery is written below, settled.
    endpoint = await _created(http, tenant, "/v1/webhooks", {"url": PUBLIC_HOOK, "enabled": False})
    key = await _created(http, tenant, "/v1/api-keys", {"name": "spare", "roles": ["viewer"]})
    async with sm() as session:
        delivery = WebhookDelivery(
            tenant_id=tenant.id,
            endpoint_id=uuid.UUID(endpoint["id"]),
            event_id=uuid.uuid4(),
            event_type="ledger.entry.posted.v1",
            body=b"{}",
            status="failed",
            attempts=1,
            created_at=utcnow(),
        )
        session.add(delivery)
        await session.commit()
        delivery_id = str(delivery.id)
    dead_letter = await _dead_letter(sm, tenant)
    bank = await _created(
        http,
        tenant,
        "/v1/bank-accounts",
        {"ledger_id": ledger["id"], "gl_account": "1000", "name": "Bank", "currency": "USD",
         "account_number": f"US{uuid.uuid4().int % 10**12:012d}"},
    )  # fmt: skip
    imported = await http.post(
        f"/v1/bank-accounts/{bank['id']}/imports",
        files={"file": ("s.csv", b"Date,Description,Amount\n2026-01-02,Coffee,-3.50\n")},
        headers=tenant.headers(),
    )
    assert imported.status_code == 201, imported.text
    profile = await http.put("/v1/csv-profiles/my-bank", json=CSV_PROFILE, headers=tenant.headers())
    assert profile.status_code == 200, profile.text
    rule = await _created(
        http,
        tenant,
        f"/v1/ledgers/{ledger['id']}/categorization-rules",
        {"account": "4000", "description_contains": "refund"},
    )
    receivable = await _created(
        http, tenant, accounts, {"code": "1200", "name": "Receivables", "type": "asset"}
    )
    marked = await http.put(
        f"/v1/ledgers/{ledger['id']}/open-item-accounts/1200",
        json={"role": "receivable"},
        headers=tenant.headers(),
    )
    assert marked.status_code == 200, marked.text
    invoice = await _created(
        http,
        tenant,
        entries,
        {
            "postings": [
                {"account": "1200", "direction": "debit", "amount": "42.00", "asset": "USD"},
                {"account": "4000", "direction": "credit", "amount": "42.00", "asset": "USD"},
            ],
            "metadata": {"reference": "INV-1", "counterparty": "ACME Corp"},
        },
    )
    return World(
        tenant=tenant,
        ledger_id=ledger["id"],
        account_ids=(cash["id"], sales["id"]),
        posted_entry_id=posted["id"],
        pending_entry_id=pending["id"],
        period_id=period["id"],
        endpoint_id=endpoint["id"],
        delivery_id=delivery_id,
        dead_letter_id=str(dead_letter),
        key_id=key["id"],
        bank_account_id=bank["id"],
        import_id=imported.json()["id"],
        profile_name="my-bank",
        proposal_id=await _proposal(sm, tenant, imported.json()["id"]),
        rule_id=rule["id"],
        model_id=await _model(sm, tenant, uuid.UUID(ledger["id"])),
        receivable_account_id=receivable["id"],
        open_item_id=(item_id := await _open_item(sm, tenant, invoice)),
        match_id=await _match(sm, tenant, bank["id"], imported.json()["id"], item_id),
        reconciliation_id=await _reconciliation(sm, tenant, bank["id"]),
    )


async def _open_item(
    sm: async_sessionmaker[AsyncSession], tenant: TenantKeys, entry: dict[str, Any]
) -> str:
    """The invoice's open item (made here when no worker runs in the app; when one does,
    whichever of the two inserts second finds the item made: applying is idempotent)."""
    async with sm() as session:
        try:
            async with session.begin():
                await openitems.apply_entry(session, tenant.id, EntryOut.model_validate(entry))
        except IntegrityError:
            await session.rollback()  # the worker made it first
        item = await session.scalar(
            select(OpenItem.id).where(OpenItem.entry_id == uuid.UUID(entry["id"]))
        )
        assert item is not None
        return str(item)


async def _match(
    sm: async_sessionmaker[AsyncSession],
    tenant: TenantKeys,
    bank_account_id: str,
    import_id: str,
    open_item_id: str,
) -> str:
    """A suggested match of the imported line with the invoice, as a run would keep it."""
    async with sm() as session, session.begin():
        line = await session.scalar(
            select(BankTransactionRecord).where(
                BankTransactionRecord.import_id == uuid.UUID(import_id)
            )
        )
        assert line is not None
        bank = await session.get(BankAccount, uuid.UUID(bank_account_id))
        assert bank is not None
        match = ReconcileMatch(
            id=new_id(),
            tenant_id=tenant.id,
            ledger_id=bank.ledger_id,
            bank_account_id=bank.id,
            status="suggested",
            rank=2,
            kind="one_to_one",
            method="scored",
            auto=False,
            score=0.1,
            confidence=0.1,
            currency="USD",
            total=line.amount,
            features={},
            explanation=["arranged by the test"],
            writeoffs=[],
        )
        session.add(match)
        await session.flush()
        session.add_all(
            [
                ReconcileMatchLine(
                    match_id=match.id,
                    tenant_id=tenant.id,
                    bank_transaction_id=line.id,
                    amount=line.amount,
                ),
                ReconcileMatchItem(
                    match_id=match.id,
                    tenant_id=tenant.id,
                    open_item_id=uuid.UUID(open_item_id),
                    amount=4200,
                ),
            ]
        )
        return str(match.id)


async def _reconciliation(
    sm: async_sessionmaker[AsyncSession], tenant: TenantKeys, bank_account_id: str
) -> str:
    """A sign-off of the bank account to a day before its lines (nothing it locks matters)."""
    async with sm() as session, session.begin():
        bank = await session.get(BankAccount, uuid.UUID(bank_account_id))
        assert bank is not None
        day = date(2000, 1, 31)
        report = await periods.build_report(session, bank, end=day, statement_balance=0)
        record = BankReconciliation(
            tenant_id=tenant.id,
            ledger_id=bank.ledger_id,
            bank_account_id=bank.id,
            statement_date=day,
            currency=bank.currency,
            statement_balance=0,
            ledger_balance=0,
            status="reconciled",
            report=periods.report_out(bank, report, day).model_dump(mode="json"),
            reconciled_by="test",
            created_at=utcnow(),
        )
        session.add(record)
        await session.flush()
        return str(record.id)


async def _proposal(
    sm: async_sessionmaker[AsyncSession], tenant: TenantKeys, import_id: str
) -> str:
    """The imported line's proposal (made here when no worker runs in the app; the same
    one the consumer makes, or made, when one does: proposing is idempotent)."""
    async with sm() as session, session.begin():
        line = await session.scalar(
            select(BankTransactionRecord.id).where(
                BankTransactionRecord.import_id == uuid.UUID(import_id)
            )
        )
        assert line is not None
        proposal = await service.propose_for_line(session, service.StateCache(), tenant.id, line)
        assert proposal is not None
        return str(proposal.id)


async def _model(
    sm: async_sessionmaker[AsyncSession], tenant: TenantKeys, ledger_id: uuid.UUID
) -> str:
    """A trained model version (retired: the tenant keeps proposing with the prior)."""
    facts = LineFacts("Coffee", None, -350, "USD", date(2026, 1, 2), "bank")
    model = train_model([LabelledExample(facts, "4000", date(2026, 1, 2))])
    async with sm() as session:
        record = ModelVersionRecord(
            tenant_id=tenant.id,
            ledger_id=ledger_id,
            version=1,
            status="retired",
            artifact=model.to_bytes(),
            artifact_sha256=model.content_hash,
            calibrator=None,
            thresholds={},
            metrics={},
            labels=1,
            last_label_id=None,
            window_start=None,
            window_end=None,
            training_seconds=0.0,
            decision="arranged by the test",
            promoted_by=None,
            promoted_at=None,
        )
        session.add(record)
        await session.commit()
        return str(record.id)
