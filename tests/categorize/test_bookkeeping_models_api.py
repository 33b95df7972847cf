"""The model registry through the API, trained on real reviews: retrain makes a champion,
a better challenger replaces it, promoting an older version rolls back, and the numbers
(GET models, GET /v1/bookkeeping/stats, /metrics) follow."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from autoledger.categorize import service
from autoledger.categorize.consumers import STATES
from autoledger.platform.auth.roles import Role
from tests.banking.support import BankSetup, bank_account, csv_statement, upload
from tests.categorize.test_bookkeeping_api import all_proposals, review
from tests.conftest import TenantKeys

# description -> (signed amount, true account); each vendor a few times a month
VENDORS = {
    "Harbor Lane Properties rent": ("-2400.00", "6100"),
    "Brightwire Internet monthly": ("-89.00", "6820"),
    "Northwind Insurance premium": ("-310.00", "6600"),
    "Quillstone Legal retainer": ("-750.00", "6310"),
    "Copperleaf Cafe team lunch": ("-64.20", "6410"),
    "Customer payment Ostrava Works": ("1800.00", "4200"),
}
NEW_VENDORS = {  # arrive in February: the January model has never seen them
    "Tallgrass Freight shipment": ("-420.00", "5200"),
    "Pinecrest Ads campaign": ("-980.00", "6700"),
    "Redmoor Software licence": ("-120.00", "6120"),
}


class ReplayClock:
    """The bookkeeping service's clock, set by the test: decisions on different days."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 31, 18, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ReplayClock:
    replay = ReplayClock()
    monkeypatch.setattr(service, "utcnow", replay)
    return replay


def month_rows(
    vendors: dict[str, tuple[str, str]], first: date, times: int
) -> list[tuple[str, str, str]]:
    rows = []
    for n in range(times):
        for k, (text, (amount, _)) in enumerate(vendors.items()):
            day = first + timedelta(days=(3 * n + k) % 27)
            rows.append((day.isoformat(), f"{text} {first:%b} {n + 1}", amount))
    return rows


def truth_of(description: str) -> str:
    for text, (_, account) in {**VENDORS, **NEW_VENDORS}.items():
        if description.startswith(text):
            return account
    raise AssertionError(description)


async def review_all(
    client: httpx.AsyncClient,
    setup: BankSetup,
    clock: ReplayClock,
    rows: list[tuple[str, str, str]],
    total: int,
) -> dict[str, int]:
    """Upload a month and decide every proposal with the truth, each in the evening of its
    line's day; decisions by kind."""
    assert (await upload(client, setup, csv_statement(rows))).status_code in (201, 202)
    decided = {"accepted": 0, "corrected": 0}
    for description, proposal in (await all_proposals(client, setup, total)).items():
        if proposal["reviewed_at"] is not None or proposal["status"] in ("accepted", "corrected"):
            continue
        true = truth_of(description)
        top = proposal["top"][0]["account"] if proposal["top"] else None
        body: dict[str, Any] = (
            {"action": "accept"} if top == true else {"action": "correct", "account": true}
        )
        day = date.fromisoformat(proposal["booking_date"])
        clock.now = datetime.combine(day, time(18), UTC)
        response = await review(client, setup.tenant, proposal["id"], **body)
        assert response.status_code == 200, response.text
        decided["accepted" if top == true else "corrected"] += 1
    return decided


async def retrain(client: httpx.AsyncClient, setup: BankSetup) -> dict[str, Any] | None:
    response = await client.post(
        f"/v1/ledgers/{setup.ledger_id}/models/retrain", headers=setup.tenant.headers()
    )
    assert response.status_code == 200, response.text
    trained: dict[str, Any] | None = response.json()["trained"]
    return trained


async def models(client: httpx.AsyncClient, setup: BankSetup) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/ledgers/{setup.ledger_id}/models", headers=setup.tenant.headers(Role.VIEWER)
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def stats(client: httpx.AsyncClient, setup: BankSetup) -> dict[str, Any]:
    response = await client.get(
        "/v1/bookkeeping/stats",
        params={"ledger_id": setup.ledger_id},
        headers=setup.tenant.headers(Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    numbers: dict[str, Any] = response.json()
    return numbers


async def by_version(client: httpx.AsyncClient, setup: BankSetup) -> dict[str | None, int]:
    numbers = (await stats(client, setup))["by_model_version"]
    return {v["model_version"]: v["proposals"] for v in numbers}


def cached_version(setup: BankSetup) -> str | None:
    """The champion version of the worker's cached state of the ledger (the process's)."""
    return STATES.states[uuid.UUID(str(setup.ledger_id))].model_version


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    text = (await client.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def test_retrain_promote_and_roll_back_on_real_reviews(
    client: httpx.AsyncClient, tenant: TenantKeys, clock: ReplayClock
) -> None:
    setup = await bank_account(client, tenant, currency="USD", account_number=None)
    settings = await client.put(
        f"/v1/ledgers/{setup.ledger_id}/categorization-settings",
        json={"min_feedback": 10, "retrain_after": 1_000_000},  # only this test retrains
        headers=tenant.headers(),
    )
    assert settings.status_code == 200, settings.text
    assert await retrain(client, setup) is None  # no labels, no model
    corrected_before = await metric(
        client, "autoledger_bookkeeping_reviews_total", decision="corrected"
    )

    january = month_rows(VENDORS, date(2026, 1, 1), 4)
    decided = await review_all(client, setup, clock, january, len(january))
    assert sum(decided.values()) == len(january)
    corrected_after = await metric(
        client, "autoledger_bookkeeping_reviews_total", decision="corrected"
    )
    assert corrected_after - corrected_before == decided["corrected"]
    clock.now = datetime(2026, 2, 1, 6, tzinfo=UTC)
    first = await retrain(client, setup)
    assert first is not None
    assert (first["version"], first["status"], first["decision"]) == (1, "champion", "first model")
    assert first["labels"] == len(january)
    assert first["promoted_by"] == "worker"
    # this process proposes too (the embedded worker): its state took the champion already
    assert cached_version(setup) == "1"
    numbers = await stats(client, setup)
    assert numbers["champion_version"] == 1
    assert numbers["labels"] == len(january)
    assert numbers["proposals"] == len(january)

    february = month_rows({**VENDORS, **NEW_VENDORS}, date(2026, 2, 1), 4)
    await review_all(client, setup, clock, february, len(january) + len(february))
    clock.now = datetime(2026, 3, 1, 6, tzinfo=UTC)
    second = await retrain(client, setup)
    assert second is not None
    assert second["version"] == 2
    assert second["status"] == "champion", second["decision"]
    judged = second["metrics"]
    assert judged["challenger"]["top1_accuracy"] > judged["champion"]["top1_accuracy"]
    assert [(m["version"], m["status"]) for m in await models(client, setup)] == [
        (1, "retired"),
        (2, "champion"),
    ]
    assert (await stats(client, setup))["champion_version"] == 2
    assert cached_version(setup) == "2"

    # Rollback: promote the older version back.
    rolled = await client.post(
        f"/v1/ledgers/{setup.ledger_id}/models/{first['id']}/promote",
        headers=tenant.headers(),
    )
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["status"] == "champion"
    assert rolled.json()["promoted_by"].startswith("key:")
    assert [(m["version"], m["status"]) for m in await models(client, setup)] == [
        (1, "champion"),
        (2, "retired"),
    ]
    assert (await stats(client, setup))["champion_version"] == 1
    assert cached_version(setup) == "1"
    # The next line is proposed by the version rolled back to.
    proposed_by = await by_version(client, setup)
    by_model_before = await metric(client, "autoledger_bookkeeping_proposals_total", source="model")
    march = [("2026-03-03", "Vexbridge Consulting workshop", "-1500.00")]
    await upload(client, setup, csv_statement(march))
    fresh = (await all_proposals(client, setup, len(january) + len(february) + 1))[
        "Vexbridge Consulting workshop"
    ]
    assert (fresh["source"], fresh["model_version"]) == ("model", first["artifact_sha256"])
    proposed_since = await by_version(client, setup)
    version_1 = first["artifact_sha256"]
    assert proposed_since[version_1] == proposed_by[version_1] + 1
    by_model = await metric(client, "autoledger_bookkeeping_proposals_total", source="model")
    assert by_model - by_model_before == 1

    missing = await client.post(
        f"/v1/ledgers/{setup.ledger_id}/models/00000000-0000-7000-8000-000000000000/promote",
        headers=tenant.headers(),
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "categorize.model_not_found"
