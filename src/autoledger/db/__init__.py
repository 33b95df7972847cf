"""Database layer: engine and sessions, base tables, migrations."""
