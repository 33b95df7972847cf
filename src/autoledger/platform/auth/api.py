"""Routes for the calling key's own tenant and its API keys."""

import uuid
from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from autoledger.api.deps import KeyManager, Profile, Session
from autoledger.api.problems import responses
from autoledger.api.writes import write
from autoledger.platform.auth import service
from autoledger.platform.auth.errors import ApiKeyNotFound
from autoledger.platform.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ApiKeyRotate,
    TenantOut,
    WhoAmI,
)

router = APIRouter(prefix="/v1", tags=["auth"])


@router.get("/whoami", response_model=WhoAmI, summary="The calling key, its tenant and roles")
async def whoami(principal: Profile, session: Session) -> WhoAmI:
    tenant = await service.get_tenant(session, principal.tenant_id)
    return WhoAmI(
        tenant=TenantOut.model_validate(tenant),
        key_id=principal.key_id,
        roles=sorted(principal.roles),
        scopes=sorted(principal.scopes),
    )


@router.get("/api-keys", response_model=list[ApiKeyOut], summary="List the tenant's API keys")
async def list_api_keys(principal: KeyManager, session: Session) -> list[ApiKeyOut]:
    keys = await service.list_api_keys(session, principal.tenant_id)
    return [ApiKeyOut.model_validate(key) for key in keys]


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (the key is in this response only)",
)
async def create_api_key(
    body: ApiKeyCreate, principal: KeyManager, session: Session, request: Request
) -> Response:
    async def work() -> ApiKeyCreated:
        key, full_key = await service.create_api_key(
            session,
            principal.tenant_id,
            name=body.name,
            roles=body.roles,
            expires_at=body.expires_at,
        )
        return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=full_key)

    return await write(request, principal, session, status.HTTP_201_CREATED, work)


@router.post(
    "/api-keys/{key_id}:rotate",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Replace a key: a new key now, the old one expires after a grace period",
    responses=responses(ApiKeyNotFound),
)
async def rotate_api_key(
    key_id: uuid.UUID,
    principal: KeyManager,
    session: Session,
    request: Request,
    body: ApiKeyRotate | None = None,
) -> Response:
    grace = timedelta(seconds=(body or ApiKeyRotate()).grace_seconds)

    async def work() -> ApiKeyCreated:
        key, full_key = await service.rotate_api_key(
            session, principal.tenant_id, key_id, grace=grace
        )
        return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=full_key)

    response = await write(request, principal, session, status.HTTP_201_CREATED, work)
    request.app.state.principal_cache.clear()
    return response


@router.post(
    "/api-keys/{key_id}:revoke",
    response_model=ApiKeyOut,
    summary="Revoke an API key",
    responses=responses(ApiKeyNotFound),
)
async def revoke_api_key(
    key_id: uuid.UUID, principal: KeyManager, session: Session, request: Request
) -> Response:
    async def work() -> ApiKeyOut:
        return ApiKeyOut.model_validate(
            await service.revoke_api_key(session, principal.tenant_id, key_id)
        )

    response = await write(request, principal, session, status.HTTP_200_OK, work)
    # This process forgets the key at once; others within the cache TTL (ADR 0002).
    request.app.state.principal_cache.clear()
    return response
