"""Categorization: per-ledger settings, rules, proposals, labels and model versions, with
the row-level security policy of every tenant table (PostgreSQL; see 0008).

Revision ID: 20261124_0010
Revises: 20261124_0009
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0010"
down_revision: str | None = "20261124_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TABLES = (
    "categorization_settings",
    "categorization_rules",
    "categorization_proposals",
    "categorization_labels",
    "ml_models",
)
_CURRENT = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "categorization_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("conditions", JSON, nullable=False),
        sa.Column("account_code", sa.String(length=40), nullable=False),
        sa.Column("counterparty", sa.String(length=200), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_categorization_rules_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_categorization_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categorization_rules")),
    )
    with op.batch_alter_table("categorization_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_categorization_rules_ledger_id"), ["ledger_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_categorization_rules_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "categorization_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("auto_book", sa.Boolean(), nullable=False),
        sa.Column("target_precision", sa.Float(), nullable=False),
        sa.Column("min_feedback", sa.Integer(), nullable=False),
        sa.Column("retrain_after", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_categorization_settings_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_categorization_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categorization_settings")),
        sa.UniqueConstraint("ledger_id", name=op.f("uq_categorization_settings_ledger_id")),
    )
    with op.batch_alter_table("categorization_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_categorization_settings_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "ml_models",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("calibrator", JSON, nullable=True),
        sa.Column("thresholds", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("last_label_id", sa.Uuid(), nullable=True),
        sa.Column("window_start", UTCDateTime(), nullable=True),
        sa.Column("window_end", UTCDateTime(), nullable=True),
        sa.Column("training_seconds", sa.Float(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("promoted_by", sa.String(length=200), nullable=True),
        sa.Column("promoted_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_ml_models_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ml_models_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ml_models")),
        sa.UniqueConstraint("ledger_id", "version", name=op.f("uq_ml_models_ledger_id_version")),
    )
    with op.batch_alter_table("ml_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ml_models_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "categorization_proposals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("bank_account_id", sa.Uuid(), nullable=False),
        sa.Column("bank_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("impact", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("top", JSON, nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("explanation", JSON, nullable=False),
        sa.Column("model_version", sa.String(length=80), nullable=True),
        sa.Column("account_code", sa.String(length=40), nullable=True),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("reversed_entry_ids", JSON, nullable=False),
        sa.Column("auto_booked", sa.Boolean(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_accounts.id"],
            name=op.f("fk_categorization_proposals_bank_account_id_bank_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["bank_transaction_id"],
            ["bank_transactions.id"],
            name=op.f("fk_categorization_proposals_bank_transaction_id_bank_transactions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_categorization_proposals_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_categorization_proposals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categorization_proposals")),
        sa.UniqueConstraint(
            "bank_transaction_id", name=op.f("uq_categorization_proposals_bank_transaction_id")
        ),
    )
    with op.batch_alter_table("categorization_proposals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_categorization_proposals_queue", ["ledger_id", "status", "impact"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_categorization_proposals_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "categorization_labels",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("account_code", sa.String(length=40), nullable=False),
        sa.Column("proposed_code", sa.String(length=40), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("auto_booked", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f("fk_categorization_labels_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["categorization_proposals.id"],
            name=op.f("fk_categorization_labels_proposal_id_categorization_proposals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_categorization_labels_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categorization_labels")),
    )
    with op.batch_alter_table("categorization_labels", schema=None) as batch_op:
        batch_op.create_index(
            "ix_categorization_labels_ledger_id_id", ["ledger_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_categorization_labels_tenant_id"), ["tenant_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table}"
                f" USING (tenant_id = {_CURRENT}) WITH CHECK (tenant_id = {_CURRENT})"
            )


def downgrade() -> None:
    with op.batch_alter_table("categorization_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_categorization_labels_tenant_id"))
        batch_op.drop_index("ix_categorization_labels_ledger_id_id")

    op.drop_table("categorization_labels")
    with op.batch_alter_table("categorization_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_categorization_proposals_tenant_id"))
        batch_op.drop_index("ix_categorization_proposals_queue")

    op.drop_table("categorization_proposals")
    with op.batch_alter_table("ml_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ml_models_tenant_id"))

    op.drop_table("ml_models")
    with op.batch_alter_table("categorization_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_categorization_settings_tenant_id"))

    op.drop_table("categorization_settings")
    with op.batch_alter_table("categorization_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_categorization_rules_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_categorization_rules_ledger_id"))

    op.drop_table("categorization_rules")
