"""Outbox, inbox and dead letters: the database half of the event backbone."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from autoledger.db.base import Base, IdMixin

# SQLite only auto-increments an INTEGER PRIMARY KEY.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class OutboxRecord(Base):
    """An event waiting to be (or already) published; written in the business transaction.

    ``seq`` is the commit-independent insertion order the relay publishes in; ``dedup_id`` is
    the broker's deduplication id (the event id, or a distinct id for a dead-letter replay).

    A **bundle** row stands for ``weight`` events that the expander it names builds when the
    relay publishes it (see ``outbox.register_expander``; ADR 0020): a statement import
    queues one row per chunk of lines instead of one per line. A plain event has no expander
    and weight 1.
    """

    __tablename__ = "event_outbox"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column()
    dedup_id: Mapped[str] = mapped_column(String(80), unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    type: Mapped[str] = mapped_column(String(120))
    ordering_key: Mapped[str] = mapped_column(String(120))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    expander: Mapped[str | None] = mapped_column(String(60))
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    __table_args__ = (
        # The relay's claim scans only unsent rows, in order.
        Index(
            "ix_event_outbox_unsent",
            "seq",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
        # Keys held by a lease or a retry delay (see outbox.claim): a range scan of few rows.
        Index(
            "ix_event_outbox_unsent_lease",
            "lease_until",
            postgresql_where=text("published_at IS NULL AND lease_until IS NOT NULL"),
            sqlite_where=text("published_at IS NULL AND lease_until IS NOT NULL"),
        ),
        # The purge of old published rows (an unsent row is not in it: one index less to
        # write per event).
        Index(
            "ix_event_outbox_published_at",
            "published_at",
            postgresql_where=text("published_at IS NOT NULL"),
            sqlite_where=text("published_at IS NOT NULL"),
        ),
    )


class InboxRecord(Base):
    """``(consumer, event_id)`` once the consumer's effect committed: a redelivery is a no-op."""

    __tablename__ = "event_inbox"

    consumer: Mapped[str] = mapped_column(String(120), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(index=True)


class DeadLetter(IdMixin, Base):
    """An event a consumer gave up on after its last attempt, with the error, for replay."""

    __tablename__ = "event_dead_letters"

    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    consumer: Mapped[str] = mapped_column(String(120))
    event_id: Mapped[uuid.UUID] = mapped_column(index=True)
    event_type: Mapped[str] = mapped_column(String(120))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="dead")  # dead | replayed
    created_at: Mapped[datetime] = mapped_column(index=True)
    replayed_at: Mapped[datetime | None] = mapped_column()
