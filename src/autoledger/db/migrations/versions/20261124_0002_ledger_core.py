"""Ledger core: assets, ledgers, accounts, balances, journal entries, postings, journal log
(hash chain), periods and idempotency keys, with append-only triggers.

Revision ID: 20261124_0002
Revises: 20261124_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0002"
down_revision: str | None = "20261124_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_assets_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_assets_tenant_id_code")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_idempotency_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "ledgers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_currency", sa.String(length=16), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ledgers_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledgers")),
    )
    with op.batch_alter_table("ledgers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledgers_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("asset", sa.String(length=16), nullable=True),
        sa.Column("debits_must_not_exceed_credits", sa.Boolean(), nullable=False),
        sa.Column("credits_must_not_exceed_debits", sa.Boolean(), nullable=False),
        sa.Column("balance_limit", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["ledgers.id"], name=op.f("fk_accounts_ledger_id_ledgers")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["accounts.id"], name=op.f("fk_accounts_parent_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_accounts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("ledger_id", "code", name=op.f("uq_accounts_ledger_id_code")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "journal_entries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["ledgers.id"], name=op.f("fk_journal_entries_ledger_id_ledgers")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["journal_entries.id"],
            name=op.f("fk_journal_entries_reverses_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_journal_entries_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint(
            "ledger_id", "client_id", name=op.f("uq_journal_entries_ledger_id_client_id")
        ),
        sa.UniqueConstraint("ledger_id", "seq", name=op.f("uq_journal_entries_ledger_id_seq")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_journal_entries_reverses_id")),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journal_entries_ledger_id_effective_date",
            ["ledger_id", "effective_date"],
            unique=False,
        )
        batch_op.create_index(
            "ix_journal_entries_status_expires_at", ["status", "expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_journal_entries_tenant_id_source",
            ["tenant_id", "source_type", "source_id"],
            unique=False,
        )

    op.create_table(
        "periods",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["ledgers.id"], name=op.f("fk_periods_ledger_id_ledgers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_periods_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_periods")),
        sa.UniqueConstraint(
            "ledger_id", "start_date", name=op.f("uq_periods_ledger_id_start_date")
        ),
    )
    with op.batch_alter_table("periods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_periods_ledger_id"), ["ledger_id"], unique=False)

    op.create_table(
        "balances",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_balances_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_balances_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("account_id", "asset", name=op.f("pk_balances")),
    )
    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_balances_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "journal_log",
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_journal_log_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["ledgers.id"], name=op.f("fk_journal_log_ledger_id_ledgers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_journal_log_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("ledger_id", "seq", name=op.f("pk_journal_log")),
    )
    with op.batch_alter_table("journal_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journal_log_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "postings",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("posted_amount", sa.BigInteger(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_postings_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name=op.f("fk_postings_entry_id_journal_entries")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["ledgers.id"], name=op.f("fk_postings_ledger_id_ledgers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_postings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("entry_id", "index", name=op.f("pk_postings")),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_postings_account_id_asset_effective_date_seq",
            ["account_id", "asset", "effective_date", "seq"],
            unique=False,
        )

    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_account_id_asset_effective_date_seq")

    op.drop_table("postings")
    with op.batch_alter_table("journal_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_log_entry_id"))

    op.drop_table("journal_log")
    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_balances_tenant_id"))

    op.drop_table("balances")
    with op.batch_alter_table("periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_periods_ledger_id"))

    op.drop_table("periods")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_entries_tenant_id_source")
        batch_op.drop_index("ix_journal_entries_status_expires_at")
        batch_op.drop_index("ix_journal_entries_ledger_id_effective_date")

    op.drop_table("journal_entries")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_accounts_parent_id"))

    op.drop_table("accounts")
    with op.batch_alter_table("ledgers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledgers_tenant_id"))

    op.drop_table("ledgers")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))

    op.drop_table("idempotency_keys")
    op.drop_table("assets")


# The ledger is append-only. Posted entries, postings and the journal log may never be
# updated or deleted; a pending entry may change once, to posted or voided, and a pending
# posting may receive its posted amount once. Everything else is refused by the database.
_ENTRY_FROZEN = (
    "id",
    "tenant_id",
    "ledger_id",
    "seq",
    "client_id",
    "effective_date",
    "recorded_at",
    "description",
    "metadata",
    "source_type",
    "source_id",
    "actor",
    "reverses_id",
    "expires_at",
)
_POSTING_FROZEN = (
    "entry_id",
    "index",
    "tenant_id",
    "ledger_id",
    "account_id",
    "asset",
    "direction",
    "amount",
    "effective_date",
    "seq",
)


def _changed(columns: tuple[str, ...], dialect: str) -> str:
    if dialect == "postgresql":
        return " OR ".join(f'NEW."{c}" IS DISTINCT FROM OLD."{c}"' for c in columns)
    return " OR ".join(f'NEW."{c}" IS NOT OLD."{c}"' for c in columns)


def _create_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    entry_update_refused = (
        "OLD.status <> 'pending' OR NEW.status NOT IN ('posted', 'voided') OR "
        + _changed(_ENTRY_FROZEN, dialect)
    )
    posting_update_refused = (
        "OLD.posted_amount IS NOT NULL OR NEW.posted_amount IS NULL OR "
        + _changed(_POSTING_FROZEN, dialect)
    )
    if dialect == "postgresql":
        op.execute("""
            CREATE FUNCTION autoledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'autoledger: % on % refused: the ledger is append-only',
                    TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
            END $$""")
        for table in ("journal_log", "journal_entries", "postings"):
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION autoledger_refuse_change()"
            )
        op.execute(
            "CREATE TRIGGER journal_log_no_update BEFORE UPDATE ON journal_log "
            "FOR EACH ROW EXECUTE FUNCTION autoledger_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER journal_entries_guard_update BEFORE UPDATE ON journal_entries "
            f"FOR EACH ROW WHEN ({entry_update_refused}) EXECUTE FUNCTION autoledger_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER postings_guard_update BEFORE UPDATE ON postings "
            f"FOR EACH ROW WHEN ({posting_update_refused}) EXECUTE FUNCTION autoledger_refuse_change()"
        )
        return
    refuse = "SELECT RAISE(ABORT, 'autoledger: change refused: the ledger is append-only');"
    for table in ("journal_log", "journal_entries", "postings"):
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN {refuse} END")
    op.execute(
        f"CREATE TRIGGER journal_log_no_update BEFORE UPDATE ON journal_log BEGIN {refuse} END"
    )
    op.execute(
        "CREATE TRIGGER journal_entries_guard_update BEFORE UPDATE ON journal_entries "
        f"WHEN {entry_update_refused} BEGIN {refuse} END"
    )
    op.execute(
        "CREATE TRIGGER postings_guard_update BEFORE UPDATE ON postings "
        f"WHEN {posting_update_refused} BEGIN {refuse} END"
    )


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    triggers = {
        "journal_log": ("journal_log_no_delete", "journal_log_no_update"),
        "journal_entries": ("journal_entries_no_delete", "journal_entries_guard_update"),
        "postings": ("postings_no_delete", "postings_guard_update"),
    }
    for table, names in triggers.items():
        for name in names:
            suffix = f" ON {table}" if dialect == "postgresql" else ""
            op.execute(f"DROP TRIGGER IF EXISTS {name}{suffix}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS autoledger_refuse_change()")
