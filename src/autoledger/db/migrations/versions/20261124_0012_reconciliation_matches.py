"""Reconciliation matches: settings, matches with their lines and allocations, the lock of
reconciled lines, rejections, feedback and aliases (ADR 0012), with the row-level security
policy of every tenant table (PostgreSQL; see 0008).

Revision ID: 20261124_0012
Revises: 20261124_0011
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0012"
down_revision: str | None = "20261124_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TABLES = (
    "reconcile_settings",
    "reconcile_matches",
    "reconcile_match_lines",
    "reconcile_match_items",
    "reconciled_lines",
    "reconcile_rejections",
    "reconcile_feedback",
    "reconcile_aliases",
)
_CURRENT = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "reconcile_aliases",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("party", sa.String(length=200), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_reconcile_aliases_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconcile_aliases_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_aliases")),
        sa.UniqueConstraint(
            "ledger_id", "alias", name=op.f("uq_reconcile_aliases_ledger_id_alias")
        ),
    )
    with op.batch_alter_table("reconcile_aliases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconcile_aliases_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconcile_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("auto_reconcile", sa.Boolean(), nullable=False),
        sa.Column("target_precision", sa.Float(), nullable=False),
        sa.Column("tolerances", JSON, nullable=False),
        sa.Column("writeoff_accounts", JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_reconcile_settings_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconcile_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_settings")),
        sa.UniqueConstraint("ledger_id", name=op.f("uq_reconcile_settings_ledger_id")),
    )
    with op.batch_alter_table("reconcile_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconcile_settings_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconcile_matches",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("bank_account_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("features", JSON, nullable=False),
        sa.Column("explanation", JSON, nullable=False),
        sa.Column("writeoffs", JSON, nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("reversal_entry_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_accounts.id"],
            name=op.f("fk_reconcile_matches_bank_account_id_bank_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_reconcile_matches_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconcile_matches_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_matches")),
    )
    with op.batch_alter_table("reconcile_matches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconcile_matches_bank_status",
            ["tenant_id", "bank_account_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reconcile_matches_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconcile_feedback",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_reconcile_feedback_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["reconcile_matches.id"],
            name=op.f("fk_reconcile_feedback_match_id_reconcile_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconcile_feedback_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_feedback")),
        sa.UniqueConstraint("match_id", name=op.f("uq_reconcile_feedback_match_id")),
    )
    with op.batch_alter_table("reconcile_feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconcile_feedback_ledger_id"), ["ledger_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconcile_feedback_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconcile_match_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("open_item_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["reconcile_matches.id"],
            name=op.f("fk_reconcile_match_items_match_id_reconcile_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["open_item_id"],
            ["open_items.id"],
            name=op.f("fk_reconcile_match_items_open_item_id_open_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconcile_match_items_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("match_id", "open_item_id", name=op.f("pk_reconcile_match_items")),
    )
    with op.batch_alter_table("reconcile_match_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconcile_match_items_open_item_id"), ["open_item_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconcile_match_items_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconcile_match_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("bank_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_transaction_id"],
            ["bank_transactions.id"],
            name=op.f("fk_reconcile_match_lines_bank_transaction_id_bank_transactions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["reconcile_matches.id"],
            name=op.f("fk_reconcile_match_lines_match_id_reconcile_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconcile_match_lines_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "match_id", "bank_transaction_id", name=op.f("pk_reconcile_match_lines")
        ),
    )
    with op.batch_alter_table("reconcile_match_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconcile_match_lines_bank_transaction_id"),
            ["bank_transaction_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reconcile_match_lines_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconcile_rejections",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("bank_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("open_item_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_transaction_id"],
            ["bank_transactions.id"],
            name=op.f("fk_reconcile_rejections_bank_transaction_id_bank_transactions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_reconcile_rejections_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["open_item_id"],
            ["open_items.id"],
            name=op.f("fk_reconcile_rejections_open_item_id_open_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconcile_rejections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_rejections")),
        sa.UniqueConstraint(
            "bank_transaction_id",
            "open_item_id",
            name=op.f("uq_reconcile_rejections_bank_transaction_id_open_item_id"),
        ),
    )
    with op.batch_alter_table("reconcile_rejections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconcile_rejections_ledger_id"), ["ledger_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconcile_rejections_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconciled_lines",
        sa.Column("bank_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_transaction_id"],
            ["bank_transactions.id"],
            name=op.f("fk_reconciled_lines_bank_transaction_id_bank_transactions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["reconcile_matches.id"],
            name=op.f("fk_reconciled_lines_match_id_reconcile_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconciled_lines_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bank_transaction_id", name=op.f("pk_reconciled_lines")),
    )
    with op.batch_alter_table("reconciled_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciled_lines_match_id"), ["match_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconciled_lines_tenant_id"), ["tenant_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table}"
                f" USING (tenant_id = {_CURRENT}) WITH CHECK (tenant_id = {_CURRENT})"
            )


def downgrade() -> None:
    with op.batch_alter_table("reconciled_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciled_lines_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_reconciled_lines_match_id"))

    op.drop_table("reconciled_lines")
    with op.batch_alter_table("reconcile_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_rejections_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_reconcile_rejections_ledger_id"))

    op.drop_table("reconcile_rejections")
    with op.batch_alter_table("reconcile_match_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_match_lines_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_reconcile_match_lines_bank_transaction_id"))

    op.drop_table("reconcile_match_lines")
    with op.batch_alter_table("reconcile_match_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_match_items_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_reconcile_match_items_open_item_id"))

    op.drop_table("reconcile_match_items")
    with op.batch_alter_table("reconcile_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_feedback_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_reconcile_feedback_ledger_id"))

    op.drop_table("reconcile_feedback")
    with op.batch_alter_table("reconcile_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_matches_tenant_id"))
        batch_op.drop_index("ix_reconcile_matches_bank_status")

    op.drop_table("reconcile_matches")
    with op.batch_alter_table("reconcile_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_settings_tenant_id"))

    op.drop_table("reconcile_settings")
    with op.batch_alter_table("reconcile_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_aliases_tenant_id"))

    op.drop_table("reconcile_aliases")
