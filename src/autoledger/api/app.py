"""The app factory: one function builds the whole HTTP service from one ``Settings``."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from autoledger import __version__
from autoledger.api import health
from autoledger.api.deps import PrincipalCache
from autoledger.api.middleware import RequestContextMiddleware
from autoledger.api.problems import Problem, from_error, problem
from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.migrate import head_revision
from autoledger.kit.errors import AutoledgerError, FieldError
from autoledger.kit.settings import Settings
from autoledger.ledger import api as ledger_api
from autoledger.ledger.expiry import expire_pending
from autoledger.ledger.writer import JournalWriter
from autoledger.platform.auth import api as auth_api
from autoledger.platform.idempotency.service import purge_expired
from autoledger.platform.observability.metrics import HttpMetrics
from autoledger.platform.observability.tracing import instrument, tracer_provider

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


async def _housekeeping(
    writer: JournalWriter, sessionmaker: async_sessionmaker[AsyncSession], interval: float
) -> None:
    """Periodic chores of an API process: void expired holds, forget expired idempotency keys."""
    while True:
        try:
            await expire_pending(writer, sessionmaker)
            async with sessionmaker() as session:
                await purge_expired(session)
                await session.commit()
        except Exception:  # keep the loop alive; the next round retries
            log.exception("housekeeping.failed")
        await asyncio.sleep(interval)


def create_app(settings: Settings) -> FastAPI:
    engine = create_engine(settings)
    provider = tracer_provider(settings)

    sessionmaker = create_sessionmaker(engine)
    writer = JournalWriter(
        sessionmaker,
        max_group=settings.writer_max_group,
        max_queue=settings.writer_max_queue,
        serialize=settings.is_sqlite,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("service.starting", version=__version__, database=engine.dialect.name)
        await writer.start()
        expiry = asyncio.create_task(
            _housekeeping(writer, sessionmaker, settings.pending_expiry_interval_seconds)
        )
        yield
        expiry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await expiry
        await writer.stop()
        await engine.dispose()
        provider.shutdown()
        log.info("service.stopped")

    app = FastAPI(
        title="autoledger",
        version=__version__,
        summary="The open backend for autonomous finance operations.",
        lifespan=lifespan,
        responses={
            401: {"model": Problem, "description": "Missing or invalid API key"},
            403: {"model": Problem, "description": "The key lacks the route's scope"},
            422: {"model": Problem, "description": "Invalid request payload"},
        },
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.journal_writer = writer
    app.state.metrics = HttpMetrics()
    app.state.principal_cache = PrincipalCache(settings.api_key_cache_seconds)
    app.state.migration_head = head_revision()

    _install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth_api.router)
    app.include_router(ledger_api.router)
    instrument(app, provider)
    app.add_middleware(
        RequestContextMiddleware, metrics=app.state.metrics, max_body_bytes=settings.max_body_bytes
    )
    return app
