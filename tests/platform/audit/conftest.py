"""Audit fixtures: the shared app, with the audit router mounted if app.py does not yet."""

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform.audit import api as audit_api
from autoledger.platform.audit import service as audit


@pytest.fixture(scope="session")
def app(app: FastAPI) -> FastAPI:
    if not any(getattr(route, "path", None) == "/v1/audit" for route in app.routes):
        app.include_router(audit_api.router)
    return app


async def audit_records(
    sessionmaker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, **where: Any
) -> Sequence[Any]:
    """A tenant's audit records, oldest first (read as the system role)."""
    async with sessionmaker() as session:
        return await audit.list_records(
            session, tenant_id, audit.AuditFilter(**where), limit=100_000
        )
