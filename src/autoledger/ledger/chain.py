"""The hash chain: canonical encodings of ledger actions and how records link.

Each journal-log record stores ``digest = sha256(canonical(action))`` and
``hash = sha256(prev_hash || digest)``. Verification recomputes the digest from the entry
and posting rows as they are now, so a changed row breaks its record, and recomputes each
hash from its predecessor, so a removed or reordered record breaks the chain.
"""

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class CanonicalPosting:
    account_id: uuid.UUID
    asset: str
    direction: str
    amount: int


def _canonical(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds")


def create_digest(
    *,
    entry_id: uuid.UUID,
    ledger_id: uuid.UUID,
    seq: int,
    status: str,
    effective_date: date,
    recorded_at: datetime,
    description: str,
    metadata: dict[str, Any],
    source_type: str,
    source_id: str | None,
    actor: str,
    client_id: str | None,
    reverses_id: uuid.UUID | None,
    expires_at: datetime | None,
    postings: Sequence[CanonicalPosting],
) -> str:
    payload = {
        "action": "create",
        "entry_id": str(entry_id),
        "ledger_id": str(ledger_id),
        "seq": seq,
        "status": status,
        "effective_date": effective_date.isoformat(),
        "recorded_at": _ts(recorded_at),
        "description": description,
        "metadata": metadata,
        "source": [source_type, source_id],
        "actor": actor,
        "client_id": client_id,
        "reverses_id": None if reverses_id is None else str(reverses_id),
        "expires_at": _ts(expires_at),
        "postings": [[str(p.account_id), p.asset, p.direction, p.amount] for p in postings],
    }
    return hashlib.sha256(_canonical(payload)).hexdigest()


def resolve_digest(
    *, entry_id: uuid.UUID, action: str, recorded_at: datetime, posted_amounts: Sequence[int | None]
) -> str:
    """Digest of posting (``action="post"``, with the amounts booked) or voiding a hold."""
    payload = {
        "action": action,
        "entry_id": str(entry_id),
        "recorded_at": _ts(recorded_at),
        "posted_amounts": list(posted_amounts),
    }
    return hashlib.sha256(_canonical(payload)).hexdigest()


def link(prev_hash: str, digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}{digest}".encode()).hexdigest()
