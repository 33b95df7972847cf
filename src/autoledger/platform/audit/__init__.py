"""The audit log: who did what to which record, when, hash-chained per tenant."""

from autoledger.platform.audit.chain import change_digest
from autoledger.platform.audit.service import (
    ActorType,
    AuditEntry,
    mark_request_audited,
    record,
    record_in,
    request_audited,
)

__all__ = [
    "ActorType",
    "AuditEntry",
    "change_digest",
    "mark_request_audited",
    "record",
    "record_in",
    "request_audited",
]
