"""Per-tenant data keys, stored only wrapped by the key-encryption key of a provider."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from autoledger.db.base import Base, IdMixin


class DataKey(IdMixin, Base):
    __tablename__ = "tenant_data_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # encryption | blind_index
    version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once shredded
    kek_provider: Mapped[str] = mapped_column(String(32))
    kek_id: Mapped[str] = mapped_column(String(400))
    state: Mapped[str] = mapped_column(String(16))  # active | retired | destroyed
    created_at: Mapped[datetime] = mapped_column()
    rewrapped_at: Mapped[datetime | None] = mapped_column()
    destroyed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (UniqueConstraint("tenant_id", "purpose", "version"),)
