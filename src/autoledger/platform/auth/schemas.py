import uuid
from datetime import datetime

from pydantic import Field

from autoledger.kit.schemas import RequestModel, ResponseModel
from autoledger.platform.auth.roles import Role, Scope

TENANT_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class TenantOut(ResponseModel):
    id: uuid.UUID
    name: str
    created_at: datetime


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    expires_at: datetime | None = None


class ApiKeyRotate(RequestModel):
    grace_seconds: int = Field(
        default=86_400,
        ge=0,
        le=30 * 86_400,
        description="How long the old key keeps working (0: revoked at once)",
    )


class ApiKeyOut(ResponseModel):
    id: uuid.UUID
    name: str
    prefix: str
    roles: list[Role]
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_from_id: uuid.UUID | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown once; only its hash is stored.")


class WhoAmI(ResponseModel):
    tenant: TenantOut
    key_id: uuid.UUID
    roles: list[Role]
    scopes: list[Scope]
