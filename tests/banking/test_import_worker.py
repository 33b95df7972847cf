"""Large files go to the import worker (202, then poll); an import whose worker died is taken
over through its lease; one that keeps dying is failed, not retried for ever."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.api.app import create_app
from autoledger.banking.tables import StatementImport
from autoledger.kit.clock import utcnow
from autoledger.kit.settings import Settings
from tests.banking.support import bank_account, csv_statement, lines, upload
from tests.conftest import TenantKeys

ROWS = [(f"2026-02-{d:02d}", f"Customer payment {d}", f"{d * 10}.00") for d in range(1, 29)]


@pytest.fixture(scope="module")
async def queued_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app that imports nothing inline: every file goes to the worker."""
    application = create_app(settings.model_copy(update={"import_inline_max_bytes": 0}))
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def queued_client(queued_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=queued_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def finished(client: httpx.AsyncClient, tenant: TenantKeys, location: str) -> dict[str, Any]:
    for _ in range(200):
        body: dict[str, Any] = (await client.get(location, headers=tenant.headers())).json()
        if body["status"] in {"completed", "failed"}:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the import did not finish: {body}")


async def test_a_large_file_is_queued_and_imported_by_the_worker(
    queued_client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    setup = await bank_account(queued_client, tenant)
    accepted = await upload(queued_client, setup, csv_statement(ROWS))
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] in {"queued", "processing", "completed"}
    done = await finished(queued_client, tenant, accepted.headers["location"])
    assert done["status"] == "completed"
    assert done["counts"]["new"] == 28
    assert done["processed_lines"] == 28
    assert len(await lines(queued_client, setup)) == 28


async def test_an_import_whose_worker_died_is_taken_over_and_one_that_keeps_dying_fails(
    queued_client: httpx.AsyncClient,
    queued_app: FastAPI,
    app: FastAPI,
    tenant: TenantKeys,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    setup = await bank_account(queued_client, tenant)
    imports = queued_app.state.runtime.imports
    # Nobody takes queued imports while the test arranges them: every app on this database
    # runs an import worker (the session's app too).
    others = [app.state.runtime.imports]
    for worker in [imports, *others]:
        await worker.stop()
    try:
        crashed = await upload(queued_client, setup, csv_statement(ROWS))
        dying = await upload(queued_client, setup, csv_statement(ROWS[:3]))
        expired = utcnow() - timedelta(seconds=1)
        async with sessionmaker() as session, session.begin():
            # A worker took the first one, then vanished (its lease ran out).
            await session.execute(
                update(StatementImport)
                .where(StatementImport.id == uuid.UUID(crashed.json()["id"]))
                .values(status="processing", lease_owner="gone:1", lease_until=expired, attempts=1)
            )
            # The second one has killed three workers already.
            await session.execute(
                update(StatementImport)
                .where(StatementImport.id == uuid.UUID(dying.json()["id"]))
                .values(status="processing", lease_owner="gone:2", lease_until=expired, attempts=3)
            )
        while await imports.run_once():
            pass
    finally:
        for worker in [imports, *others]:
            await worker.start()
    taken_over = await finished(queued_client, tenant, crashed.headers["location"])
    assert taken_over["status"] == "completed"
    assert taken_over["counts"]["new"] == 28
    failed = await finished(queued_client, tenant, dying.headers["location"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "banking.import_crashed"
    assert failed["counts"]["new"] == 0
