"""Open items of reconciliation: open-item managed accounts, open items and their
settlements (ADR 0012), with the row-level security policy of every tenant table
(PostgreSQL; see 0008).

Revision ID: 20261124_0011
Revises: 20261124_0010
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0011"
down_revision: str | None = "20261124_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("open_item_accounts", "open_items", "open_item_settlements")
_CURRENT = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def _tenant_and_ledger(table: str) -> list[SchemaItem]:
    return [
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["ledgers.id"],
            name=op.f(f"fk_{table}_ledger_id_ledgers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f(f"fk_{table}_account_id_accounts"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "open_item_accounts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        *_tenant_and_ledger("open_item_accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_item_accounts")),
        sa.UniqueConstraint(
            "ledger_id", "account_id", name=op.f("uq_open_item_accounts_ledger_id_account_id")
        ),
    )
    with op.batch_alter_table("open_item_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open_item_accounts_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "open_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("posting_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("counterparty", sa.String(length=200), nullable=True),
        sa.Column("counterparty_id", sa.String(length=200), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("issued", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("open_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        *_tenant_and_ledger("open_items"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_items")),
        sa.UniqueConstraint(
            "entry_id", "posting_index", name=op.f("uq_open_items_entry_id_posting_index")
        ),
    )
    with op.batch_alter_table("open_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_open_items_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_open_items_tenant_id_ledger_id_status",
            ["tenant_id", "ledger_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            "ix_open_items_tenant_id_ledger_id_reference",
            ["tenant_id", "ledger_id", "reference"],
            unique=False,
        )

    op.create_table(
        "open_item_settlements",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("open_item_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("posting_index", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=True),
        sa.Column("reversed_by_entry_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_open_item_settlements_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["open_item_id"],
            ["open_items.id"],
            name=op.f("fk_open_item_settlements_open_item_id_open_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_item_settlements")),
    )
    with op.batch_alter_table("open_item_settlements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open_item_settlements_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_open_item_settlements_open_item_id"), ["open_item_id"], unique=False
        )
        batch_op.create_index("ix_open_item_settlements_entry_id", ["entry_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table}"
                f" USING (tenant_id = {_CURRENT}) WITH CHECK (tenant_id = {_CURRENT})"
            )


def downgrade() -> None:
    with op.batch_alter_table("open_item_settlements", schema=None) as batch_op:
        batch_op.drop_index("ix_open_item_settlements_entry_id")
        batch_op.drop_index(batch_op.f("ix_open_item_settlements_open_item_id"))
        batch_op.drop_index(batch_op.f("ix_open_item_settlements_tenant_id"))

    op.drop_table("open_item_settlements")
    with op.batch_alter_table("open_items", schema=None) as batch_op:
        batch_op.drop_index("ix_open_items_tenant_id_ledger_id_reference")
        batch_op.drop_index("ix_open_items_tenant_id_ledger_id_status")
        batch_op.drop_index(batch_op.f("ix_open_items_tenant_id"))

    op.drop_table("open_items")
    with op.batch_alter_table("open_item_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open_item_accounts_tenant_id"))

    op.drop_table("open_item_accounts")
