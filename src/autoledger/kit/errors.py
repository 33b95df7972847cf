"""One root error with domain subclasses that carry a stable code and an HTTP status.

The hierarchy mirrors PEP 249's split: a request that can never succeed as sent
(:class:`InvalidRequest`, :class:`NotFound`, :class:`Conflict`) versus a condition of the
system (:class:`Unavailable`). The API renders every one as RFC 9457 problem+json.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field: a location (``body.postings.0.amount``) and why."""

    loc: str
    message: str
    type: str = "value_error"


class AutoledgerError(Exception):
    """Root of every error autoledger raises on purpose."""

    code: ClassVar[str] = "autoledger.error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.extra = extra or {}
        self.headers = headers or {}


class InvalidRequest(AutoledgerError):
    code = "request.invalid"
    status = 422
    title = "Invalid request"


class Unauthenticated(AutoledgerError):
    code = "auth.unauthenticated"
    status = 401
    title = "Authentication required"


class Forbidden(AutoledgerError):
    code = "auth.forbidden"
    status = 403
    title = "Forbidden"


class NotFound(AutoledgerError):
    code = "resource.not_found"
    status = 404
    title = "Not found"


class Conflict(AutoledgerError):
    code = "resource.conflict"
    status = 409
    title = "Conflict"


class Unavailable(AutoledgerError):
    code = "service.unavailable"
    status = 503
    title = "Service unavailable"


@dataclass(frozen=True, slots=True)
class ConfigurationError(Exception):
    """Invalid configuration: names the setting so start-up can fail with one line."""

    setting: str
    reason: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"invalid setting {self.setting}: {self.reason}"


class InvalidCursor(InvalidRequest):
    code = "request.invalid_cursor"
    title = "Invalid cursor"


def describe(exc: BaseException) -> str:
    """One line for a log field: the exception type and message, no traceback (background
    loops log a failure every round while a dependency is down)."""
    return f"{type(exc).__name__}: {exc}"[:1000]
