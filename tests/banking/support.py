"""Helpers for banking API tests: a ledger with a bank account, statement files, uploads."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import TenantKeys

IBAN = "NL91ABNA0417164300"


@dataclass(frozen=True)
class BankSetup:
    tenant: TenantKeys
    ledger_id: str
    bank_account_id: str


async def bank_account(
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    *,
    currency: str = "EUR",
    account_number: str | None = IBAN,
    gl_account: str = "1110",
) -> BankSetup:
    ledger = await client.post(
        "/v1/ledgers",
        json={"name": "Books", "base_currency": currency, "chart_template": "small_business"},
        headers=tenant.headers(),
    )
    assert ledger.status_code == 201, ledger.text
    body: dict[str, Any] = {
        "ledger_id": ledger.json()["id"],
        "gl_account": gl_account,
        "name": "Operating",
        "currency": currency,
        "institution": "ABN AMRO",
    }
    if account_number is not None:
        body["account_number"] = account_number
    created = await client.post("/v1/bank-accounts", json=body, headers=tenant.headers())
    assert created.status_code == 201, created.text
    return BankSetup(tenant, ledger.json()["id"], created.json()["id"])


async def upload(
    client: httpx.AsyncClient,
    setup: BankSetup,
    content: bytes,
    *,
    filename: str = "statement",
    key: str | None = None,
    path: str | None = None,
    **options: str,
) -> httpx.Response:
    headers = setup.tenant.headers()
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(
        path or f"/v1/bank-accounts/{setup.bank_account_id}/imports",
        files={"file": (filename, content, "application/octet-stream")},
        data=options,
        headers=headers,
    )


async def lines(client: httpx.AsyncClient, setup: BankSetup, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "1000", **({"cursor": cursor} if cursor else {})}
        page = await client.get(
            f"/v1/bank-accounts/{setup.bank_account_id}/transactions",
            params=query,
            headers=setup.tenant.headers(),
        )
        assert page.status_code == 200, page.text
        found.extend(page.json()["data"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


def csv_statement(rows: list[tuple[str, str, str]]) -> bytes:
    """A plain CSV export: ISO dates, signed amounts with a point."""
    body = "Date,Description,Amount\n" + "".join(f"{d},{t},{a}\n" for d, t, a in rows)
    return body.encode()


def mt940(
    *,
    account: str = IBAN,
    opening: str = "1000,00",
    closing: str = "1096,50",
    lines: tuple[str, ...] = (
        ":61:2601020102C100,00NTRFREF1//B1\n:86:/NAME/ACME BV/REMI/Invoice 17\n",
        ":61:2601030103D3,50NMSCREF2//B2\n:86:COFFEE\n",
    ),
) -> bytes:
    text = (
        ":20:STMT1\n"
        f":25:{account}\n"
        ":28C:1/1\n"
        f":60F:C260101EUR{opening}\n" + "".join(lines) + f":62F:C260131EUR{closing}\n-\n"
    )
    return text.encode()


def random_key() -> str:
    return uuid.uuid4().hex
