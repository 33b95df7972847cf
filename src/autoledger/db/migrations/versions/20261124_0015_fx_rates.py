"""Exchange rates per tenant (ADR 0017), with the row-level security policy of the new
tenant table (PostgreSQL; see 0008).

Revision ID: 20261124_0015
Revises: 20261124_0014
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0015"
down_revision: str | None = "20261124_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CURRENT = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("base", sa.String(length=16), nullable=False),
        sa.Column("quote", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_fx_rates_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
        sa.UniqueConstraint(
            "tenant_id", "base", "quote", "day", name=op.f("uq_fx_rates_tenant_id_base_quote_day")
        ),
    )
    with op.batch_alter_table("fx_rates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fx_rates_tenant_id"), ["tenant_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE fx_rates ENABLE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON fx_rates"
            f" USING (tenant_id = {_CURRENT}) WITH CHECK (tenant_id = {_CURRENT})"
        )


def downgrade() -> None:
    with op.batch_alter_table("fx_rates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fx_rates_tenant_id"))
    op.drop_table("fx_rates")
