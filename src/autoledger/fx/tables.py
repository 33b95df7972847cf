"""Exchange rates a tenant keeps (ADR 0017): ``1 base = rate quote`` on a day, the rate as
the exact decimal text it was given (SQLite has no exact decimal type), with where it came
from. One rate per tenant, pair and day: a later one replaces it."""

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from autoledger.db.base import Base, CreatedAtMixin, IdMixin


class FxRate(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "fx_rates"
    __table_args__ = (UniqueConstraint("tenant_id", "base", "quote", "day"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    base: Mapped[str] = mapped_column(String(16))
    quote: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    rate: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column()


TABLES = (FxRate,)
