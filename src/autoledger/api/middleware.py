"""The outermost middleware: request ids, W3C trace context, metrics, access log, and the
last line of defence that turns any unhandled exception into a 500 problem without internals.

Written as plain ASGI (not ``BaseHTTPMiddleware``) because it sits on every request's path.
"""

import logging
import re
import secrets
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoledger.api.problems import problem
from autoledger.kit.errors import AutoledgerError
from autoledger.kit.ids import new_id
from autoledger.platform.observability.metrics import HttpMetrics

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


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    def _limited(self, receive: Receive) -> Receive:
        """Refuse a body larger than the cap while it streams in (chunked uploads too)."""
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise PayloadTooLarge(f"the request body exceeds {self.max_body_bytes} bytes")
            return message

        return receive_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        given_id = _header(scope, b"x-request-id")
        request_id = given_id if given_id and _REQUEST_ID.fullmatch(given_id) else new_id().hex
        parent = parse_traceparent(_header(scope, b"traceparent"))
        trace_id, flags = parent if parent else (secrets.token_hex(16), "00")
        traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"
        scope.setdefault("state", {})["request_id"] = request_id

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
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            too_large = problem(
                status=413,
                code=PayloadTooLarge.code,
                title=PayloadTooLarge.title,
                detail=f"the request body exceeds {self.max_body_bytes} bytes",
                request_id=request_id,
            )
            await too_large(scope, receive, send_with_ids)
            return
        receive = self._limited(receive)
        structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace_id)
        self.metrics.in_flight.inc()
        begin = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
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
