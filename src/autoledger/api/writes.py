"""The shape of a simple write route: idempotent, in the request's transaction, audited,
committed before the response goes out."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.api.idempotency import Slot, idempotent, json_response
from autoledger.platform import audit
from autoledger.platform.auth.service import Principal


def request_id_of(request: Request) -> str | None:
    """The id the request context middleware gave this request."""
    request_id: str | None = getattr(request.state, "request_id", None)
    return request_id


def action_of(request: Request) -> tuple[str, str]:
    """``(action, target_type)`` named after the route: its first tag and its name read
    ``verb_noun`` → ``<tag>.<noun>.<verb>`` (``update_account`` in ``ledger`` →
    ``ledger.account.update``, target type ``account``). Stable while the route keeps its
    name; a route can pass its own instead."""
    route = request.scope.get("route")
    tag = str(route.tags[0]) if isinstance(route, APIRoute) and route.tags else "api"
    name = route.name if isinstance(route, APIRoute) else request.method.lower()
    verb, _, noun = name.partition("_")
    return (f"{tag}.{noun}.{verb}", noun) if noun else (f"{tag}.{verb}", tag)


async def audit_request(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    body: bytes,
    *,
    target_id: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
) -> None:
    """One audit record for this request, in its transaction: the principal did the route's
    action to ``target_id`` (else the last id in the path); the digest covers ``body``."""
    derived_action, derived_target = action_of(request)
    params: dict[str, Any] = {k: str(v) for k, v in request.path_params.items()}
    if target_id is None and params:
        target_id = list(params.values())[-1]
    route = request.scope.get("route")
    details: dict[str, Any] = {
        "method": request.method,
        "route": route.path if isinstance(route, APIRoute) else None,
    }
    if params:
        details["params"] = params
    await audit.record(
        session,
        [
            audit.AuditEntry(
                tenant_id=principal.tenant_id,
                actor=principal.actor,
                action=action or derived_action,
                target_type=target_type or derived_target,
                target_id=target_id,
                request_id=request_id_of(request),
                change_digest=audit.change_digest(body),
                details=details,
            )
        ],
    )


async def write(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    status: int,
    work: Callable[[], Awaitable[BaseModel]],
    *,
    action: str | None = None,
    target_type: str | None = None,
) -> Response:
    """Run ``work``, record it in the audit log and store the idempotent response, all in
    one transaction. A refused request (``work`` raises) and a replay write no record."""

    async def run(slot: Slot | None) -> Response:
        audit.mark_request_audited(session)
        result = await work()
        body = result.model_dump_json().encode()
        target = getattr(result, "id", None)
        await audit_request(
            request,
            principal,
            session,
            body,
            target_id=None if target is None else str(target),
            action=action,
            target_type=target_type,
        )
        if slot is not None:
            await slot.store(session, status, body)
        await session.commit()
        return json_response(status, body)

    return await idempotent(request, principal, run)
