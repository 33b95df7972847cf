"""The webhook dispatcher: claims due deliveries, signs and sends them, records each attempt.

Several dispatchers may run against one PostgreSQL database: a claim leases rows with
``FOR UPDATE SKIP LOCKED``, and a lease that outlives its dispatcher expires so another one
takes over (at-least-once: a receiver dedups by ``webhook-id``). On SQLite, run one.

A send is one POST with no redirects followed, bounded by ``webhook_timeout_seconds``; at
most ``webhook_concurrency`` are in flight. Before connecting, the host is resolved and
checked against the SSRF policy, and the request goes to the checked address itself (the
``Host`` header and TLS SNI keep the name), so DNS cannot change the answer in between.
"""

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.kit.errors import describe
from autoledger.kit.ids import new_id
from autoledger.kit.settings import Settings
from autoledger.platform import audit
from autoledger.platform.webhooks import service, signing, targets
from autoledger.platform.webhooks.repository import Claimed, WebhookRepository
from autoledger.platform.webhooks.schemas import DeliveryStatus
from autoledger.platform.webhooks.tables import WebhookAttempt

log = structlog.get_logger("autoledger.webhooks.dispatcher")

RESPONSE_BODY_LIMIT = 1024
USER_AGENT = "autoledger-webhooks/1"
AUDIT_ACTOR = "system:webhooks"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WebhookDispatcher:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        http: httpx.AsyncClient | None = None,
        schedule: Sequence[float] = service.RETRY_SCHEDULE,
        jitter: float = service.RETRY_JITTER,
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.schedule = tuple(schedule)
        self.jitter = jitter
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security  # nosec B311
        self.owner = _owner()
        # A lease covers one send (bounded by the timeout) plus the bookkeeping around it.
        self.lease = timedelta(seconds=settings.webhook_timeout_seconds + 60)
        self.retry_window = timedelta(hours=settings.webhook_retry_hours)
        self.disable_after = timedelta(hours=settings.webhook_disable_after_hours)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: we connect to checked addresses
            limits=httpx.Limits(max_connections=settings.webhook_concurrency),
            headers={"user-agent": USER_AGENT},
        )
        self._slots = asyncio.Semaphore(settings.webhook_concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    # lifecycle
    async def start(self) -> None:
        if self._loop is None:
            self._stopping.clear()
            self._loop = asyncio.create_task(self._run(), name="webhooks:dispatcher")

    async def stop(self) -> None:
        """Stop claiming, let the sends in flight finish and record, release any lease left."""
        self._stopping.set()
        self._wake.set()
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        try:
            async with self.sessionmaker() as session, session.begin():
                await WebhookRepository(session).release_all(self.owner)
        except Exception as exc:  # the leases run out by themselves; stopping must not fail
            log.error("webhooks.release_failed", error=describe(exc))
        finally:
            if self._own_http:
                await self._http.aclose()

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claim what is due (up to the concurrency), send it all, record it; the count."""
        claimed = await self._claim(self.settings.webhook_concurrency)
        await asyncio.gather(*(self._deliver(c) for c in claimed))
        return len(claimed)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            free = self.settings.webhook_concurrency - len(self._in_flight)
            claimed: list[Claimed] = []
            if free > 0:
                try:
                    claimed = await self._claim(free)
                except Exception as exc:  # the database is down: keep the loop, try again
                    log.error("webhooks.claim_failed", error=describe(exc))
            for c in claimed:
                task = asyncio.create_task(self._deliver(c))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            if claimed and len(claimed) == free and self._in_flight:
                # Full: the next claim waits for a free slot.
                await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
                continue
            if claimed:
                continue  # there may be more due
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def _claim(self, limit: int) -> list[Claimed]:
        async with self.sessionmaker() as session, session.begin():
            return await WebhookRepository(session).claim(
                self.owner, limit, self.lease, self.clock()
            )

    # one delivery
    async def _deliver(self, claimed: Claimed) -> None:
        try:
            async with self._slots:
                attempted_at = self.clock()
                result = await self._send(claimed, attempted_at)
            await self._record(claimed, attempted_at, result)
        except Exception:  # the lease runs out and another attempt follows
            log.exception("webhooks.delivery_crashed", delivery_id=str(claimed.id))

    async def _send(self, claimed: Claimed, attempted_at: datetime) -> AttemptResult:
        started = time.monotonic()

        def done(
            status_code: int | None, error: str | None, body: str | None = None
        ) -> AttemptResult:
            elapsed = int((time.monotonic() - started) * 1000)
            return AttemptResult(status_code, elapsed, error, body)

        endpoint = claimed.endpoint
        try:
            target = await targets.check_target(
                endpoint.url, allow_private=self.settings.webhook_allow_private_targets
            )
        except targets.UrlError as exc:
            return done(None, f"refused: {exc}")
        timestamp = int(attempted_at.timestamp())
        msg_id = str(claimed.event_id)
        async with self.sessionmaker() as session:
            secrets = await service.signing_secrets(session, endpoint, attempted_at)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(secrets, msg_id, timestamp, claimed.body),
            "host": target.url.netloc.decode("ascii"),
        }
        # Connect to an address just checked; Host and SNI carry the name. A refused
        # connection sent nothing, so the next address may be tried.
        extensions = {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
        refused: httpx.ConnectError | None = None
        for address in target.addresses:
            try:
                async with self._http.stream(
                    "POST",
                    target.url.copy_with(host=str(address)),
                    content=claimed.body,
                    headers=headers,
                    timeout=self.settings.webhook_timeout_seconds,
                    follow_redirects=False,
                    extensions=extensions,
                ) as response:
                    body = await _read_prefix(response, RESPONSE_BODY_LIMIT)
                    return done(response.status_code, None, body)
            except httpx.ConnectError as exc:
                refused = exc
            except httpx.TimeoutException:
                return done(None, f"timed out after {self.settings.webhook_timeout_seconds:g} s")
            except httpx.HTTPError as exc:
                return done(None, f"{type(exc).__name__}: {exc}"[:500])
        return done(None, f"ConnectError: {refused}"[:500])

    async def _record(
        self, claimed: Claimed, attempted_at: datetime, result: AttemptResult
    ) -> None:
        first = claimed.first_attempt_at or attempted_at
        if result.succeeded:
            status, next_at = DeliveryStatus.SUCCEEDED, None
        else:
            next_at = service.next_attempt_at(
                claimed.attempts + 1,
                first,
                attempted_at,
                window=self.retry_window,
                schedule=self.schedule,
                jitter=self.jitter,
                rng=self.rng,
            )
            status = DeliveryStatus.PENDING if next_at is not None else DeliveryStatus.FAILED
        error = result.error or (
            None if result.succeeded else f"HTTP {result.status_code} from the endpoint"
        )
        async with self.sessionmaker() as session, session.begin():
            repository = WebhookRepository(session)
            await repository.lock_endpoint(claimed.endpoint.id)
            if not await repository.record(
                self.owner,
                claimed,
                status=status.value,
                next_attempt_at=next_at,
                attempted_at=attempted_at,
                status_code=result.status_code,
                error=error,
            ):
                log.warning("webhooks.lease_lost", delivery_id=str(claimed.id))
                return
            await repository.add_attempt(
                WebhookAttempt(
                    id=new_id(),
                    delivery_id=claimed.id,
                    tenant_id=claimed.tenant_id,
                    attempted_at=attempted_at,
                    succeeded=result.succeeded,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    error=error,
                    response_body=result.response_body,
                )
            )
            endpoint_id = claimed.endpoint.id
            if result.succeeded:
                await repository.clear_failing(endpoint_id)
            else:
                await repository.mark_failing(endpoint_id, attempted_at)
                disabled = await repository.disable_if_failing_since(
                    endpoint_id,
                    attempted_at - self.disable_after,
                    reason=(
                        "disabled automatically: every delivery failed for "
                        f"{self.settings.webhook_disable_after_hours:g} h"
                    ),
                    now=attempted_at,
                )
                if disabled:
                    await _audit_disabled(session, claimed, attempted_at)
                    log.warning("webhooks.endpoint_disabled", endpoint_id=str(endpoint_id))
        log.info(
            "webhooks.attempt",
            delivery_id=str(claimed.id),
            endpoint_id=str(claimed.endpoint.id),
            status=status.value,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
        )


async def _audit_disabled(session: AsyncSession, claimed: Claimed, at: datetime) -> None:
    """The dispatcher turned an endpoint off: an automated change the tenant must see."""
    endpoint_id = str(claimed.endpoint.id)
    change = {"endpoint_id": endpoint_id, "enabled": False, "at": at.isoformat()}
    await audit.record(
        session,
        [
            audit.AuditEntry(
                tenant_id=claimed.tenant_id,
                actor=AUDIT_ACTOR,
                action="webhooks.endpoint.disable",
                target_type="webhook_endpoint",
                target_id=endpoint_id,
                change_digest=audit.change_digest(change),
                details={"reason": "every delivery failed", "delivery_id": str(claimed.id)},
            )
        ],
        now=at,
    )


async def _read_prefix(response: httpx.Response, limit: int) -> str:
    """The first ``limit`` bytes of the body, without reading the rest."""
    chunks = bytearray()
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) >= limit:
            break
    return bytes(chunks[:limit]).decode("utf-8", errors="replace")
