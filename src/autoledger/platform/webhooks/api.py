"""Webhook routes: endpoints (admin scope), deliveries (read scope to look, admin to
redeliver). Every POST honours ``Idempotency-Key``. The response that carries a secret is
the one stored for replay, so a retried create still hands the caller its secret."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from autoledger.api.deps import AppSettings, Session, WebhookManager, WebhookReader
from autoledger.api.problems import responses
from autoledger.api.writes import audit_request, write
from autoledger.platform.audit.chain import canonical_json
from autoledger.platform.webhooks import schemas, service
from autoledger.platform.webhooks.errors import (
    DeliveryNotFound,
    EndpointDisabled,
    EndpointNotFound,
    InvalidUrl,
    TargetNotAllowed,
    UnknownEventType,
)
from autoledger.platform.webhooks.tables import WebhookEndpoint

router = APIRouter(prefix="/v1", tags=["webhooks"])

Limit = Annotated[int, Query(ge=1, le=500)]
ENDPOINT = "webhook_endpoint"  # the audit log's name for what these routes change


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> schemas.EndpointWithSecret:
    return schemas.EndpointWithSecret(
        **schemas.EndpointOut.model_validate(endpoint).model_dump(), secret=secret
    )


# endpoints
@router.post(
    "/webhooks",
    status_code=201,
    response_model=schemas.EndpointWithSecret,
    summary="Register a webhook endpoint (the secret is in this response only)",
    responses=responses(InvalidUrl, TargetNotAllowed, UnknownEventType),
)
async def create_endpoint(
    body: schemas.EndpointCreate,
    principal: WebhookManager,
    session: Session,
    settings: AppSettings,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        endpoint, secret = await service.create_endpoint(
            session,
            principal.tenant_id,
            url=body.url,
            description=body.description,
            event_types=body.event_types,
            enabled=body.enabled,
            allow_private=settings.webhook_allow_private_targets,
        )
        return _with_secret(endpoint, secret)

    return await write(
        request,
        principal,
        session,
        201,
        work,
        action="webhooks.endpoint.create",
        target_type=ENDPOINT,
    )


@router.get("/webhooks", response_model=list[schemas.EndpointOut], summary="List webhook endpoints")
async def list_endpoints(principal: WebhookManager, session: Session) -> list[schemas.EndpointOut]:
    return [
        schemas.EndpointOut.model_validate(e)
        for e in await service.list_endpoints(session, principal.tenant_id)
    ]


@router.get(
    "/webhooks/{endpoint_id}",
    response_model=schemas.EndpointOut,
    responses=responses(EndpointNotFound),
)
async def get_endpoint(
    endpoint_id: uuid.UUID, principal: WebhookManager, session: Session
) -> schemas.EndpointOut:
    endpoint = await service.get_endpoint(session, principal.tenant_id, endpoint_id)
    return schemas.EndpointOut.model_validate(endpoint)


@router.patch(
    "/webhooks/{endpoint_id}",
    response_model=schemas.EndpointOut,
    summary="Change a webhook endpoint; `enabled: true` re-enables a disabled one",
    responses=responses(EndpointNotFound, InvalidUrl, TargetNotAllowed, UnknownEventType),
)
async def update_endpoint(
    endpoint_id: uuid.UUID,
    body: schemas.EndpointUpdate,
    principal: WebhookManager,
    session: Session,
    settings: AppSettings,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        endpoint = await service.update_endpoint(
            session,
            principal.tenant_id,
            endpoint_id,
            allow_private=settings.webhook_allow_private_targets,
            url=body.url,
            description=body.description,
            event_types=body.event_types,
            enabled=body.enabled,
        )
        return schemas.EndpointOut.model_validate(endpoint)

    return await write(
        request,
        principal,
        session,
        200,
        work,
        action="webhooks.endpoint.update",
        target_type=ENDPOINT,
    )


@router.delete(
    "/webhooks/{endpoint_id}",
    status_code=204,
    summary="Delete a webhook endpoint with its deliveries",
    responses=responses(EndpointNotFound),
)
async def delete_endpoint(
    endpoint_id: uuid.UUID, principal: WebhookManager, session: Session, request: Request
) -> Response:
    await service.delete_endpoint(session, principal.tenant_id, endpoint_id)
    await audit_request(
        request,
        principal,
        session,
        canonical_json({"id": str(endpoint_id), "deleted": True}),
        target_id=str(endpoint_id),
        action="webhooks.endpoint.delete",
        target_type=ENDPOINT,
    )
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/webhooks/{endpoint_id}:rotate-secret",
    response_model=schemas.EndpointWithSecret,
    summary="New signing secret; the previous one keeps signing alongside it for 24 h",
    responses=responses(EndpointNotFound),
)
async def rotate_secret(
    endpoint_id: uuid.UUID, principal: WebhookManager, session: Session, request: Request
) -> Response:
    async def work() -> BaseModel:
        endpoint, secret = await service.rotate_secret(session, principal.tenant_id, endpoint_id)
        return _with_secret(endpoint, secret)

    return await write(
        request,
        principal,
        session,
        200,
        work,
        action="webhooks.endpoint.rotate_secret",
        target_type=ENDPOINT,
    )


# deliveries
@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    response_model=schemas.DeliveryPage,
    summary="Deliveries of an endpoint, newest first",
    responses=responses(EndpointNotFound),
)
async def list_deliveries(
    endpoint_id: uuid.UUID,
    principal: WebhookReader,
    session: Session,
    status: schemas.DeliveryStatus | None = None,
    cursor: Annotated[uuid.UUID | None, Query(description="`next_cursor` of the last page")] = None,
    limit: Limit = 100,
) -> schemas.DeliveryPage:
    rows = await service.list_deliveries(
        session, principal.tenant_id, endpoint_id, status=status, before=cursor, limit=limit + 1
    )
    data = [schemas.DeliveryOut.model_validate(d) for d in rows[:limit]]
    return schemas.DeliveryPage(
        data=data, next_cursor=str(data[-1].id) if len(rows) > limit else None
    )


@router.get(
    "/webhook-deliveries/{delivery_id}",
    response_model=schemas.DeliveryDetail,
    summary="A delivery with every attempt",
    responses=responses(DeliveryNotFound),
)
async def get_delivery(
    delivery_id: uuid.UUID, principal: WebhookReader, session: Session
) -> schemas.DeliveryDetail:
    found = await service.get_delivery(session, principal.tenant_id, delivery_id)
    return schemas.DeliveryDetail(
        **schemas.DeliveryOut.model_validate(found.delivery).model_dump(),
        attempt_log=[schemas.AttemptOut.model_validate(a) for a in found.attempts],
    )


@router.post(
    "/webhook-deliveries/{delivery_id}:redeliver",
    status_code=202,
    response_model=schemas.DeliveryOut,
    summary="Queue a delivery again now, whatever its status, with a fresh retry window",
    responses=responses(DeliveryNotFound, EndpointDisabled),
)
async def redeliver(
    delivery_id: uuid.UUID, principal: WebhookManager, session: Session, request: Request
) -> Response:
    async def work() -> BaseModel:
        delivery = await service.redeliver(session, principal.tenant_id, delivery_id)
        return schemas.DeliveryOut.model_validate(delivery)

    return await write(
        request,
        principal,
        session,
        202,
        work,
        action="webhooks.delivery.redeliver",
        target_type="webhook_delivery",
    )
