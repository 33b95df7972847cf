"""Event backbone: transactional outbox, consumer inbox and dead letters.

Revision ID: 20261124_0003
Revises: 20261124_0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0003"
down_revision: str | None = "20261124_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_dead_letters",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("consumer", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("replayed_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_dead_letters")),
    )
    with op.batch_alter_table("event_dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_dead_letters_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_event_dead_letters_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_event_dead_letters_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "event_inbox",
        sa.Column("consumer", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_event_inbox")),
    )
    with op.batch_alter_table("event_inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_inbox_processed_at"), ["processed_at"], unique=False
        )

    op.create_table(
        "event_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("dedup_id", sa.String(length=80), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=120), nullable=False),
        sa.Column("ordering_key", sa.String(length=120), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("dedup_id", name=op.f("uq_event_outbox_dedup_id")),
    )
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_outbox_event_id"), ["event_id"], unique=False)
        batch_op.create_index("ix_event_outbox_published_at", ["published_at"], unique=False)
        batch_op.create_index(
            "ix_event_outbox_unsent",
            ["seq"],
            unique=False,
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        )
        batch_op.create_index(
            "ix_event_outbox_unsent_lease",
            ["lease_until"],
            unique=False,
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_event_outbox_unsent_lease",
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_event_outbox_unsent",
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        )
        batch_op.drop_index("ix_event_outbox_published_at")
        batch_op.drop_index(batch_op.f("ix_event_outbox_event_id"))

    op.drop_table("event_outbox")
    with op.batch_alter_table("event_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_inbox_processed_at"))

    op.drop_table("event_inbox")
    with op.batch_alter_table("event_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_dead_letters_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_event_dead_letters_event_id"))
        batch_op.drop_index(batch_op.f("ix_event_dead_letters_created_at"))

    op.drop_table("event_dead_letters")
