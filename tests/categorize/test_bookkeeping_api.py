"""The bookkeeping loop through the API: imported lines get proposals, reviews book them,
corrections re-book and teach, rules book on their own, numbers add up."""

import asyncio
from typing import Any

import httpx

from autoledger.categorize import service
from autoledger.platform.auth.roles import Role
from tests.banking.support import BankSetup, bank_account, csv_statement, upload
from tests.conftest import TenantKeys

#: how long a test waits for the worker (generous: the suite shares two cores)
WAIT_SECONDS = 60.0

JANUARY = [
    ("2026-01-02", "Coffee Corner", "-3.50"),
    ("2026-01-05", "ACME Corp invoice 17", "1200.00"),
    ("2026-01-13", "Office rent January", "-950.00"),
    ("2026-01-20", "Monthly account fee", "-4.95"),
]


async def all_proposals(
    client: httpx.AsyncClient, setup: BankSetup, count: int
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        found = {}
        for status in ("queued", "auto_booked", "accepted", "corrected", "reconciled"):
            response = await client.get(
                f"/v1/ledgers/{setup.ledger_id}/proposals",
                params={"status": status},
                headers=setup.tenant.headers(Role.VIEWER),
            )
            assert response.status_code == 200, response.text
            found.update({p["description"]: p for p in response.json()})
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(found)} proposals, expected {count}")


async def review(
    client: httpx.AsyncClient, tenant: TenantKeys, proposal_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/proposals/{proposal_id}/review",
        json=body,
        headers=tenant.headers(Role.ACCOUNTANT),
    )


async def test_lines_are_proposed_reviewed_booked_and_learned_from(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant, currency="USD", account_number=None)
    assert (await upload(client, setup, csv_statement(JANUARY))).status_code in (201, 202)
    by_text = await all_proposals(client, setup, len(JANUARY))
    rent = by_text["Office rent January"]
    assert 1 <= len(rent["top"]) <= 3
    assert rent["amount"] == "-950.00"
    assert rent["source"] == "prior"
    # No feedback yet: only the prior books, at its shipped threshold, what it is sure of.
    threshold = service.prior_default_threshold()
    assert threshold is not None
    for proposal in by_text.values():
        sure = proposal["confidence"] >= threshold
        assert proposal["status"] == ("auto_booked" if sure else "queued"), proposal
    assert by_text["ACME Corp invoice 17"]["status"] == "queued"
    coffee = by_text["Coffee Corner"]
    assert coffee["status"] == "auto_booked"
    assert coffee["explanation"]["booked_by"] == "prior"
    booked = await client.get(
        f"/v1/entries/{coffee['entry_id']}", headers=tenant.headers(Role.VIEWER)
    )
    assert booked.json()["actor"] == f"model:{service.prior().version}"

    # A correction books the line where the reviewer says, and makes a rule of it.
    corrected = await review(
        client,
        tenant,
        rent["id"],
        action="correct",
        account="6100",
        create_rule=True,
        rule_contains="office rent",
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["status"] == "corrected"
    assert corrected.json()["account"] == "6100"
    entry_id = corrected.json()["entry_id"]
    entry = await client.get(f"/v1/entries/{entry_id}", headers=tenant.headers(Role.VIEWER))
    assert entry.status_code == 200, entry.text
    accounts = await client.get(
        f"/v1/ledgers/{setup.ledger_id}/accounts", headers=tenant.headers(Role.VIEWER)
    )
    code_of = {a["id"]: a["code"] for a in accounts.json()["data"]}
    legs = {
        (code_of[p["account_id"]], p["direction"], p["amount"]) for p in entry.json()["postings"]
    }
    assert legs == {("1110", "credit", "950.00"), ("6100", "debit", "950.00")}
    assert entry.json()["actor"].startswith("key:")
    assert entry.json()["source"] == {"type": "bank_line", "id": rent["bank_transaction_id"]}

    # The same decision again changes nothing (no second entry).
    again = await review(
        client, tenant, rent["id"], action="correct", account="6100", create_rule=True
    )
    assert again.status_code == 200
    assert again.json()["entry_id"] == entry_id

    # A second correction reverses the first booking and books anew.
    moved = await review(client, tenant, rent["id"], action="correct", account="6830")
    assert moved.status_code == 200
    assert moved.json()["entry_id"] != entry_id
    entries = await client.get(
        f"/v1/ledgers/{setup.ledger_id}/entries",
        params={"limit": "100"},
        headers=tenant.headers(Role.VIEWER),
    )
    assert entry_id in {e["reverses_id"] for e in entries.json()["data"]}

    # Acceptance books the top proposal of a queued line and confirms an auto-booked one.
    invoice = by_text["ACME Corp invoice 17"]
    accepted = await review(client, tenant, invoice["id"], action="accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["account"] == invoice["top"][0]["account"]
    assert accepted.json()["entry_id"] is not None
    fee = by_text["Monthly account fee"]
    confirmed = await review(client, tenant, fee["id"], action="accept")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "auto_booked"
    assert confirmed.json()["entry_id"] == fee["entry_id"]
    assert confirmed.json()["reviewed_at"] is not None

    # The rule made from the correction books next month's rent on its own.
    february = [("2026-02-13", "Office rent February", "-950.00")]
    assert (await upload(client, setup, csv_statement(february))).status_code in (201, 202)
    by_text = await all_proposals(client, setup, len(JANUARY) + 1)
    next_rent = by_text["Office rent February"]
    assert next_rent["source"] == "rule"
    assert next_rent["status"] == "auto_booked"
    assert next_rent["account"] == "6100"

    stats = await client.get(
        "/v1/bookkeeping/stats",
        params={"ledger_id": setup.ledger_id},
        headers=tenant.headers(Role.VIEWER),
    )
    assert stats.status_code == 200, stats.text
    numbers = stats.json()
    assert numbers["proposals"] == 5
    assert numbers["auto_booked"] == 4  # coffee, rent, fee by the prior; February by the rule
    assert numbers["automation_rate"] == 0.8
    assert numbers["auto_precision"] == 0.75  # the January rent was corrected
    assert numbers["queued"] == 0
    assert numbers["labels"] == 4  # two corrections, two acceptances; the repeat is none
    rules = await client.get(
        f"/v1/ledgers/{setup.ledger_id}/categorization-rules",
        headers=tenant.headers(Role.VIEWER),
    )
    assert [r["account"] for r in rules.json()] == ["6100"]


async def test_bad_reviews_are_refused_with_a_problem(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(client, tenant, currency="USD", account_number=None)
    await upload(client, setup, csv_statement(JANUARY[:1]))
    coffee = (await all_proposals(client, setup, 1))["Coffee Corner"]
    no_account = await review(client, tenant, coffee["id"], action="correct")
    assert no_account.status_code == 422
    unknown = await review(client, tenant, coffee["id"], action="correct", account="8888")
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "categorize.unknown_account"
    own = await review(client, tenant, coffee["id"], action="correct", account="1110")
    assert own.json()["code"] == "categorize.unknown_account"
    missing = await review(client, tenant, "00000000-0000-7000-8000-000000000000", action="accept")
    assert missing.status_code == 404
    assert missing.json()["code"] == "categorize.proposal_not_found"
    viewer = await client.post(
        f"/v1/proposals/{coffee['id']}/review",
        json={"action": "accept"},
        headers=tenant.headers(Role.VIEWER),
    )
    assert viewer.status_code == 403


async def rule(client: httpx.AsyncClient, setup: BankSetup, **body: Any) -> httpx.Response:
    return await client.post(
        f"/v1/ledgers/{setup.ledger_id}/categorization-rules",
        json={"account": "6100", **body},
        headers=setup.tenant.headers(Role.ACCOUNTANT),
    )


async def test_rule_amounts_are_read_at_the_currency_scale(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    yen = await bank_account(client, tenant, currency="JPY", account_number=None)
    made = await rule(client, yen, description_contains="rent", min_amount="100000")
    assert made.status_code == 201, made.text
    assert made.json()["conditions"]["min_amount"] == 100_000  # yen have no minor unit
    fraction = await rule(client, yen, description_contains="rent", max_amount="100000.5")
    assert fraction.status_code == 422
    assert fraction.headers["content-type"].startswith("application/problem+json")
    assert fraction.json()["code"] == "money.invalid_amount"
    assert "max_amount" in fraction.json()["detail"]

    # The rule books a ¥150,000 rent and leaves a ¥50,000 one to the queue.
    rows = [("2026-01-05", "Office rent", "-150000"), ("2026-01-06", "Garage rent", "-50000")]
    assert (await upload(client, yen, csv_statement(rows))).status_code in (201, 202)
    by_text = await all_proposals(client, yen, 2)
    assert by_text["Office rent"]["source"] == "rule"
    assert by_text["Office rent"]["status"] == "auto_booked"
    assert by_text["Office rent"]["amount"] == "-150000"
    assert by_text["Garage rent"]["source"] != "rule"

    dinar = await bank_account(client, tenant, currency="KWD", account_number=None)
    fils = await rule(
        client, dinar, bank_account_id=dinar.bank_account_id, min_amount="1.234", max_amount="9"
    )
    assert fils.status_code == 201, fils.text
    assert fils.json()["conditions"]["min_amount"] == 1234  # three decimals: fils
    assert fils.json()["conditions"]["max_amount"] == 9000
    too_fine = await rule(client, dinar, min_amount="1.2345")
    assert too_fine.status_code == 422
    assert too_fine.json()["code"] == "money.invalid_amount"
