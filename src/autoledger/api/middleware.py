"""The request-path middleware, written as plain ASGI (not ``BaseHTTPMiddleware``) because it
sits on every request's path.

:class:`RequestContextMiddleware`: request ids, W3C trace context, metrics, access log, the
abuse limits every request meets before a route runs (body size, JSON nesting, UTF-8, a
deadline), and the last line of defence that turns any unhandled exception into a 500 problem
without internals. :class:`SecurityHeadersMiddleware`: the browser-facing response headers.
"""

import asyncio
import base64
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Collection
from itertools import accumulate

import asyncpg
import structlog
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoledger.api.problems import from_error, problem
from autoledger.kit.errors import AutoledgerError, FieldError, InvalidRequest, Unavailable
from autoledger.kit.ids import new_id
from autoledger.platform.observability.metrics import HttpMetrics
from autoledger.platform.ratelimit.limiter import RESPONSE_HEADERS_STATE

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16

log = structlog.get_logger("autoledger.http")
# structlog runs its processors before the stdlib level check: skip them when info is off.
_access_log = logging.getLogger("autoledger.http")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """``(trace_id, flags)`` of a valid W3C traceparent, else ``None``."""
    if value is None:
        return None
    match = _TRACEPARENT.fullmatch(value.strip().lower())
    if match is None or match.group(1) == _ZERO_TRACE or match.group(2) == _ZERO_SPAN:
        return None
    return match.group(1), match.group(3)


class PayloadTooLarge(AutoledgerError):
    code = "http.payload_too_large"
    status = 413
    title = "Payload too large"


class TooDeeplyNested(InvalidRequest):
    code = "request.too_deeply_nested"
    title = "JSON nested too deeply"


class InvalidEncoding(AutoledgerError):
    code = "request.invalid_encoding"
    status = 400
    title = "Invalid encoding"


class RequestTimeout(Unavailable):
    code = "request.timeout"
    title = "Request timed out"


class DatabaseUnavailable(Unavailable):
    code = "service.database_unavailable"
    title = "Database unavailable"


class TransactionAborted(Unavailable):
    code = "service.transaction_aborted"
    title = "Transaction aborted by the database"


def _rolled_back_by_database(exc: BaseException) -> bool:
    """A deadlock or serialization failure (SQLSTATE class 40): safe to retry as a whole."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    cause = getattr(orig, "__cause__", None)
    return any(isinstance(e, asyncpg.exceptions.TransactionRollbackError) for e in (orig, cause))


_CONNECTION_LOST = (
    ConnectionError,  # the socket (refused, reset, broken pipe)
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57P01-03: admin/crash shutdown
    asyncpg.exceptions.InterfaceError,  # "connection is closed"
)


def _database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the database going away mid-request, not an
    error of the request: the transaction is gone, so nothing was written."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, DBAPIError):
            seen = seen.orig
            continue
        if isinstance(seen, _CONNECTION_LOST):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# JSON nesting. Strings are cut out first, then only the brackets are kept, ``{}`` folded
# into ``[]``. Every step is a C-speed bytes operation: the scan costs less than parsing.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_CURLY_TO_SQUARE = bytes.maketrans(b"{}", b"[]")
_STEP = tuple(1 if b == ord("[") else -1 if b == ord("]") else 0 for b in range(256))


def check_json_depth(body: bytes, max_depth: int) -> None:
    """Raise :class:`TooDeeplyNested` when arrays and objects in ``body`` nest deeper than
    ``max_depth`` — before a recursive parser sees it. Runs in C-speed passes: a body with
    fewer openings than ``max_depth`` returns at once; otherwise each pass deletes the
    innermost ``[]`` pairs, so a balanced body is within the cap iff ``max_depth`` passes
    leave no pair. An unbalanced (so invalid) body gets an exact prefix-depth scan.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return
    # Escapes pair up left to right (doubled backslashes first, then escaped quotes), so the
    # quotes left alternate open/close: the even pieces between them are outside every string
    # (after an unterminated quote, the rest is the odd, last piece).
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(unescaped.split(b'"')[::2])
    brackets = outside.translate(_CURLY_TO_SQUARE, _NOT_BRACKETS)
    if brackets.count(b"[") <= max_depth:
        return
    remaining = brackets
    for _ in range(max_depth):
        peeled = remaining.replace(b"[]", b"")
        if len(peeled) == len(remaining):
            break
        remaining = peeled
    deeper = b"[]" in remaining
    if not deeper and remaining:
        deeper = max(accumulate(map(_STEP.__getitem__, brackets))) > max_depth
    if deeper:
        raise TooDeeplyNested(f"arrays and objects may nest at most {max_depth} levels deep")


def _is_json(scope: Scope) -> bool:
    """The media types FastAPI parses as JSON: ``application/json`` and ``application/*+json``.
    (Without a content type FastAPI does not parse a body, so neither do we.)"""
    value = _header(scope, b"content-type")
    if value is None:
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: HttpMetrics,
        max_body_bytes: int,
        *,
        json_max_depth: int = 32,
        timeout_seconds: float | None = None,
        max_upload_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # A file upload (multipart) may be larger than any JSON body: its own cap.
        self.max_upload_bytes = max_upload_bytes or max_body_bytes
        self.json_max_depth = json_max_depth
        self.timeout_seconds = timeout_seconds

    def _limited(self, receive: Receive, cap: int) -> Receive:
        """Refuse a body larger than the cap while it streams in (chunked uploads too)."""
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise PayloadTooLarge(f"the request body exceeds {cap} bytes")
            return message

        return receive_limited

    async def _checked_json(self, receive: Receive) -> Receive:
        """Read a JSON body whole (within the size cap), refuse bad UTF-8 or deep nesting, and
        hand the app a ``receive`` that replays it."""
        chunks: list[bytes] = []
        first: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                first = message
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if first is None:
            try:
                body.decode("utf-8")  # RFC 8259 §8.1: JSON exchanged between systems is UTF-8
            except UnicodeDecodeError as exc:
                raise InvalidEncoding(
                    f"the JSON body is not valid UTF-8 (byte {exc.start})"
                ) from None
            check_json_depth(body, self.json_max_depth)
            first = {"type": "http.request", "body": body, "more_body": False}
        pending: Message | None = first

        async def replay() -> Message:
            nonlocal pending
            if pending is not None:
                message, pending = pending, None
                return message
            return await receive()

        return replay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        given_id = _header(scope, b"x-request-id")
        request_id = given_id if given_id and _REQUEST_ID.fullmatch(given_id) else new_id().hex
        parent = parse_traceparent(_header(scope, b"traceparent"))
        trace_id, flags = parent if parent else (secrets.token_hex(16), "00")
        traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id

        extra_headers = [
            (b"x-request-id", request_id.encode()),
            (b"traceparent", traceparent.encode()),
        ]
        status = 500
        started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [*message.get("headers", []), *extra_headers]
                # Headers a dependency left for the response (the rate limiter's RateLimit-*),
                # unless the response already carries them (a 429 does).
                present = {name.lower() for name, _ in headers}
                for name, value in state.get(RESPONSE_HEADERS_STATE, {}).items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        content_type = (_header(scope, b"content-type") or "").lower()
        cap = (
            self.max_upload_bytes
            if content_type.startswith("multipart/form-data")
            else self.max_body_bytes
        )
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            too_large = problem(
                status=413,
                code=PayloadTooLarge.code,
                title=PayloadTooLarge.title,
                detail=f"the request body exceeds {cap} bytes",
                request_id=request_id,
            )
            await too_large(scope, receive, send_with_ids)
            return
        if b"%00" in scope.get("query_string", b""):
            # PostgreSQL text cannot hold NUL (a query with one fails): refused on every backend.
            nul = InvalidRequest(
                "query parameters must not contain NUL (%00)",
                errors=[FieldError("query", "must not contain NUL (%00)")],
            )
            await from_error(nul, request_id)(scope, receive, send_with_ids)
            return
        receive = self._limited(receive, cap)
        structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace_id)
        self.metrics.in_flight.inc()
        begin = time.perf_counter()
        # The deadline covers reading the body too (a client trickling bytes holds a worker).
        # When it passes, asyncio cancels this task: the route's awaits raise CancelledError,
        # so `async with` blocks (the request's session) unwind and roll back. Work handed to
        # another task (the journal writer's group commit) is not cancelled: it commits or
        # fails as a whole, and the client retries with its Idempotency-Key (ADR 0007).
        deadline = asyncio.timeout(self.timeout_seconds)
        try:
            async with deadline:
                if _is_json(scope):
                    try:
                        receive = await self._checked_json(receive)
                    except AutoledgerError as exc:
                        await from_error(exc, request_id)(scope, receive, send_with_ids)
                        return
                await self.app(scope, receive, send_with_ids)
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                log.warning(
                    "request.timeout",
                    method=scope["method"],
                    path=scope["path"],
                    timeout_seconds=self.timeout_seconds,
                    response_started=started,
                )
                if not started:  # once headers are out, the truncated response is the signal
                    timed_out = RequestTimeout(
                        f"the request took longer than {self.timeout_seconds:g} seconds"
                    )
                    await from_error(timed_out, request_id)(scope, receive, send_with_ids)
            elif _rolled_back_by_database(exc):
                # a deadlock or serialization failure: PostgreSQL undid the transaction
                log.warning(
                    "request.transaction_aborted",
                    method=scope["method"],
                    path=scope["path"],
                    error=type(exc).__name__,
                )
                if not started:
                    aborted = TransactionAborted(
                        "the database rolled the transaction back (a deadlock or a"
                        " serialization conflict with another request); nothing was changed,"
                        " retry",
                        headers={"Retry-After": "1"},
                    )
                    await from_error(aborted, request_id)(scope, receive, send_with_ids)
            elif _database_unreachable(exc):
                # a restart or failover of PostgreSQL: the transaction rolled back, so the
                # client may retry (with its Idempotency-Key) once the database is back
                log.warning(
                    "request.database_unavailable",
                    method=scope["method"],
                    path=scope["path"],
                    error=type(exc).__name__,
                )
                if not started:
                    unavailable = DatabaseUnavailable(
                        "the database connection was lost; nothing was changed, retry",
                        headers={"Retry-After": "1"},
                    )
                    await from_error(unavailable, request_id)(scope, receive, send_with_ids)
            else:
                log.exception("request.unhandled_error", method=scope["method"], path=scope["path"])
                if not started:
                    response = problem(
                        status=500,
                        code="internal.error",
                        title="Internal error",
                        detail="The server failed to handle the request; the request id identifies it in the logs.",
                        request_id=request_id,
                    )
                    await response(scope, receive, send_with_ids)
        finally:
            elapsed = time.perf_counter() - begin
            self.metrics.in_flight.dec()
            route = _route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(elapsed)
            if _access_log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 3),
                )
            structlog.contextvars.clear_contextvars()


def _route_template(scope: Scope) -> str:
    # Label by template, never by raw path: raw paths carry ids and would explode cardinality.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


# Security headers. The API answers JSON only: its CSP allows nothing. The docs pages load
# Swagger UI / ReDoc from the CDN FastAPI uses (fastapi/openapi/docs.py); their one inline
# script is allowed by its hash, computed from the page as served.
_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_DOCS_CSP = (
    "default-src 'none'; "
    "script-src {scripts}; "
    "style-src https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src https://fonts.gstatic.com; "
    "connect-src 'self'; worker-src blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (
        b"permissions-policy",
        b"accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        b"microphone=(), payment=(), usb=(), interest-cohort=()",
    ),
)


def docs_csp(html: bytes) -> str:
    """The docs pages' policy, allowing exactly the inline scripts ``html`` carries."""
    scripts = ["https://cdn.jsdelivr.net"] + [
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return _DOCS_CSP.format(scripts=" ".join(scripts))


class SecurityHeadersMiddleware:
    """Adds the security headers to every response (a header the response set wins) and
    ``Cache-Control: no-store`` to ``/v1`` responses: they hold tenant data."""

    def __init__(
        self, app: ASGIApp, *, docs_paths: Collection[str], api_prefix: str = "/v1"
    ) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in self.docs_paths:
            await self._docs(scope, receive, send)
            return
        extra = [*_ALWAYS, (b"content-security-policy", _API_CSP.encode())]
        if path == self.api_prefix or path.startswith(self.api_prefix + "/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merged(message.get("headers", []), extra)
            await send(message)

        await self.app(scope, receive, send_secured)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The policy depends on the page, so the (small) page is held until it is complete.
        start: Message | None = None
        body: list[bytes] = []

        async def send_docs(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                html = b"".join(body)
                csp = (b"content-security-policy", docs_csp(html).encode())
                start["headers"] = _merged(start.get("headers", []), [*_ALWAYS, csp])
                await send(start)
                await send({"type": "http.response.body", "body": html, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, send_docs)


def _merged(
    headers: list[tuple[bytes, bytes]],
    extra: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...],
) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    return [*headers, *(header for header in extra if header[0] not in present)]
