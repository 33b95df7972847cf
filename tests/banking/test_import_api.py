"""Statement imports over HTTP, on SQLite and PostgreSQL: lines in, duplicates recognized,
bad files refused with a problem that says why, nothing half-written."""

import gzip
import io
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.banking.pipeline import Importer
from autoledger.banking.schemas import BankTransactionOut
from autoledger.banking.tables import BankTransactionRecord, StatementImport
from autoledger.platform.auth.roles import Role
from autoledger.platform.events import outbox
from autoledger.platform.events.envelope import Event
from tests.banking.support import (
    IBAN,
    bank_account,
    csv_statement,
    lines,
    mt940,
    random_key,
    upload,
)
from tests.conftest import TenantKeys

FIXTURES = Path(__file__).parent.parent / "fixtures" / "statements"

JANUARY = [
    ("2026-01-02", "Coffee Corner", "-3.50"),
    ("2026-01-02", "Coffee Corner", "-3.50"),  # a second coffee that day: a real second line
    ("2026-01-05", "ACME Corp invoice 17", "1200.00"),
    ("2026-01-13", "Office rent January", "-950.00"),
]
LATE_JANUARY = [
    ("2026-01-13", "Office rent January", "-950.00"),  # overlaps the first file
    ("2026-01-20", "Bank fee", "-4.95"),
]


async def stored_lines(sessionmaker: async_sessionmaker[AsyncSession], account: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(BankTransactionRecord)
            .where(BankTransactionRecord.bank_account_id == uuid.UUID(account))
        )
    return int(count or 0)


async def test_a_csv_imports_and_a_reimport_or_an_overlap_adds_nothing_twice(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    first = await upload(client, setup, csv_statement(JANUARY), filename="jan.csv")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "completed"
    assert body["format"] == "csv"
    assert body["counts"] == {"total": 4, "new": 4, "duplicate": 0, "rejected": 0}
    assert first.headers["location"] == f"/v1/imports/{body['id']}"
    assert body["profile"]["delimiter"] == ","

    again = await upload(client, setup, csv_statement(JANUARY))
    assert again.json()["counts"] == {"total": 4, "new": 0, "duplicate": 4, "rejected": 0}
    overlap = await upload(client, setup, csv_statement(LATE_JANUARY))
    assert overlap.json()["counts"] == {"total": 2, "new": 1, "duplicate": 1, "rejected": 0}

    got = await lines(client, setup)
    assert [(x["booking_date"], x["description"], x["amount"]) for x in got] == [
        ("2026-01-02", "Coffee Corner", "-3.50"),
        ("2026-01-02", "Coffee Corner", "-3.50"),
        ("2026-01-05", "ACME Corp invoice 17", "1200.00"),
        ("2026-01-13", "Office rent January", "-950.00"),
        ("2026-01-20", "Bank fee", "-4.95"),
    ]
    assert all(x["import_id"] in {body["id"], overlap.json()["id"]} for x in got)
    # The bank account remembers how its bank's CSV reads.
    account = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}", headers=tenant.headers()
    )
    assert account.json()["csv_profile"] == body["profile"]


async def test_the_import_and_the_original_file_can_be_read_back(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    content = csv_statement(JANUARY)
    created = (await upload(client, setup, content, filename="jan.csv")).json()
    fetched = await client.get(f"/v1/imports/{created['id']}", headers=tenant.headers())
    assert fetched.json() == created
    original = await client.get(f"/v1/imports/{created['id']}/file", headers=tenant.headers())
    assert original.status_code == 200
    assert original.content == content
    assert 'filename="jan.csv"' in original.headers["content-disposition"]
    listed = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}/imports", headers=tenant.headers()
    )
    assert [i["id"] for i in listed.json()] == [created["id"]]
    raw = await lines(client, setup, include_raw="true")
    assert raw[0]["raw"]
    assert "Coffee Corner" in raw[0]["raw"]
    assert raw[0]["line"] == 2


async def test_filters_and_pagination(client: httpx.AsyncClient, tenant: TenantKeys) -> None:
    setup = await bank_account(client, tenant)
    await upload(client, setup, csv_statement(JANUARY + LATE_JANUARY[1:]))
    assert len(await lines(client, setup, **{"from": "2026-01-05", "to": "2026-01-13"})) == 2
    assert [x["amount"] for x in await lines(client, setup, max_amount="-100.00")] == ["-950.00"]
    assert [x["description"] for x in await lines(client, setup, q="acme")] == [
        "ACME Corp invoice 17"
    ]
    page = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}/transactions",
        params={"limit": "2"},
        headers=tenant.headers(),
    )
    assert len(page.json()["data"]) == 2
    assert page.json()["next_cursor"]
    rest = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}/transactions",
        params={"limit": "10", "cursor": page.json()["next_cursor"]},
        headers=tenant.headers(),
    )
    assert len(rest.json()["data"]) == 3
    bad = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}/transactions",
        params={"min_amount": "1.234"},
        headers=tenant.headers(),
    )
    assert bad.status_code == 422


async def test_a_bad_line_fails_the_whole_file_unless_skip_invalid(
    client: httpx.AsyncClient, tenant: TenantKeys, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    setup = await bank_account(client, tenant)
    rows = [*JANUARY, ("2026-01-14", "Broken amount", "12.3x4")]
    refused = await upload(client, setup, csv_statement(rows))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "banking.lines_rejected"
    report = problem["import"]
    assert report["status"] == "failed"
    assert report["rejected"] == [
        {"line": 6, "field": "amount", "reason": report["rejected"][0]["reason"]}
    ]
    assert await stored_lines(sessionmaker, setup.bank_account_id) == 0  # nothing half-written

    taken = await upload(client, setup, csv_statement(rows), skip_invalid="true")
    assert taken.status_code == 201
    assert taken.json()["counts"] == {"total": 4, "new": 4, "duplicate": 0, "rejected": 1}
    assert taken.json()["rejected"][0]["line"] == 6


async def test_a_statement_that_does_not_balance_is_refused_unless_accepted(
    client: httpx.AsyncClient, tenant: TenantKeys, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    setup = await bank_account(client, tenant)
    good = await upload(client, setup, mt940())
    assert good.status_code == 201, good.text
    assert good.json()["format"] == "mt940"
    assert good.json()["statements"] == [
        {
            "index": 0,
            "statement_id": good.json()["statements"][0]["statement_id"],
            "opening_balance": "1000.00",
            "closing_balance": "1096.50",
            "opening_date": "2026-01-01",
            "closing_date": "2026-01-31",
            "first_line": "2026-01-02",
            "last_line": "2026-01-03",
            "lines_sum": "96.50",
            "lines": 2,
            "balanced": True,
        }
    ]
    other = await bank_account(client, tenant, account_number="DE89370400440532013000")
    wrong = mt940(account="DE89370400440532013000", closing="2000,00")
    refused = await upload(client, other, wrong)
    assert refused.status_code == 422
    assert refused.json()["code"] == "banking.statement_unbalanced"
    assert "1000.00 + lines 96.50 != closing 2000.00" in refused.json()["detail"]
    assert await stored_lines(sessionmaker, other.bank_account_id) == 0
    accepted = await upload(client, other, wrong, accept_unbalanced="true")
    assert accepted.status_code == 201
    assert accepted.json()["warnings"] == ["statement 0 does not balance (accepted)"]


async def test_a_statement_for_another_account_is_refused(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    refused = await upload(client, setup, mt940(account="DE89370400440532013000"))
    assert refused.status_code == 422
    assert refused.json()["code"] == "banking.wrong_account"
    assert "****3000" in refused.json()["detail"]


async def test_a_statement_finds_its_bank_account_by_number(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    found = await upload(client, setup, mt940(), path="/v1/imports")
    assert found.status_code == 201, found.text
    assert found.json()["bank_account_id"] == setup.bank_account_id
    unknown = await upload(
        client, setup, mt940(account="DE89370400440532013000"), path="/v1/imports"
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "banking.unknown_statement_account"
    csv = await upload(client, setup, csv_statement(JANUARY), path="/v1/imports")
    assert csv.json()["code"] == "banking.unknown_statement_account"


async def test_an_idempotent_retry_returns_the_first_answer(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    key = random_key()
    first = await upload(client, setup, csv_statement(JANUARY), key=key)
    again = await upload(client, setup, csv_statement(JANUARY), key=key)
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    other = await upload(client, setup, csv_statement(LATE_JANUARY), key=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency.key_reused"


async def test_a_retry_after_an_inline_import_broke_off_replays_the_accepted_import(
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The import row commits before the file is imported within the request; a request
    that breaks off then must not leave a retry free to take the file in a second time."""
    setup = await bank_account(client, tenant)

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the process went away mid-import")

    monkeypatch.setattr(Importer, "run", broken)
    key = random_key()
    first = await upload(client, setup, csv_statement(JANUARY), key=key)
    assert first.status_code == 500
    monkeypatch.undo()
    again = await upload(client, setup, csv_statement(JANUARY), key=key)
    assert again.status_code == 202, again.text
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json()["status"] == "processing"  # a worker takes it over when its lease ends
    async with sessionmaker() as session:
        imports = await session.scalar(
            select(func.count())
            .select_from(StatementImport)
            .where(StatementImport.bank_account_id == uuid.UUID(setup.bank_account_id))
        )
    assert imports == 1


async def test_every_new_line_is_announced_once_and_the_import_too(
    client: httpx.AsyncClient, tenant: TenantKeys, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    setup = await bank_account(client, tenant)
    await upload(client, setup, csv_statement(JANUARY))
    await upload(client, setup, csv_statement(JANUARY + LATE_JANUARY[1:]))
    async with sessionmaker() as session:
        bodies = await outbox.event_bodies(
            session, tenant_id=tenant.id, type_="banking.transaction.imported.v1"
        )
        completed = await outbox.event_bodies(
            session, tenant_id=tenant.id, type_="banking.import.completed.v1"
        )
    assert len(bodies) == 5
    assert len({Event.from_json(b).id for b in bodies}) == 5
    assert len(completed) == 2
    served = {x["id"]: x for x in await lines(client, setup)}
    for body in bodies:
        event = Event.from_json(body)
        # The payload the pipeline builds by hand is exactly the schema's JSON form.
        line = BankTransactionOut.model_validate(event.data)
        assert line.model_dump(mode="json") == event.data
        assert event.data == served[event.data["id"]]
        assert event.partitionkey == f"{tenant.id}/{setup.bank_account_id}"


@pytest.mark.parametrize(
    ("content", "code", "status"),
    [
        (b"", "banking.unreadable_statement", 422),
        (b"%PDF-1.7\n...", "banking.unreadable_statement", 422),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&x;</Document>',
            "banking.unreadable_statement",
            422,
        ),
        (b"<html><body>not a statement</body></html>", "banking.unreadable_statement", 422),
    ],
    ids=["empty", "pdf", "xxe", "html"],
)
async def test_hostile_or_foreign_files_are_refused_before_anything_is_stored(
    client: httpx.AsyncClient, tenant: TenantKeys, content: bytes, code: str, status: int
) -> None:
    setup = await bank_account(client, tenant)
    refused = await upload(client, setup, content)
    assert refused.status_code == status, refused.text
    assert refused.json()["code"] == code
    listed = await client.get(
        f"/v1/bank-accounts/{setup.bank_account_id}/imports", headers=tenant.headers()
    )
    assert listed.json() == []


async def test_archives_open_but_bombs_do_not(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("statement.sta", mt940())
    taken = await upload(client, setup, zipped.getvalue(), filename="statement.zip")
    assert taken.status_code == 201, taken.text
    assert taken.json()["counts"]["new"] == 2
    bomb = gzip.compress(b"0" * 50_000_000)  # 50 MB of zeros in ~50 kB
    refused = await upload(client, setup, bomb)
    assert refused.status_code == 413
    assert refused.json()["code"] == "banking.file_too_large"
    assert "zip bomb" in refused.json()["detail"]
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.sta", mt940())
        archive.writestr("b.sta", mt940())
    assert (await upload(client, setup, two.getvalue())).json()["code"] == (
        "banking.unreadable_statement"
    )


async def test_account_numbers_are_masked_unless_the_caller_may_reveal(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    path = f"/v1/bank-accounts/{setup.bank_account_id}"
    viewer = await client.get(path, headers=tenant.headers(Role.VIEWER))
    assert viewer.json()["account_number"] == "****4300"
    auditor = await client.get(path, headers=tenant.headers(Role.AUDITOR))
    assert auditor.json()["account_number"] == IBAN
    taken = await client.post(
        "/v1/bank-accounts",
        json={
            "ledger_id": setup.ledger_id,
            "gl_account": "1120",
            "name": "Same number",
            "currency": "EUR",
            "account_number": "nl91 abna 0417 1643 00",
        },
        headers=tenant.headers(),
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "banking.account_number_taken"


async def test_a_bank_account_books_to_an_asset_or_liability_account_of_its_ledger(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    for gl, reason in (("4000", "revenue"), ("NOPE-1", "no account")):
        refused = await client.post(
            "/v1/bank-accounts",
            json={"ledger_id": setup.ledger_id, "gl_account": gl, "name": "x", "currency": "EUR"},
            headers=tenant.headers(),
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "banking.invalid_gl_account"
        assert reason in refused.json()["detail"]


async def test_a_viewer_reads_but_cannot_import(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant)
    response = await client.post(
        f"/v1/bank-accounts/{setup.bank_account_id}/imports",
        files={"file": ("a.csv", csv_statement(JANUARY))},
        headers=tenant.headers(Role.VIEWER),
    )
    assert response.status_code == 403
    assert (
        await client.get("/v1/bank-accounts", headers=tenant.headers(Role.VIEWER))
    ).status_code == 200
