"""The CloudEvents 1.0 envelope every autoledger event travels in.

The envelope is the contract with every consumer, ours and customers': ``id`` is a UUIDv7
(time-ordered, so ids sort roughly by creation), ``type`` is versioned
(``ledger.entry.posted.v1``), ``tenant`` and ``partitionkey`` are CloudEvents extension
attributes: the owning tenant, and the ordering key (``tenant/ledger``) under which the relay
and the brokers keep events in order.
"""

import uuid
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from autoledger.kit.clock import utcnow
from autoledger.kit.ids import new_id

SOURCE = "/autoledger"


class Event(BaseModel):
    """One fact, in the CloudEvents 1.0 JSON format (structured mode)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID = Field(description="UUIDv7; also the broker's deduplication id")
    source: str = Field(description="URI reference of the producer, e.g. /autoledger/ledger")
    type: str = Field(description="Versioned event type, e.g. ledger.entry.posted.v1")
    subject: str = Field(description="What the event is about, e.g. entries/{entry_id}")
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    tenant: uuid.UUID = Field(description="Extension attribute: the owning tenant")
    partitionkey: str = Field(description="Extension attribute: the ordering key tenant/ledger")
    data: dict[str, Any]

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, body: bytes | str) -> "Event":
        return cls.model_validate_json(body)


def make_event(
    *,
    event_type: str,
    tenant_id: uuid.UUID,
    subject: str,
    data: BaseModel,
    ordering_key: str,
    source: str = SOURCE,
    time: datetime | None = None,
) -> Event:
    return Event(
        id=new_id(),
        source=source,
        type=event_type,
        subject=subject,
        time=time or utcnow(),
        tenant=tenant_id,
        partitionkey=ordering_key,
        data=data.model_dump(mode="json"),
    )
