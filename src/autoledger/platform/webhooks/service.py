"""Webhook endpoints and deliveries: the domain logic. Takes a session, never commits."""

import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.kit.errors import FieldError
from autoledger.kit.ids import new_id
from autoledger.platform.crypto import decrypt_field, encrypt_field
from autoledger.platform.events.catalog import catalog
from autoledger.platform.events.envelope import Event
from autoledger.platform.webhooks import signing, targets
from autoledger.platform.webhooks.errors import (
    DeliveryNotFound,
    EndpointDisabled,
    EndpointNotFound,
    InvalidUrl,
    TargetNotAllowed,
    UnknownEventType,
)
from autoledger.platform.webhooks.repository import WebhookRepository
from autoledger.platform.webhooks.schemas import DeliveryStatus
from autoledger.platform.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint

# After a rotation the old secret keeps signing alongside the new one for this long, so
# receivers can switch over without dropping a message.
ROTATION_OVERLAP = timedelta(hours=24)

# Delays before the 2nd, 3rd, ... attempt (the Standard Webhooks / Svix schedule); the last
# one repeats until the retry window closes. The first attempt is immediate.
RETRY_SCHEDULE: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
RETRY_JITTER = 0.1  # each delay is stretched or shrunk by up to 10%

_PATTERN = re.compile(r"\*|[a-z0-9_]+(\.[a-z0-9_]+)*\.\*")


# event-type filters (pure)
def matches(filters: Sequence[str], event_type: str) -> bool:
    """``*`` matches every type, ``a.b.*`` every type starting with ``a.b.``, anything else
    only itself."""
    for f in filters:
        if f == "*" or f == event_type:
            return True
        if f.endswith(".*") and event_type.startswith(f[:-1]):
            return True
    return False


def validate_filters(filters: Sequence[str], field: str = "body.event_types") -> list[str]:
    """Patterns must be well formed, exact names must be in the event catalog."""
    known = catalog()
    errors = []
    for i, f in enumerate(filters):
        if "*" in f:
            if not _PATTERN.fullmatch(f):
                errors.append(
                    FieldError(f"{field}.{i}", f"{f!r} is not '*' or a prefix such as 'ledger.*'")
                )
        elif f not in known:
            errors.append(FieldError(f"{field}.{i}", f"{f!r} is not a known event type"))
    if errors:
        raise UnknownEventType("; ".join(e.message for e in errors), errors=errors)
    return list(dict.fromkeys(filters))


# retries (pure)
def next_attempt_at(
    attempts_made: int,
    first_attempt_at: datetime,
    now: datetime,
    *,
    window: timedelta,
    schedule: Sequence[float] = RETRY_SCHEDULE,
    jitter: float = RETRY_JITTER,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after ``attempts_made`` failed attempts, or None when the next try
    would fall after the retry window (``first_attempt_at + window``): then it has failed."""
    base = schedule[min(attempts_made, len(schedule)) - 1] if schedule else 0.0
    delay = base * (1 + (rng or random).uniform(-jitter, jitter))
    at = now + timedelta(seconds=delay)
    return at if at <= first_attempt_at + window else None


# URLs
async def check_url(url: str, *, allow_private: bool, field: str = "body.url") -> str:
    try:
        target = await targets.check_target(url, allow_private=allow_private)
    except targets.TargetRefused as exc:
        raise TargetNotAllowed(
            f"url {exc}", errors=[FieldError(field, f"url {exc}", "target_not_allowed")]
        ) from None
    except targets.UrlError as exc:
        raise InvalidUrl(f"url {exc}", errors=[FieldError(field, f"url {exc}", "url")]) from None
    return str(target.url)


# secrets: the only functions that touch the secret columns, which hold ciphertext
# (envelope encryption, ADR 0006). Decrypted only where a secret is needed: signing, rotation.
_TABLE = WebhookEndpoint.__tablename__


async def _secret(session: AsyncSession, endpoint: WebhookEndpoint, column: str) -> str:
    ciphertext: str = getattr(endpoint, column)
    return await decrypt_field(session, endpoint.tenant_id, _TABLE, column, ciphertext)


async def set_secret(
    session: AsyncSession, endpoint: WebhookEndpoint, secret: str, now: datetime
) -> None:
    """Make ``secret`` the signing secret; the one it replaces signs too for the overlap."""
    if endpoint.secret:
        endpoint.previous_secret = await encrypt_field(
            session,
            endpoint.tenant_id,
            _TABLE,
            "previous_secret",
            await _secret(session, endpoint, "secret"),
        )
        endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret = await encrypt_field(session, endpoint.tenant_id, _TABLE, "secret", secret)


async def signing_secrets(
    session: AsyncSession, endpoint: WebhookEndpoint, now: datetime
) -> list[str]:
    """The secrets a message is signed with now: the current one, and the previous one while
    its overlap lasts."""
    found = [await _secret(session, endpoint, "secret")]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        found.append(await _secret(session, endpoint, "previous_secret"))
    return found


# endpoints
async def create_endpoint(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    url: str,
    description: str,
    event_types: Sequence[str],
    enabled: bool,
    allow_private: bool,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (returned here once; later only on rotation)."""
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=new_id(),
        tenant_id=tenant_id,
        url=await check_url(url, allow_private=allow_private),
        description=description,
        event_types=validate_filters(event_types),
        enabled=enabled,
        disabled_reason=None if enabled else "created disabled",
        disabled_at=None if enabled else now,
        secret="",  # set (encrypted) just below  # nosec B106
        created_at=now,
        updated_at=now,
    )
    secret = signing.new_secret()
    await set_secret(session, endpoint, secret, now)
    await WebhookRepository(session).add(endpoint)
    return endpoint, secret


async def list_endpoints(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    return await WebhookRepository(session).endpoints(tenant_id)


async def get_endpoint(
    session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *, for_update: bool = False
) -> WebhookEndpoint:
    endpoint = await WebhookRepository(session).endpoint(
        tenant_id, endpoint_id, for_update=for_update
    )
    if endpoint is None:
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    allow_private: bool,
    url: str | None = None,
    description: str | None = None,
    event_types: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, tenant_id, endpoint_id, for_update=True)
    now = utcnow()
    if url is not None:
        endpoint.url = await check_url(url, allow_private=allow_private)
    if description is not None:
        endpoint.description = description
    if event_types is not None:
        endpoint.event_types = validate_filters(event_types)
    if enabled is True and not endpoint.enabled:
        # A fresh start: the auto-disable clock restarts, held deliveries resume.
        endpoint.enabled = True
        endpoint.disabled_reason = None
        endpoint.disabled_at = None
        endpoint.failing_since = None
    elif enabled is False and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_reason = "disabled through the API"
        endpoint.disabled_at = now
    endpoint.updated_at = now
    await session.flush()
    return endpoint


async def delete_endpoint(
    session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> None:
    endpoint = await get_endpoint(session, tenant_id, endpoint_id, for_update=True)
    await WebhookRepository(session).delete_endpoint(endpoint)


async def rotate_secret(
    session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing alongside it for ``ROTATION_OVERLAP``.
    Rotating again within the overlap drops the oldest secret at once."""
    endpoint = await get_endpoint(session, tenant_id, endpoint_id, for_update=True)
    now = utcnow()
    secret = signing.new_secret()
    await set_secret(session, endpoint, secret, now)
    endpoint.updated_at = now
    await session.flush()
    return endpoint, secret


# deliveries
async def fan_out(session: AsyncSession, event: Event) -> int:
    """Queue ``event`` for every enabled endpoint of its tenant whose filters match; due now.

    Runs in the consumer's transaction; (endpoint, event) is unique, so a replayed event
    never queues a second delivery."""
    repository = WebhookRepository(session)
    endpoints = [
        e
        for e in await repository.endpoints(event.tenant, enabled_only=True)
        if matches(e.event_types, event.type)
    ]
    now = utcnow()
    body = event.to_json()
    await repository.add_deliveries(
        [
            {
                "id": new_id(),
                "tenant_id": event.tenant,
                "endpoint_id": e.id,
                "event_id": event.id,
                "event_type": event.type,
                "body": body,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for e in endpoints
        ]
    )
    return len(endpoints)


async def list_deliveries(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    before: uuid.UUID | None,
    limit: int,
) -> Sequence[WebhookDelivery]:
    await get_endpoint(session, tenant_id, endpoint_id)
    return await WebhookRepository(session).deliveries(
        tenant_id,
        endpoint_id,
        status=status.value if status is not None else None,
        before=before,
        limit=limit,
    )


@dataclass(frozen=True, slots=True)
class DeliveryWithAttempts:
    delivery: WebhookDelivery
    attempts: Sequence[WebhookAttempt]


async def get_delivery(
    session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryWithAttempts:
    repository = WebhookRepository(session)
    delivery = await repository.delivery(tenant_id, delivery_id)
    if delivery is None:
        raise DeliveryNotFound(f"no webhook delivery {delivery_id}")
    return DeliveryWithAttempts(delivery, await repository.attempts(delivery.id))


async def redeliver(
    session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Queue the delivery again, due now, with a fresh retry window, whatever its status."""
    repository = WebhookRepository(session)
    delivery = await repository.delivery(tenant_id, delivery_id, for_update=True)
    if delivery is None:
        raise DeliveryNotFound(f"no webhook delivery {delivery_id}")
    endpoint = await get_endpoint(session, tenant_id, delivery.endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabled(
            f"webhook endpoint {endpoint.id} is disabled; enable it to redeliver"
        )
    delivery.status = DeliveryStatus.PENDING.value
    delivery.next_attempt_at = utcnow()
    delivery.first_attempt_at = None
    delivery.succeeded_at = None
    await session.flush()
    return delivery
