"""Exchange rates through the API: kept as given, replaced per day, imported from the ECB's
own file all or nothing, looked up direct, inverse, across the euro and on average; and a
period-end revaluation that books a trading account's value into profit and loss and
reverses it the next day, exactly once however often it is asked for."""

from pathlib import Path
from typing import Any

import httpx

from autoledger.platform.auth.roles import Role
from tests.api.test_errors_and_observability import assert_problem
from tests.conftest import TenantKeys

FIXTURES = Path(__file__).parent.parent / "fixtures" / "fx"


async def put(client: httpx.AsyncClient, tenant: TenantKeys, *rates: tuple[str, ...]) -> Any:
    response = await client.put(
        "/v1/fx-rates",
        json={"rates": [{"base": b, "quote": q, "date": d, "rate": r} for b, q, d, r in rates]},
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def quote(client: httpx.AsyncClient, tenant: TenantKeys, **params: str) -> httpx.Response:
    return await client.get(
        "/v1/fx-rates/quote", params=params, headers=tenant.headers(Role.VIEWER)
    )


async def test_rates_are_kept_replaced_and_looked_up(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    written = await put(
        client,
        tenant,
        ("EUR", "USD", "2026-01-02", "1.0876"),
        ("EUR", "GBP", "2026-01-02", "0.8625"),
        ("EUR", "USD", "2026-01-05", "1.0900"),
    )
    assert written == {"inserted": 3, "updated": 0, "unchanged": 0}
    again = await put(
        client, tenant, ("EUR", "USD", "2026-01-02", "1.08760"), ("EUR", "USD", "2026-01-05", "1.1")
    )
    assert again == {"inserted": 0, "updated": 1, "unchanged": 1}

    listed = await client.get(
        "/v1/fx-rates", params={"quote": "USD", "limit": "1"}, headers=tenant.headers()
    )
    assert [r["rate"] for r in listed.json()] == ["1.1"]
    after = listed.headers["X-Next-After"]
    page = await client.get(
        "/v1/fx-rates", params={"quote": "USD", "after": after}, headers=tenant.headers()
    )
    assert [(r["date"], r["rate"]) for r in page.json()] == [("2026-01-02", "1.0876")]

    direct = (await quote(client, tenant, base="EUR", quote="USD", date="2026-01-04")).json()
    assert (direct["rate"], direct["date"], direct["via"]) == ("1.0876", "2026-01-02", None)
    cross = (await quote(client, tenant, base="USD", quote="GBP", date="2026-01-02")).json()
    assert cross["via"] == "EUR"
    assert cross["rate"].startswith("0.79303")  # 0.8625 / 1.0876
    average = await quote(
        client, tenant, base="EUR", quote="USD", date="2026-01-31", **{"from": "2026-01-01"}
    )
    assert average.json()["rate"] == "1.0938"
    assert average.json()["method"] == "average"
    missing = await quote(client, tenant, base="EUR", quote="CHF", date="2026-01-02")
    assert_problem(missing, 422, "fx.rate_missing")

    bad = await client.put(
        "/v1/fx-rates",
        json={"rates": [{"base": "EUR", "quote": "USD", "date": "2026-01-02", "rate": "-1"}]},
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert_problem(bad, 422, "request.invalid")
    viewer = await client.put(
        "/v1/fx-rates",
        json={"rates": [{"base": "EUR", "quote": "USD", "date": "2026-01-02", "rate": "1"}]},
        headers=tenant.headers(Role.VIEWER),
    )
    assert viewer.status_code == 403


async def test_the_ecb_file_imports_all_or_nothing(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    content = (FIXTURES / "eurofxref-hist-head.csv").read_bytes()
    files = {"file": ("eurofxref-hist.csv", content, "text/csv")}
    imported = await client.post(
        "/v1/fx-rates/imports", files=files, headers=tenant.headers(Role.ACCOUNTANT)
    )
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["first_date"] == "2026-08-03"
    assert body["last_date"] == "2026-10-30"
    assert body["inserted"] == body["rates"] > 65 * 25
    assert "CYP" in body["skipped_columns"]
    again = await client.post(
        "/v1/fx-rates/imports", files=files, headers=tenant.headers(Role.ACCOUNTANT)
    )
    assert again.json()["unchanged"] == body["rates"]
    usd = (await quote(client, tenant, base="USD", quote="JPY", date="2026-10-30")).json()
    assert usd["via"] == "EUR"
    assert usd["rate"].startswith("157.25")  # 175.68 / 1.1172

    broken = content.replace(b"2026-10-29,1.113,", b"2026-10-29,1.1x3,")
    refused = await client.post(
        "/v1/fx-rates/imports",
        files={"file": ("eurofxref-hist.csv", broken, "text/csv")},
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    problem = assert_problem(refused, 422, "fx.invalid_rates_file")
    assert problem["errors"][0]["loc"] == "line 3, USD"
    other = await client.post(
        "/v1/fx-rates/imports",
        files={"file": ("rates.csv", b"Day;USD\n", "text/csv")},
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert_problem(other, 422, "fx.invalid_rates_file")


async def post_entry(
    client: httpx.AsyncClient, tenant: TenantKeys, ledger: str, postings: list[tuple[str, ...]]
) -> None:
    response = await client.post(
        f"/v1/ledgers/{ledger}/entries",
        json={
            "postings": [
                {"account": a, "direction": d, "amount": m, "asset": s} for a, d, m, s in postings
            ],
            "effective_date": "2026-01-10",
        },
        headers=tenant.headers(Role.ACCOUNTANT),
    )
    assert response.status_code == 201, response.text


async def balance(
    client: httpx.AsyncClient, tenant: TenantKeys, account: str, as_of: str
) -> dict[str, str]:
    response = await client.get(
        f"/v1/accounts/{account}/balance", params={"as_of": as_of}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    return {b["asset"]: b["posted"] for b in response.json()["balances"]}


async def test_a_period_end_revaluation_books_the_trading_accounts_value_and_reverses_it(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ledger = await client.post(
        "/v1/ledgers",
        json={"name": "Books", "base_currency": "USD", "chart_template": "small_business"},
        headers=tenant.headers(),
    )
    ledger_id = ledger.json()["id"]
    ids = {}
    for code, name, asset in (("1131", "Euro account", "EUR"), ("3910", "FX trading", None)):
        body: dict[str, Any] = {
            "code": code,
            "name": name,
            "type": "asset" if code == "1131" else "equity",
        }
        if asset:
            body["asset"] = asset
        created = await client.post(
            f"/v1/ledgers/{ledger_id}/accounts", json=body, headers=tenant.headers()
        )
        assert created.status_code == 201, created.text
        ids[code] = created.json()["id"]
    accounts = await client.get(
        f"/v1/ledgers/{ledger_id}/accounts", params={"limit": "500"}, headers=tenant.headers()
    )
    ids |= {a["code"]: a["id"] for a in accounts.json()["data"]}
    # bought 1,000.00 EUR for 1,100.00 USD through the trading account
    await post_entry(
        client,
        tenant,
        ledger_id,
        [
            ("1131", "debit", "1000.00", "EUR"),
            ("3910", "credit", "1000.00", "EUR"),
            ("3910", "debit", "1100.00", "USD"),
            ("1110", "credit", "1100.00", "USD"),
        ],
    )
    url = f"/v1/ledgers/{ledger_id}/fx-revaluations"
    request = {"as_of": "2026-01-31", "trading_accounts": ["3910"]}
    missing = await client.post(url, json=request, headers=tenant.headers(Role.ACCOUNTANT))
    assert_problem(missing, 422, "fx.rate_missing")

    await put(client, tenant, ("EUR", "USD", "2026-01-30", "1.1234"))
    single = await client.post(
        url, json={**request, "trading_accounts": ["3900"]}, headers=tenant.headers()
    )
    assert_problem(single, 422, "fx.not_a_trading_account")
    viewer = await client.post(url, json=request, headers=tenant.headers(Role.VIEWER))
    assert viewer.status_code == 403

    done = await client.post(url, json=request, headers=tenant.headers(Role.ACCOUNTANT))
    assert done.status_code == 201, done.text
    result = done.json()
    assert result["value"] == "-23.40"  # 1,100.00 - 1,000.00 x 1.1234: a gain
    assert {(p["asset"], p["balance"], p["value"]) for p in result["positions"]} == {
        ("EUR", "-1000.00", "-1123.40"),
        ("USD", "1100.00", "1100.00"),
    }
    assert result["positions"][0]["rate_date"] == "2026-01-30"
    assert await balance(client, tenant, ids["7200"], "2026-01-31") == {"USD": "-23.40"}
    assert await balance(client, tenant, ids["7200"], "2026-02-01") == {"USD": "0.00"}
    # equity: a credit-normal account, so the debits show negative
    assert (await balance(client, tenant, ids["3910"], "2026-01-31"))["USD"] == "-1123.40"

    repeat = await client.post(url, json=request, headers=tenant.headers(Role.ACCOUNTANT))
    assert repeat.status_code == 201
    assert repeat.json()["entry_id"] == result["entry_id"]
    assert repeat.json()["reversal_entry_id"] == result["reversal_entry_id"]
    reversal = await client.get(
        f"/v1/entries/{result['reversal_entry_id']}", headers=tenant.headers()
    )
    assert reversal.json()["effective_date"] == "2026-02-01"
    assert reversal.json()["reverses_id"] == result["entry_id"]
