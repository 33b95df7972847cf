"""Bank reconciliations: a bank account reconciled to a statement date (the signed-off
report, and the lock of the lines it covers), and the setting that runs the matcher after
each statement import (ADR 0012, decision 7), with the row-level security policy of the new
tenant table (PostgreSQL; see 0008).

Revision ID: 20261124_0013
Revises: 20261124_0012
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0013"
down_revision: str | None = "20261124_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ACTIVE = sa.text("status = 'reconciled'")
_CURRENT = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "bank_reconciliations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("bank_account_id", sa.Uuid(), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("statement_balance", sa.BigInteger(), nullable=False),
        sa.Column("ledger_balance", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("reconciled_by", sa.String(length=200), nullable=False),
        sa.Column("reopened_by", sa.String(length=200), nullable=True),
        sa.Column("reopened_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_accounts.id"],
            name=op.f("fk_bank_reconciliations_bank_account_id_bank_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_bank_reconciliations_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_bank_reconciliations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_reconciliations")),
    )
    with op.batch_alter_table("bank_reconciliations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bank_reconciliations_account",
            ["tenant_id", "bank_account_id", "statement_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_bank_reconciliations_tenant_id"), ["tenant_id"], unique=False
        )
        # one signed-off reconciliation per account and date (a reopened one may be redone)
        batch_op.create_index(
            "uq_bank_reconciliations_active",
            ["bank_account_id", "statement_date"],
            unique=True,
            postgresql_where=ACTIVE,
            sqlite_where=ACTIVE,
        )

    with op.batch_alter_table("reconcile_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("run_on_import", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE bank_reconciliations ENABLE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON bank_reconciliations"
            f" USING (tenant_id = {_CURRENT}) WITH CHECK (tenant_id = {_CURRENT})"
        )


def downgrade() -> None:
    with op.batch_alter_table("reconcile_settings", schema=None) as batch_op:
        batch_op.drop_column("run_on_import")

    with op.batch_alter_table("bank_reconciliations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bank_reconciliations_active", postgresql_where=ACTIVE, sqlite_where=ACTIVE
        )
        batch_op.drop_index(batch_op.f("ix_bank_reconciliations_tenant_id"))
        batch_op.drop_index("ix_bank_reconciliations_account")

    op.drop_table("bank_reconciliations")
