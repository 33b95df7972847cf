"""Period close (ADR 0018): the acknowledgements a close waived a checklist item with, and
who reopened a period, when and why. Columns on ``periods``, which already carries the
tenant row-level-security policy (0008).

Revision ID: 20261124_0016
Revises: 20261124_0015
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from autoledger.db.base import UTCDateTime

revision: str = "20261124_0016"
down_revision: str | None = "20261124_0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("periods", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledgements", JSON, nullable=True))
        batch_op.add_column(sa.Column("reopened_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("reopened_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reopen_reason", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("periods", schema=None) as batch_op:
        batch_op.drop_column("reopen_reason")
        batch_op.drop_column("reopened_by")
        batch_op.drop_column("reopened_at")
        batch_op.drop_column("acknowledgements")
