"""Pydantic bases shared by every domain's API contract."""

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

NUL = "\x00"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(item) for item in value)
    return False  # nested models check their own fields


class RequestModel(BaseModel):
    """Input at the API edge: unknown fields are an error, never silently dropped.

    No text may hold NUL (U+0000): PostgreSQL cannot store it, so it is refused here (422
    naming the field) on every backend alike, rather than failing in the database.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL (U+0000)")
        return value


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)
