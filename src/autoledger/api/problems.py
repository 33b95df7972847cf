"""RFC 9457 problem details: every error the API returns has this one shape."""

from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from autoledger.kit.errors import AutoledgerError, FieldError

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemFieldError(BaseModel):
    loc: str
    message: str
    type: str


class Problem(BaseModel):
    """The documented shape of an error response (extension members may follow)."""

    type: str = Field(examples=["urn:autoledger:problem:resource.not_found"])
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    request_id: str | None = None
    errors: list[ProblemFieldError] = Field(default_factory=list)


def problem_type(code: str) -> str:
    return f"urn:autoledger:problem:{code}"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str | None = None,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    if errors:
        body["errors"] = [{"loc": e.loc, "message": e.message, "type": e.type} for e in errors]
    if extra:
        body |= {k: v for k, v in extra.items() if k not in body}
    return ProblemResponse(body, status_code=status, headers=headers)


def from_error(error: AutoledgerError, request_id: str | None) -> Response:
    return problem(
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        request_id=request_id,
        errors=error.errors,
        extra=error.extra,
        headers=error.headers,
    )


def responses(*errors: type[AutoledgerError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: each declared error's status with the problem schema."""
    out: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = out.setdefault(
            error.status,
            {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": ""},
        )
        entry["description"] = "; ".join(filter(None, [entry["description"], f"`{error.code}`"]))
    return out
