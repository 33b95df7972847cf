"""The import worker: takes queued imports (and ones whose worker died) and runs them.

Every process runs one (the API and ``autoledger worker`` alike); the lease on the import row
makes sure one import runs in one place. An import that keeps failing for reasons outside
the file (its worker crashing, the database going away) is failed after
:data:`MAX_ATTEMPTS`, with the error, rather than retried for ever.
"""

import asyncio
import contextlib
import os
import socket
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.banking.pipeline import Importer
from autoledger.banking.repository import BankingRepository
from autoledger.banking.tables import StatementImport
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import describe

log = structlog.get_logger("autoledger.banking")
MAX_ATTEMPTS = 3


def owner_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ImportWorker:
    def __init__(
        self,
        importer: Importer,
        system_sessionmaker: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.importer = importer
        self.system = system_sessionmaker
        self.poll_seconds = poll_seconds
        self.owner = owner_id()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="import-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """A new import is queued: look now rather than at the next poll."""
        self._wake.set()

    async def run_once(self) -> bool:
        """Claim and run one import; whether there was one."""
        now = utcnow()
        async with self.system() as session, session.begin():
            claimed = await BankingRepository(session).claim_import(
                self.owner, now, now + self.importer.lease
            )
            if claimed is not None and claimed[2] > MAX_ATTEMPTS:
                record = await session.get(StatementImport, claimed[1])
                if record is not None:
                    record.status, record.finished_at = "failed", now
                    record.error_code = "banking.import_crashed"
                    record.error_detail = (
                        f"the import was interrupted {MAX_ATTEMPTS} times; nothing was imported"
                    )
                    record.lease_owner = record.lease_until = None
                    return True
        if claimed is None:
            return False
        tenant_id, import_id, _ = claimed
        await self.importer.run(tenant_id, import_id, self.owner)
        return True

    async def _loop(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except Exception as exc:  # the database may be away; the lease lets a retry happen
                log.error("banking.import_worker.failed", error=describe(exc))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
