"""Report aggregates: posted debits and credits per account, asset and effective date, and
per month (ADR 0015), kept by the journal in the transaction that books the postings.
Backfilled here from every posted posting, with the row-level security policy of the new
tenant tables (PostgreSQL; see 0008).

Revision ID: 20261124_0014
Revises: 20261124_0013
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261124_0014"
down_revision: str | None = "20261124_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (("account_day_totals", "day"), ("account_month_totals", "month"))
_CURRENT = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def backfill_statements(dialect: str) -> list[str]:
    """The statements that rebuild both aggregates from the postings (the benchmark runs
    the same ones after bulk-loading postings)."""
    month = (
        "date_trunc('month', day)::date"
        if dialect == "postgresql"
        else "date(day, 'start of month')"
    )
    return [
        "INSERT INTO account_day_totals"
        " (account_id, asset, day, tenant_id, ledger_id, debits, credits)"
        " SELECT account_id, asset, effective_date, tenant_id, ledger_id,"
        " sum(CASE WHEN direction = 'debit' THEN posted_amount ELSE 0 END),"
        " sum(CASE WHEN direction = 'credit' THEN posted_amount ELSE 0 END)"
        " FROM postings WHERE posted_amount IS NOT NULL"
        " GROUP BY account_id, asset, effective_date, tenant_id, ledger_id",
        "INSERT INTO account_month_totals"
        " (account_id, asset, month, tenant_id, ledger_id, debits, credits)"
        f" SELECT account_id, asset, {month}, tenant_id, ledger_id, sum(debits), sum(credits)"
        " FROM account_day_totals"
        f" GROUP BY account_id, asset, {month}, tenant_id, ledger_id",
    ]


def upgrade() -> None:
    for table, bucket in TABLES:
        op.create_table(
            table,
            sa.Column("account_id", sa.Uuid(), nullable=False),
            sa.Column("asset", sa.String(length=16), nullable=False),
            sa.Column(bucket, sa.Date(), nullable=False),
            sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("ledger_id", sa.Uuid(), nullable=False),
            sa.Column("debits", sa.BigInteger(), nullable=False),
            sa.Column("credits", sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(
                ["account_id"], ["accounts.id"], name=op.f(f"fk_{table}_account_id_accounts")
            ),
            sa.ForeignKeyConstraint(
                ["ledger_id"], ["ledgers.id"], name=op.f(f"fk_{table}_ledger_id_ledgers")
            ),
            sa.ForeignKeyConstraint(
                ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants")
            ),
            sa.PrimaryKeyConstraint("account_id", "asset", bucket, name=op.f(f"pk_{table}")),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_tenant_id"), ["tenant_id"])
            batch_op.create_index(
                batch_op.f(f"ix_{table}_ledger_id_{bucket}"), ["ledger_id", bucket]
            )

    dialect = op.get_bind().dialect.name
    for statement in backfill_statements(dialect):
        op.execute(statement)
    if dialect == "postgresql":
        for table, _ in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table}"
                f" USING (tenant_id = {_CURRENT}) WITH CHECK (tenant_id = {_CURRENT})"
            )


def downgrade() -> None:
    for table, bucket in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_ledger_id_{bucket}"))
            batch_op.drop_index(batch_op.f(f"ix_{table}_tenant_id"))
        op.drop_table(table)
