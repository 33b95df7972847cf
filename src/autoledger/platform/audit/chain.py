"""The audit chain: the canonical encoding of a record and how records link.

``hash = sha256(prev_hash || canonical(record))`` where the canonical encoding is sorted-key
JSON of every column but the hashes themselves. Verification recomputes it from the rows as
they are now, so an edited column breaks its record, and checks each ``prev_hash`` and the
contiguous ``seq``, so a removed or reordered record breaks the chain.
"""

import hashlib
import uuid
from datetime import datetime
from typing import Any

import orjson

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    """Sorted-key JSON: the same value always encodes to the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def change_digest(value: Any) -> str:
    """SHA-256 of a change: raw bytes as they are (a response body), anything else as
    canonical JSON (a command)."""
    raw = value if isinstance(value, bytes) else canonical_json(value)
    return hashlib.sha256(raw).hexdigest()


def record_hash(
    prev_hash: str,
    *,
    record_id: uuid.UUID,
    tenant_id: uuid.UUID,
    seq: int,
    occurred_at: datetime,
    actor: str,
    actor_type: str,
    action: str,
    target_type: str,
    target_id: str | None,
    request_id: str | None,
    change_digest: str,
    details: dict[str, Any],
) -> str:
    payload = {
        "id": str(record_id),
        "tenant_id": str(tenant_id),
        "seq": seq,
        "occurred_at": occurred_at.isoformat(timespec="microseconds"),
        "actor": actor,
        "actor_type": actor_type,
        "action": action,
        "target": [target_type, target_id],
        "request_id": request_id,
        "change_digest": change_digest,
        "details": details,
    }
    return hashlib.sha256(prev_hash.encode() + canonical_json(payload)).hexdigest()
