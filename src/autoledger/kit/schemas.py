"""Pydantic bases shared by every domain's API contract."""

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Input at the API edge: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)
