"""API contract of the event backbone's operator routes."""

import uuid
from datetime import datetime
from typing import Any, Literal

from autoledger.kit.schemas import ResponseModel


class DeadLetterOut(ResponseModel):
    id: uuid.UUID
    consumer: str
    event_id: uuid.UUID
    event_type: str
    error: str
    attempts: int
    status: Literal["dead", "replayed"]
    created_at: datetime
    replayed_at: datetime | None
    event: dict[str, Any]


class DeadLetterPage(ResponseModel):
    data: list[DeadLetterOut]
    next_cursor: str | None
