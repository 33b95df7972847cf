"""The audit log's API contract."""

import uuid
from datetime import datetime
from typing import Any

from autoledger.kit.schemas import ResponseModel


class AuditRecordOut(ResponseModel):
    id: uuid.UUID
    seq: int
    occurred_at: datetime
    actor: str
    actor_type: str
    action: str
    target_type: str
    target_id: str | None
    request_id: str | None
    change_digest: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(ResponseModel):
    data: list[AuditRecordOut]
    next_cursor: str | None


class AuditVerifyOut(ResponseModel):
    ok: bool
    records_checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None
    first_broken_id: uuid.UUID | None
    reason: str | None
