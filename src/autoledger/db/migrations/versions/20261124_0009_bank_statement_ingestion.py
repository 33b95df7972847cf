"""Bank statement ingestion: bank accounts, CSV profiles, imports and bank transactions,
with the row-level security policy of every tenant table (PostgreSQL; see 0008).

Revision ID: 20261124_0009
Revises: 20261124_0008
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0009"
down_revision: str | None = "20261124_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TABLES = ("bank_csv_profiles", "bank_accounts", "bank_imports", "bank_transactions")
_CURRENT = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "bank_csv_profiles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_bank_csv_profiles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_csv_profiles")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_bank_csv_profiles_tenant_id_name")),
    )
    with op.batch_alter_table("bank_csv_profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_csv_profiles_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "bank_accounts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("gl_account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("institution", sa.String(length=200), nullable=True),
        sa.Column("account_number_enc", sa.Text(), nullable=True),
        sa.Column("account_number_index", sa.String(length=64), nullable=True),
        sa.Column("account_number_last4", sa.String(length=4), nullable=True),
        sa.Column("csv_profile", JSON, nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gl_account_id"], ["accounts.id"], name=op.f("fk_bank_accounts_gl_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["ledgers.id"], name=op.f("fk_bank_accounts_ledger_id_ledgers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_bank_accounts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_accounts")),
        sa.UniqueConstraint(
            "tenant_id",
            "account_number_index",
            name=op.f("uq_bank_accounts_tenant_id_account_number_index"),
        ),
    )
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bank_accounts_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "bank_imports",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("bank_account_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("skip_invalid", sa.Boolean(), nullable=False),
        sa.Column("accept_unbalanced", sa.Boolean(), nullable=False),
        sa.Column("profile", JSON, nullable=True),
        sa.Column("profile_name", sa.String(length=100), nullable=True),
        sa.Column("lines_total", sa.Integer(), nullable=False),
        sa.Column("lines_new", sa.Integer(), nullable=False),
        sa.Column("lines_duplicate", sa.Integer(), nullable=False),
        sa.Column("lines_rejected", sa.Integer(), nullable=False),
        sa.Column("progress_lines", sa.Integer(), nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_accounts.id"],
            name=op.f("fk_bank_imports_bank_account_id_bank_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_bank_imports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_imports")),
    )
    with op.batch_alter_table("bank_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_imports_bank_account_id"), ["bank_account_id"], unique=False
        )
        batch_op.create_index(
            "ix_bank_imports_status_created", ["status", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bank_imports_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "bank_transactions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("bank_account_id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("statement_index", sa.Integer(), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("counterparty_name", sa.String(length=500), nullable=True),
        sa.Column("counterparty_account_enc", sa.Text(), nullable=True),
        sa.Column("bank_reference", sa.String(length=200), nullable=True),
        sa.Column("end_to_end_id", sa.String(length=200), nullable=True),
        sa.Column("transaction_code", sa.String(length=100), nullable=True),
        sa.Column("running_balance", sa.BigInteger(), nullable=True),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("dedup_key", sa.String(length=32), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_accounts.id"],
            name=op.f("fk_bank_transactions_bank_account_id_bank_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_transactions")),
        sa.UniqueConstraint(
            "bank_account_id",
            "dedup_key",
            name=op.f("uq_bank_transactions_bank_account_id_dedup_key"),
        ),
    )
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bank_transactions_account_date",
            ["bank_account_id", "booking_date", "id"],
            unique=False,
        )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table}"
                f" USING (tenant_id = {_CURRENT}) WITH CHECK (tenant_id = {_CURRENT})"
            )


def downgrade() -> None:
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_transactions_account_date")

    op.drop_table("bank_transactions")
    with op.batch_alter_table("bank_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_imports_tenant_id"))
        batch_op.drop_index("ix_bank_imports_status_created")
        batch_op.drop_index(batch_op.f("ix_bank_imports_bank_account_id"))

    op.drop_table("bank_imports")
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_accounts_tenant_id"))

    op.drop_table("bank_accounts")
    with op.batch_alter_table("bank_csv_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_csv_profiles_tenant_id"))

    op.drop_table("bank_csv_profiles")
