"""Registry of every module that declares tables, so Alembic and tests see the whole schema."""

import importlib

TABLE_MODULES = (
    "autoledger.platform.auth.tables",
    "autoledger.platform.idempotency.tables",
    "autoledger.ledger.tables",
    "autoledger.platform.events.tables",
    "autoledger.platform.webhooks.tables",
    "autoledger.platform.audit.tables",
    "autoledger.platform.crypto.tables",
    "autoledger.banking.tables",
    "autoledger.categorize.tables",
    "autoledger.reconcile.tables",
    "autoledger.fx.tables",
)


def import_all_tables() -> None:
    for module in TABLE_MODULES:
        importlib.import_module(module)
