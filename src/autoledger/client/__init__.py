"""The typed Python SDK for the autoledger API: :class:`Client` (sync) and
:class:`AsyncClient` (async), both raising :class:`ApiError` on a non-2xx answer."""

from autoledger.client.sdk import (
    ApiError,
    AsyncClient,
    Call,
    Client,
    EntryQuery,
    FieldProblem,
    RetryPolicy,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "Call",
    "Client",
    "EntryQuery",
    "FieldProblem",
    "RetryPolicy",
]
