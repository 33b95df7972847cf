"""The event of each new bank line carries the line's API form, on every backend.

On PostgreSQL the database builds these payloads itself (one statement per chunk); this
holds them equal to what the Python path and the API give, over the values that are easy
to get wrong: scales 0 and 3, small negatives, missing dates and balances, text that JSON
must escape.
"""

import uuid
from datetime import date

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.banking.pipeline import insert_lines, line_payload
from autoledger.banking.repository import LineBatch
from autoledger.banking.schemas import BankTransactionOut
from autoledger.db.tenancy import acting_for
from autoledger.kit.clock import utcnow
from autoledger.kit.ids import new_id, new_ids
from autoledger.kit.sensitive import mask
from autoledger.platform.events import outbox
from autoledger.platform.events.envelope import Event
from tests.banking.support import bank_account
from tests.conftest import TenantKeys

LINES = [
    # amount, running balance, value date, description, counterparty account, extra
    (-5, None, None, 'Zahlung „Müller“ "quoted"\n\ttab \\ back', "NL91ABNA0417164300", {}),
    (1_234_567, -1, date(2025, 3, 2), "plain", None, {"purpose": "SALA", "note": 'ü "x"'}),
    (-(10**15), 10**15, date(2025, 3, 1), "", "1234", {"k": ""}),
    (7, 0, None, "振込 テスト", "DE89370400440532013000", {}),
]


def _batch(tenant: uuid.UUID, account: uuid.UUID, currency: str, scale: int) -> LineBatch:
    lines = LineBatch(tenant, account, new_id(), currency, scale)
    for n, (amount, running, value_day, text, counterparty, extra) in enumerate(LINES):
        lines.id.append(new_ids(1)[0])
        lines.line_no.append(n + 2)
        lines.statement_index.append(0)
        lines.booking_date.append(date(2025, 3, 1))
        lines.value_date.append(value_day)
        lines.amount.append(amount)
        lines.description.append(text)
        lines.counterparty_name.append(None if n % 2 else f"Party {n}")
        lines.counterparty_account.append(counterparty)
        lines.counterparty_account_enc.append(None)
        lines.counterparty_account_masked.append(mask(counterparty) if counterparty else None)
        lines.bank_reference.append(f"REF{n}" if n else None)
        lines.end_to_end_id.append(None)
        lines.transaction_code.append("PMNT-RCDT-ESCT" if n == 1 else None)
        lines.running_balance.append(running)
        lines.extra.append(orjson.dumps(extra).decode())
        lines.raw.append(f"raw {n}")
        lines.dedup_key.append(uuid.uuid4().hex)
    return lines


@pytest.mark.parametrize(("currency", "scale"), [("KWD", 3), ("JPY", 0), ("EUR", 2)])
async def test_each_new_line_is_announced_with_its_api_form_in_file_order(
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    sessionmaker: async_sessionmaker[AsyncSession],
    currency: str,
    scale: int,
) -> None:
    setup = await bank_account(client, tenant, currency=currency, account_number=None)
    lines = _batch(tenant.id, uuid.UUID(setup.bank_account_id), currency, scale)
    with acting_for(tenant.id):
        async with sessionmaker() as session, session.begin():
            assert await insert_lines(session, lines, utcnow()) == len(LINES)
        async with sessionmaker() as session, session.begin():
            assert await insert_lines(session, lines, utcnow()) == 0  # all known: no events
        async with sessionmaker() as session:
            bodies = await outbox.event_bodies(
                session, tenant_id=tenant.id, type_="banking.transaction.imported.v1"
            )
    events = [Event.from_json(body) for body in bodies]
    assert [e.data for e in events] == [line_payload(lines, i) for i in range(len(LINES))]
    for event, line_id in zip(events, lines.id, strict=True):
        assert event.subject == f"bank-transactions/{line_id}"
        assert event.source == "/autoledger/banking"
        assert event.partitionkey == f"{tenant.id}/{setup.bank_account_id}"
        assert event.tenant == tenant.id
        assert BankTransactionOut.model_validate(event.data).model_dump(mode="json") == event.data
    assert [e.data["amount"] for e in events][:2] == {
        3: ["-0.005", "1234.567"],
        0: ["-5", "1234567"],
        2: ["-0.05", "12345.67"],
    }[scale]
