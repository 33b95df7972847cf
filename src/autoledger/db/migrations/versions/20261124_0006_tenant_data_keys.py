"""Envelope encryption: per-tenant data keys, stored wrapped.

Revision ID: 20261124_0006
Revises: 20261124_0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0006"
down_revision: str | None = "20261124_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_data_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("kek_provider", sa.String(length=32), nullable=False),
        sa.Column("kek_id", sa.String(length=400), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("rewrapped_at", UTCDateTime(), nullable=True),
        sa.Column("destroyed_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_data_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_data_keys")),
        sa.UniqueConstraint(
            "tenant_id",
            "purpose",
            "version",
            name=op.f("uq_tenant_data_keys_tenant_id_purpose_version"),
        ),
    )
    with op.batch_alter_table("tenant_data_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tenant_data_keys_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tenant_data_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_data_keys_tenant_id"))

    op.drop_table("tenant_data_keys")
