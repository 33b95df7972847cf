"""Sensitive values in API responses: masked (``****1234``) unless the caller may reveal.

A schema declares a field as :data:`SensitiveStr`; serializing it to JSON shows the value
only while :data:`reveal_sensitive` is true, which the API sets per request from the key's
``pii:reveal`` scope (auditors and admins). The default is masked: a response built
outside a request, or by a caller without the scope, never carries the clear value.
"""

from contextvars import ContextVar
from typing import Annotated

from pydantic import PlainSerializer

reveal_sensitive: ContextVar[bool] = ContextVar("reveal_sensitive", default=False)


def mask(value: str, visible: int = 4) -> str:
    """``****`` and the last ``visible`` characters; only ``****`` when the value is too short
    to show any without showing most of it. The star count never varies, so the mask does
    not leak the length."""
    if visible <= 0 or len(value) <= visible * 2:
        return "****"
    return "****" + value[-visible:]


def _serialize(value: str) -> str:
    return value if reveal_sensitive.get() else mask(value)


SensitiveStr = Annotated[str, PlainSerializer(_serialize, return_type=str, when_used="json")]
"""A string shown in JSON only to callers with ``pii:reveal``; ``****1234`` to others."""
