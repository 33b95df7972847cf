import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from autoledger.kit.schemas import RequestModel, ResponseModel

TENANT_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class Scope(StrEnum):
    """Coarse scopes; each one implies the ones below it (admin ⊇ write ⊇ read)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def implies(self, other: "Scope") -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(other)


class TenantOut(ResponseModel):
    id: uuid.UUID
    name: str
    created_at: datetime


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: datetime | None = None


class ApiKeyOut(ResponseModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown once; only its hash is stored.")


class WhoAmI(ResponseModel):
    tenant: TenantOut
    key_id: uuid.UUID
    scopes: list[Scope]
