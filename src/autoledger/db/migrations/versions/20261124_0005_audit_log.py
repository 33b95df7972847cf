"""Audit log: hash-chained audit records per tenant and their chain heads.

Revision ID: 20261124_0005
Revises: 20261124_0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0005"
down_revision: str | None = "20261124_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_heads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_audit_heads_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "audit_log",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_type", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=120), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("change_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_audit_log_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("tenant_id", "seq", name=op.f("uq_audit_log_tenant_id_seq")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_tenant_id_occurred_at", ["tenant_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_log_tenant_id_target",
            ["tenant_id", "target_type", "target_id"],
            unique=False,
        )
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_tenant_id_target")
        batch_op.drop_index("ix_audit_log_tenant_id_occurred_at")

    op.drop_table("audit_log")
    op.drop_table("audit_heads")


# The audit log is append-only: the database refuses any UPDATE or DELETE of a record, on
# both dialects (as it does for the journal log, migration 0002). The chain heads are updated
# in place by design; their integrity is checked by ``audit verify`` against the records.
_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION autoledger_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'autoledger: % on % refused: the audit log is append-only',
                    TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
            END $$""")
        for name, operation in zip(_TRIGGERS, ("UPDATE", "DELETE"), strict=True):
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {operation} ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION autoledger_refuse_audit_change()"
            )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION autoledger_refuse_audit_change()"
        )
        return
    refuse = "SELECT RAISE(ABORT, 'autoledger: change refused: the audit log is append-only');"
    for name, operation in zip(_TRIGGERS, ("UPDATE", "DELETE"), strict=True):
        op.execute(f"CREATE TRIGGER {name} BEFORE {operation} ON audit_log BEGIN {refuse} END")


def _drop_append_only_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in (*_TRIGGERS, "audit_log_no_truncate") if postgresql else _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}{' ON audit_log' if postgresql else ''}")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS autoledger_refuse_audit_change()")
