"""Outbox bundles (ADR 0020): a row may stand for many events that a registered expander
builds when the relay publishes it (``expander``, ``weight``); a bank line keeps its
counterparty account's mask, which its event carries. The outbox loses the index no query
used (``event_id``) and indexes lease and publication times only where they are set.

Revision ID: 20261124_0017
Revises: 20261124_0016
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261124_0017"
down_revision: str | None = "20261124_0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "published_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expander", sa.String(length=60), nullable=True))
        batch_op.add_column(
            sa.Column("weight", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.drop_index(batch_op.f("ix_event_outbox_event_id"))
        batch_op.drop_index("ix_event_outbox_published_at")
        batch_op.drop_index(
            "ix_event_outbox_unsent_lease",
            postgresql_where=sa.text(UNSENT),
            sqlite_where=sa.text(UNSENT),
        )
        batch_op.create_index(
            "ix_event_outbox_published_at",
            ["published_at"],
            unique=False,
            postgresql_where=sa.text("published_at IS NOT NULL"),
            sqlite_where=sa.text("published_at IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_event_outbox_unsent_lease",
            ["lease_until"],
            unique=False,
            postgresql_where=sa.text(f"{UNSENT} AND lease_until IS NOT NULL"),
            sqlite_where=sa.text(f"{UNSENT} AND lease_until IS NOT NULL"),
        )
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("counterparty_account_masked", sa.String(length=40), nullable=True)
        )


def downgrade() -> None:
    # An unsent bundle would become a plain event whose body is the bundle's: its events
    # would be lost. Let the relay drain them first.
    unsent = op.get_bind().scalar(
        sa.text(
            "SELECT coalesce(sum(weight), 0) FROM event_outbox"
            " WHERE expander IS NOT NULL AND published_at IS NULL"
        )
    )
    if unsent:
        raise RuntimeError(
            f"{unsent} events wait in unsent outbox bundles: run a worker until the outbox"
            " is drained, then downgrade"
        )
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.drop_column("counterparty_account_masked")
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_event_outbox_unsent_lease",
            postgresql_where=sa.text(f"{UNSENT} AND lease_until IS NOT NULL"),
            sqlite_where=sa.text(f"{UNSENT} AND lease_until IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_event_outbox_published_at",
            postgresql_where=sa.text("published_at IS NOT NULL"),
            sqlite_where=sa.text("published_at IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_event_outbox_unsent_lease",
            ["lease_until"],
            unique=False,
            postgresql_where=sa.text(UNSENT),
            sqlite_where=sa.text(UNSENT),
        )
        batch_op.create_index("ix_event_outbox_published_at", ["published_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_outbox_event_id"), ["event_id"], unique=False)
        batch_op.drop_column("weight")
        batch_op.drop_column("expander")
