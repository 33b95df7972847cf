"""Record, read and verify the audit log.

:func:`record` appends entries in the caller's transaction and never commits: the audit
record commits with the change it describes, or not at all. Per tenant it locks the chain
head, links each record to the previous one and moves the head once. Callers that also
write the ledger call it after every ledger and balance lock (the journal does so at the
very end), so heads are always the last locks taken and lock order stays global.
"""

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.db import sqlite_driver
from autoledger.kit.clock import utcnow
from autoledger.kit.ids import new_id
from autoledger.platform.audit.chain import GENESIS_HASH, record_hash
from autoledger.platform.audit.repository import AuditRepository, Head, append_linked_in
from autoledger.platform.audit.schemas import AuditRecordOut


class ActorType(StrEnum):
    API_KEY = "api_key"
    SYSTEM = "system"
    WORKER = "worker"
    MODEL = "model"
    AGENT = "agent"
    CLI = "cli"


_PREFIXES = {
    "key": ActorType.API_KEY,
    "system": ActorType.SYSTEM,
    "consumer": ActorType.WORKER,
    "worker": ActorType.WORKER,
    "model": ActorType.MODEL,
    "agent": ActorType.AGENT,
    "cli": ActorType.CLI,
}


def actor_type_of(actor: str) -> ActorType:
    """``key:<id>`` → api_key, ``system:expiry`` → system, ``consumer:<name>`` → worker,
    ``model:<version>`` → model, ``agent:<id>`` → agent, ``cli`` → cli; else system."""
    return _PREFIXES.get(actor.partition(":")[0], ActorType.SYSTEM)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One thing that happened: who (``actor``) did what (``action``) to which record.

    ``details`` stays small and never holds secrets or personal data: ids, counts, states.
    """

    tenant_id: uuid.UUID
    actor: str
    action: str
    target_type: str
    change_digest: str
    target_id: str | None = None
    request_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    actor_type: str | None = None  # derived from ``actor`` when not given


async def record(
    session: AsyncSession, entries: Sequence[AuditEntry], *, now: datetime | None = None
) -> None:
    """Append ``entries`` (in order) to their tenants' chains, in the caller's transaction.

    Set-based: one statement creates missing heads, one locks them, one inserts every
    record, one moves the heads (on SQLite all four in one round trip to the driver).
    """
    if not entries:
        return
    occurred_at = now or utcnow()
    await AuditRepository(session).append_linked(
        {e.tenant_id for e in entries}, lambda heads: _link(entries, heads, occurred_at)
    )


def record_in(
    statements: sqlite_driver.Statements,
    entries: Sequence[AuditEntry],
    *,
    now: datetime | None = None,
) -> None:
    """:func:`record` on SQLite, among other statements of one round trip
    (:func:`autoledger.db.sqlite_driver.run`; the journal sends its records with its rows)."""
    if not entries:
        return
    occurred_at = now or utcnow()
    append_linked_in(
        statements,
        sorted({e.tenant_id for e in entries}),
        lambda heads: _link(entries, heads, occurred_at),
    )


def _link(
    entries: Sequence[AuditEntry], heads: dict[uuid.UUID, Head], occurred_at: datetime
) -> list[dict[str, Any]]:
    """The records of ``entries``, each linked to the one before it; ``heads`` (the locked
    heads) is moved to the last record of each chain."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        last_seq, last_hash = heads[entry.tenant_id]
        row: dict[str, Any] = {
            "id": new_id(),
            "tenant_id": entry.tenant_id,
            "seq": last_seq + 1,
            "occurred_at": occurred_at,
            "actor": entry.actor,
            "actor_type": entry.actor_type or actor_type_of(entry.actor).value,
            "action": entry.action,
            "target_type": entry.target_type,
            "target_id": entry.target_id,
            "request_id": entry.request_id,
            "change_digest": entry.change_digest,
            "details": dict(entry.details),
            "prev_hash": last_hash,
        }
        row["hash"] = _hash_of(row)
        rows.append(row)
        heads[entry.tenant_id] = (row["seq"], row["hash"])
    return rows


def _hash_of(row: Any) -> str:
    get = row.__getitem__ if isinstance(row, dict) else row._mapping.__getitem__
    return record_hash(
        get("prev_hash"),
        record_id=get("id"),
        tenant_id=get("tenant_id"),
        seq=get("seq"),
        occurred_at=get("occurred_at"),
        actor=get("actor"),
        actor_type=get("actor_type"),
        action=get("action"),
        target_type=get("target_type"),
        target_id=get("target_id"),
        request_id=get("request_id"),
        change_digest=get("change_digest"),
        details=get("details"),
    )


# Set on a request's session by the API's write helper: services that audit automated work
# themselves (a dead-letter replay from the CLI) leave it to the request when one is running.
_REQUEST_AUDITED = "autoledger.audit.request"


def mark_request_audited(session: AsyncSession) -> None:
    session.info[_REQUEST_AUDITED] = True


def request_audited(session: AsyncSession) -> bool:
    return bool(session.info.get(_REQUEST_AUDITED))


# reading
@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_records(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    where: AuditFilter,
    *,
    after_seq: int = 0,
    limit: int = 100,
) -> Sequence[Any]:
    """A page of records, oldest first (rows with the columns of ``audit_log``)."""
    return await AuditRepository(session).records(
        tenant_id,
        after_seq=after_seq,
        limit=limit,
        actor=where.actor,
        action=where.action,
        target_type=where.target_type,
        target_id=where.target_id,
        since=where.since,
        until=where.until,
    )


def json_line(row: Any) -> bytes:
    """One record as a JSON line: the export format of the API and the CLI."""
    return orjson.dumps(AuditRecordOut.model_validate(row).model_dump(mode="json")) + b"\n"


async def stream_records(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    where: AuditFilter,
    *,
    after_seq: int = 0,
    chunk: int = 1000,
) -> AsyncIterator[Any]:
    """Every matching record, oldest first, read in pages of ``chunk``."""
    while True:
        rows = await list_records(session, tenant_id, where, after_seq=after_seq, limit=chunk)
        for row in rows:
            yield row
        if len(rows) < chunk:
            return
        after_seq = rows[-1].seq


@dataclass(frozen=True, slots=True)
class VerifyReport:
    tenant_id: uuid.UUID
    ok: bool
    records_checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    first_broken_id: uuid.UUID | None = None
    reason: str | None = None


async def verify(session: AsyncSession, tenant_id: uuid.UUID) -> VerifyReport:
    """Replay the tenant's chain from the rows as they are now; name the first record whose
    seq, link or content does not match, or a head that points past the last record."""
    head_seq, head_hash = await AuditRepository(session).head(tenant_id) or (0, GENESIS_HASH)
    checked, prev_seq, prev_hash = 0, 0, GENESIS_HASH

    def broken(row: Any, reason: str) -> VerifyReport:
        return VerifyReport(tenant_id, False, checked, head_seq, head_hash, row.seq, row.id, reason)

    async for row in stream_records(session, tenant_id, AuditFilter()):
        if row.seq != prev_seq + 1:
            return broken(row, f"seq {row.seq} follows seq {prev_seq}: records are missing")
        if row.prev_hash != prev_hash:
            return broken(row, "prev_hash is not the hash of the record before it")
        if _hash_of(row) != row.hash:
            return broken(
                row, "the record does not match its hash: it changed after it was written"
            )
        checked, prev_seq, prev_hash = checked + 1, row.seq, row.hash
    if (prev_seq, prev_hash) != (head_seq, head_hash):
        return VerifyReport(
            tenant_id,
            False,
            checked,
            head_seq,
            head_hash,
            min(head_seq, prev_seq) + 1,
            None,
            f"the head is at seq {head_seq} but the log ends at seq {prev_seq}",
        )
    return VerifyReport(tenant_id, True, checked, head_seq, head_hash)


async def chained_tenants(session: AsyncSession) -> Sequence[uuid.UUID]:
    """Every tenant that has an audit chain (operators verify them all)."""
    return await AuditRepository(session).chained_tenants()
