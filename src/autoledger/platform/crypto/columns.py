"""Encrypted columns of a mapped class: ciphertext in the database, plaintext readable in sync
code once the row is loaded.

Writing is explicit (``await columns.write(session, obj, "secret", value)``). Reading is
synchronous for code that has an object but no session — the webhook dispatcher signs with
an endpoint loaded in a transaction it has already closed — so the columns are decrypted
when the row loads, inside SQLAlchemy's async bridge (the ``load`` event runs in the
greenlet of ``AsyncSession.execute``, where ``await_only`` may await the key lookup and the
KEK). A failure there (a shredded tenant, an unreachable KMS) does not fail the query: it is
kept and raised by ``read``, where the value is needed.
"""

import uuid
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_session
from sqlalchemy.orm import QueryContext
from sqlalchemy.util import await_only

from autoledger.platform.crypto.errors import CryptoError
from autoledger.platform.crypto.service import decrypt_field, encrypt_field

_INFO = "autoledger.crypto.plaintext"


class EncryptedColumns:
    """Keep ``columns`` of ``cls`` (string columns of a table with ``tenant_id``) encrypted,
    each with the table and its own name as associated data."""

    def __init__(self, cls: type[Any], *columns: str) -> None:
        self.table: str = cls.__tablename__
        self.columns = columns
        event.listen(cls, "load", self._on_load)
        event.listen(cls, "refresh", self._on_refresh)

    async def write(
        self, session: AsyncSession, obj: Any, column: str, plaintext: str | None
    ) -> None:
        """Encrypt ``plaintext`` into ``column`` (``None`` clears it)."""
        self._check(column)
        setattr(
            obj,
            column,
            None
            if plaintext is None
            else await encrypt_field(session, obj.tenant_id, self.table, column, plaintext),
        )
        inspect(obj).info.setdefault(_INFO, {})[column] = plaintext

    def read(self, obj: Any, column: str) -> str | None:
        """The plaintext of ``column`` as loaded or last written."""
        self._check(column)
        found = inspect(obj).info.get(_INFO, {})
        if column not in found:
            raise CryptoError(
                f"{self.table}.{column} was not decrypted: load the row through an "
                "AsyncSession, or write the column first"
            )
        value = found[column]
        if isinstance(value, CryptoError):
            raise type(value)(value.detail)
        return value  # type: ignore[no-any-return]

    def _check(self, column: str) -> None:
        if column not in self.columns:
            raise ValueError(f"{self.table}.{column} is not an encrypted column")

    def _on_load(self, target: Any, context: QueryContext) -> None:
        self._decrypt(target, context, self.columns)

    def _on_refresh(self, target: Any, context: QueryContext, attrs: Any) -> None:
        refreshed = self.columns if attrs is None else [c for c in self.columns if c in attrs]
        self._decrypt(target, context, refreshed)

    def _decrypt(self, target: Any, context: QueryContext, columns: Any) -> None:
        session = async_session(context.session)
        if session is None:  # a sync Session: nothing can be awaited; ``read`` says so
            return
        state = inspect(target)
        tenant_id: uuid.UUID = state.dict["tenant_id"]
        found: dict[str, str | CryptoError | None] = state.info.setdefault(_INFO, {})
        with context.session.no_autoflush:
            for column in columns:
                if column not in state.dict:  # deferred or not part of this load
                    continue
                value = state.dict[column]
                if not value:
                    found[column] = value
                    continue
                try:
                    found[column] = await_only(
                        decrypt_field(session, tenant_id, self.table, column, value)
                    )
                except CryptoError as exc:
                    found[column] = exc
