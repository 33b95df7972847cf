"""Annotated dependency aliases every router uses: ``Session`` and the scoped principals."""

import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.db.tenancy import current_tenant
from autoledger.kit.clock import utcnow
from autoledger.kit.sensitive import reveal_sensitive
from autoledger.kit.settings import Settings
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.errors import InsufficientScope, InvalidApiKey
from autoledger.platform.auth.roles import Scope
from autoledger.platform.ratelimit import enforce

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer al_...`")


class PrincipalCache:
    """Recently authenticated keys, so a hot path does not query the key table per request.

    A revoked key stops working within ``ttl`` seconds on every process (bounded staleness,
    documented in ADR 0002). Keyed by a digest of the token, never the token itself.
    """

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, auth.Principal]] = OrderedDict()

    def get(self, digest: str) -> auth.Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        stored_at, principal = entry
        if time.monotonic() - stored_at > self.ttl:
            del self._entries[digest]
            return None
        return principal

    def put(self, digest: str, principal: auth.Principal) -> None:
        if self.ttl <= 0:
            return
        self._entries[digest] = (time.monotonic(), principal)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request. Write routes commit explicitly before responding; anything
    not committed is rolled back when the session closes."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        yield session


Session = Annotated[AsyncSession, Depends(_session)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]


async def _principal(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> auth.Principal:
    # RFC 9110 §11.6.2: one credential per request; of two, which was meant is a guess.
    if len(request.headers.getlist("authorization")) > 1:
        raise InvalidApiKey(
            "send exactly one Authorization header", headers={"WWW-Authenticate": "Bearer"}
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidApiKey(
            "send an API key as 'Authorization: Bearer al_...'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache: PrincipalCache = request.app.state.principal_cache
    digest = hashlib.sha256(credentials.credentials.encode()).hexdigest()
    principal = cache.get(digest)
    if principal is None or (principal.expires_at is not None and principal.expires_at <= utcnow()):
        # A short session of its own: a route that writes through the journal writer must not
        # hold a pooled connection while it waits (64 waiting requests would starve the pool).
        # The key table is looked up before the tenant is known: a system session.
        maker: async_sessionmaker[AsyncSession] = request.app.state.system_sessionmaker
        try:
            async with maker() as session:
                principal = await auth.authenticate(session, credentials.credentials)
                await session.commit()  # last_used_at
        except InvalidApiKey as exc:
            exc.headers["WWW-Authenticate"] = "Bearer"
            raise
        cache.put(digest, principal)
    await enforce(request, principal)  # 429 + Retry-After once this key's bucket is empty
    for name in security_scopes.scopes:
        if not principal.allows(Scope(name)):
            raise InsufficientScope(f"this route needs the '{name}' scope")
    # Every transaction of this request acts for the key's tenant (row-level security).
    current_tenant.set(principal.tenant_id)
    # Sensitive fields in this request's responses: clear only with pii:reveal.
    reveal_sensitive.set(principal.allows(Scope.PII_REVEAL))
    if request.method not in _READ_METHODS:
        request.app.state.shedder.check()  # 503 + Retry-After while the outbox is backlogged
    return principal


def _scoped(scope: Scope) -> Any:
    return Security(_principal, scopes=[scope.value])


# One alias per scope; every /v1 route declares exactly one (tests/security checks it).
Profile = Annotated[auth.Principal, _scoped(Scope.PROFILE_READ)]
LedgerReader = Annotated[auth.Principal, _scoped(Scope.LEDGER_READ)]
LedgerWriter = Annotated[auth.Principal, _scoped(Scope.LEDGER_WRITE)]
EntryApprover = Annotated[auth.Principal, _scoped(Scope.ENTRIES_APPROVE)]
PeriodCloser = Annotated[auth.Principal, _scoped(Scope.PERIODS_CLOSE)]
KeyManager = Annotated[auth.Principal, _scoped(Scope.KEYS_MANAGE)]
AuditReader = Annotated[auth.Principal, _scoped(Scope.AUDIT_READ)]
EventReader = Annotated[auth.Principal, _scoped(Scope.EVENTS_READ)]
EventReplayer = Annotated[auth.Principal, _scoped(Scope.EVENTS_REPLAY)]
WebhookReader = Annotated[auth.Principal, _scoped(Scope.WEBHOOKS_READ)]
WebhookManager = Annotated[auth.Principal, _scoped(Scope.WEBHOOKS_MANAGE)]
BankingReader = Annotated[auth.Principal, _scoped(Scope.BANKING_READ)]
BankingWriter = Annotated[auth.Principal, _scoped(Scope.BANKING_WRITE)]
BookkeepingReader = Annotated[auth.Principal, _scoped(Scope.BOOKKEEPING_READ)]
BookkeepingReviewer = Annotated[auth.Principal, _scoped(Scope.BOOKKEEPING_REVIEW)]
BookkeepingManager = Annotated[auth.Principal, _scoped(Scope.BOOKKEEPING_MANAGE)]
ReconcileReader = Annotated[auth.Principal, _scoped(Scope.RECONCILE_READ)]
ReconcileManager = Annotated[auth.Principal, _scoped(Scope.RECONCILE_MANAGE)]
ReconcileWriter = Annotated[auth.Principal, _scoped(Scope.RECONCILE_WRITE)]
ReportReader = Annotated[auth.Principal, _scoped(Scope.REPORTS_READ)]
