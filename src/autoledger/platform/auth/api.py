"""Routes for the calling key's own tenant and its API keys."""

import uuid

from fastapi import APIRouter, Request, status

from autoledger.api.deps import Admin, Reader, Session
from autoledger.api.problems import responses
from autoledger.platform.auth import service
from autoledger.platform.auth.errors import ApiKeyNotFound
from autoledger.platform.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    TenantOut,
    WhoAmI,
)

router = APIRouter(prefix="/v1", tags=["auth"])


@router.get("/whoami", response_model=WhoAmI, summary="The calling key, its tenant and scopes")
async def whoami(principal: Reader, session: Session) -> WhoAmI:
    tenant = await service.get_tenant(session, principal.tenant_id)
    return WhoAmI(
        tenant=TenantOut.model_validate(tenant),
        key_id=principal.key_id,
        scopes=sorted(principal.scopes),
    )


@router.get("/api-keys", response_model=list[ApiKeyOut], summary="List the tenant's API keys")
async def list_api_keys(principal: Admin, session: Session) -> list[ApiKeyOut]:
    keys = await service.list_api_keys(session, principal.tenant_id)
    return [ApiKeyOut.model_validate(key) for key in keys]


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (the key is in this response only)",
)
async def create_api_key(body: ApiKeyCreate, principal: Admin, session: Session) -> ApiKeyCreated:
    key, full_key = await service.create_api_key(
        session, principal.tenant_id, name=body.name, scopes=body.scopes, expires_at=body.expires_at
    )
    await session.commit()
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=full_key)


@router.post(
    "/api-keys/{key_id}:revoke",
    response_model=ApiKeyOut,
    summary="Revoke an API key",
    responses=responses(ApiKeyNotFound),
)
async def revoke_api_key(
    key_id: uuid.UUID, principal: Admin, session: Session, request: Request
) -> ApiKeyOut:
    key = await service.revoke_api_key(session, principal.tenant_id, key_id)
    await session.commit()
    # This process forgets the key at once; others within the cache TTL (ADR 0002).
    request.app.state.principal_cache.clear()
    return ApiKeyOut.model_validate(key)
