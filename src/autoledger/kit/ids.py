"""Identifiers: UUIDv7 (time-ordered, so B-tree inserts stay at the right edge)."""

import uuid

from uuid6 import uuid7


def new_id() -> uuid.UUID:
    """A fresh UUIDv7 as a stdlib :class:`uuid.UUID`."""
    return uuid.UUID(bytes=uuid7().bytes)
