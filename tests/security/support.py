"""A tenant's world of objects for the hostile-input suite: one of each thing a route can
name by id, built through the API (plus the two rows no API call creates on demand)."""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.banking.tables import BankTransactionRecord
from autoledger.categorize import service
from autoledger.categorize.features import LineFacts
from autoledger.categorize.model import LabelledExample, train_model
from autoledger.categorize.tables import ModelVersionRecord
from autoledger.kit.clock import utcnow
from autoledger.platform.webhooks.tables import WebhookDelivery
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
    )


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
