"""The app factory: one function builds the whole HTTP service from one ``Settings``."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from autoledger import __version__
from autoledger.api import health
from autoledger.api.deps import PrincipalCache
from autoledger.api.middleware import RequestContextMiddleware, SecurityHeadersMiddleware
from autoledger.api.problems import PROBLEM_MEDIA_TYPE, Problem, from_error, problem
from autoledger.banking import api as banking_api
from autoledger.categorize import api as categorize_api
from autoledger.close import api as close_api
from autoledger.db.migrate import head_revision
from autoledger.fx import api as fx_api
from autoledger.kit.errors import AutoledgerError, FieldError
from autoledger.kit.settings import Settings
from autoledger.ledger import api as ledger_api
from autoledger.platform.audit import api as audit_api
from autoledger.platform.auth import api as auth_api
from autoledger.platform.events import api as events_api
from autoledger.platform.events.bus import Bus
from autoledger.platform.events.consumers import Consumer
from autoledger.platform.observability.tracing import instrument, tracer_provider
from autoledger.platform.ratelimit import create_limiter
from autoledger.platform.webhooks import api as webhooks_api
from autoledger.reconcile import api as reconcile_api
from autoledger.reports import api as reports_api
from autoledger.runtime import Runtime

log = structlog.get_logger("autoledger.api")

_HTTP_CODES = {
    404: ("http.not_found", "Not found"),
    405: ("http.method_not_allowed", "Method not allowed"),
    413: ("http.payload_too_large", "Payload too large"),
}


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(
            loc=".".join(str(part) for part in error.get("loc", ())),
            message=str(error.get("msg", "invalid")),
            type=str(error.get("type", "value_error")),
        )
        for error in exc.errors()
    ]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AutoledgerError)
    async def _domain_error(request: Request, exc: AutoledgerError) -> Response:
        return from_error(exc, _request_id(request))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = _field_errors(exc)
        return problem(
            status=422,
            code="request.invalid",
            title="Invalid request",
            detail="; ".join(f"{e.loc}: {e.message}" for e in errors[:5]),
            request_id=_request_id(request),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, AutoledgerError):  # raised while FastAPI read the body
            return from_error(exc.__cause__, _request_id(request))
        code, title = _HTTP_CODES.get(exc.status_code, (f"http.{exc.status_code}", "HTTP error"))
        return problem(
            status=exc.status_code,
            code=code,
            title=title,
            detail=str(exc.detail),
            request_id=_request_id(request),
            headers=dict(exc.headers or {}),
        )


def create_app(
    settings: Settings,
    *,
    consumers: Sequence[Consumer] | None = None,
    bus: Bus | None = None,
) -> FastAPI:
    """The HTTP service. In the embedded mode (``embedded_worker``) the process also runs the
    event worker: relay, consumers and webhook delivery; ``consumers`` and ``bus`` override
    the registered ones (tests)."""
    provider = tracer_provider(settings)
    runtime = Runtime.build(
        settings, with_worker=settings.embedded_worker, consumers=consumers, bus=bus
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("service.starting", version=__version__, database=runtime.engine.dialect.name)
        await runtime.start()
        yield
        await runtime.stop()
        await _app.state.rate_limiter.aclose()
        provider.shutdown()
        log.info("service.stopped")

    app = FastAPI(
        title="autoledger",
        version=__version__,
        summary="The open backend for autonomous finance operations.",
        lifespan=lifespan,
        responses={
            status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": text}
            for status, text in (
                (400, "The JSON body is not valid UTF-8"),
                (401, "Missing or invalid API key"),
                (403, "The key lacks the route's scope"),
                (413, "The request body exceeds the size cap"),
                (422, "Invalid request payload"),
                (429, "The key's rate limit is spent; retry after `Retry-After` seconds"),
            )
        },
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.engine = runtime.engine
    app.state.sessionmaker = runtime.sessionmaker
    app.state.system_sessionmaker = runtime.system_sessionmaker
    app.state.journal_writer = runtime.writer
    app.state.metrics = runtime.metrics
    app.state.shedder = runtime.shedder
    app.state.importer = runtime.importer
    app.state.principal_cache = PrincipalCache(settings.api_key_cache_seconds)
    app.state.migration_head = head_revision()

    _install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth_api.router)
    app.include_router(ledger_api.router)
    app.include_router(events_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(audit_api.router)
    app.include_router(banking_api.router)
    app.include_router(categorize_api.router)
    app.include_router(reconcile_api.router)
    app.include_router(fx_api.router)
    app.include_router(reports_api.router)
    app.include_router(close_api.router)
    instrument(app, provider)
    # Abuse limits and browser hygiene (ADR 0007). The last added runs first: CORS, then the
    # security headers, then the request context (ids, size/nesting/encoding caps, deadline),
    # so every response — a 413, a timeout, a 500 — gets the headers.
    app.state.rate_limiter = create_limiter(settings)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=app.state.metrics,
        max_body_bytes=settings.max_body_bytes,
        json_max_depth=settings.json_max_depth,
        timeout_seconds=settings.request_timeout_seconds,
        # the multipart envelope around the largest statement file
        max_upload_bytes=settings.import_max_bytes + 64 * 1024,
    )
    app.add_middleware(
        SecurityHeadersMiddleware,
        docs_paths=[
            path
            for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
            if path
        ],
    )
    if settings.cors_origins:
        # Bearer keys, not cookies: no credentials, so no origin can ride a user's session.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "traceparent",
            ],
            expose_headers=[
                "X-Request-ID",
                "traceparent",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "Location",
            ],
            max_age=600,
        )
    return app
