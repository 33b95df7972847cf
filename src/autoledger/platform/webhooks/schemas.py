"""The webhook API contract."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from autoledger.kit.schemas import RequestModel, ResponseModel

FILTERS_DESCRIPTION = (
    "Event types to send: exact catalog names (`ledger.entry.posted.v1`), prefix patterns "
    "(`ledger.entry.*`) or `*` for every event."
)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class EndpointCreate(RequestModel):
    url: str = Field(min_length=1, max_length=2048, examples=["https://example.com/webhooks"])
    description: str = Field(default="", max_length=500)
    event_types: list[str] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=100, description=FILTERS_DESCRIPTION
    )
    enabled: bool = True


class EndpointUpdate(RequestModel):
    """Only the fields sent change; ``enabled: true`` re-enables an auto-disabled endpoint."""

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] | None = Field(
        default=None, min_length=1, max_length=100, description=FILTERS_DESCRIPTION
    )
    enabled: bool | None = None


class EndpointOut(ResponseModel):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = Field(description="Why the endpoint was disabled, if it is")
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then messages are also signed with the secret before the last rotation"
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        description="The signing secret (`whsec_...`). Shown on creation and rotation only."
    )


class DeliveryOut(ResponseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    succeeded_at: datetime | None
    created_at: datetime


class AttemptOut(ResponseModel):
    id: uuid.UUID
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None = Field(description="The first kilobyte of the response body")


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first")


class DeliveryPage(ResponseModel):
    data: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page")
