"""API keys carry roles (mapped to fine scopes in code), record when they were last used and
which key they replaced.

Existing keys keep what they could do: read → viewer, write → accountant, admin → admin.

Revision ID: 20261124_0007
Revises: 20261124_0006
Create Date: 2026-11-24
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0007"
down_revision: str | None = "20261124_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TO_ROLE = {"read": "viewer", "write": "accountant", "admin": "admin"}
_TO_SCOPE = {"viewer": "read", "accountant": "write", "admin": "admin"}


def _convert(column: str, target: str, mapping: dict[str, str], fallback: str) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT id, {column} FROM api_keys")).all()
    for key_id, value in rows:
        names = value if isinstance(value, list) else json.loads(value)
        converted = sorted({mapping.get(name, fallback) for name in names})
        bind.execute(
            sa.text(f"UPDATE api_keys SET {target} = :v WHERE id = :id").bindparams(
                sa.bindparam("v", type_=JSON)
            ),
            {"v": converted, "id": key_id},
        )


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("roles", JSON, nullable=True))
        batch_op.add_column(sa.Column("last_used_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("rotated_from_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_rotated_from_id_api_keys"),
            "api_keys",
            ["rotated_from_id"],
            ["id"],
        )
    _convert("scopes", "roles", _TO_ROLE, "viewer")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("roles", existing_type=JSON, nullable=False)
        batch_op.drop_column("scopes")


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", JSON, nullable=True))
    _convert("roles", "scopes", _TO_SCOPE, "read")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("scopes", existing_type=JSON, nullable=False)
        batch_op.drop_constraint(
            batch_op.f("fk_api_keys_rotated_from_id_api_keys"), type_="foreignkey"
        )
        batch_op.drop_column("rotated_from_id")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("roles")
