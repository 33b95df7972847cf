"""What every CLI command shares: settings read once, a database session, one-line errors."""

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import NoReturn, TypeVar

from rich.console import Console
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.tenancy import system_settings
from autoledger.kit.errors import AutoledgerError, ConfigurationError
from autoledger.kit.settings import Settings, load_settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        fail(str(exc))


@asynccontextmanager
async def session_scope(config: Settings) -> AsyncIterator[AsyncSession]:
    """A session whose work commits when the block succeeds and rolls back otherwise."""
    engine = create_engine(system_settings(config))  # an operator tool: the system role
    try:
        async with create_sessionmaker(engine)() as session:
            yield session
            await session.commit()
    finally:
        await engine.dispose()


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, turning domain and connection errors into one line and exit 1."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except AutoledgerError as exc:
        fail(f"{exc.code}: {exc.detail}")
    except ConfigurationError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    except DBAPIError as exc:
        # The driver's first line only: SQLAlchemy's own text adds the statement and a link.
        lines = str(exc.orig).strip().splitlines()
        fail(f"database error: {lines[0] if lines else type(exc.orig).__name__}")
