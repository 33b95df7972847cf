"""Schemathesis over the whole OpenAPI document, in-process (ASGI), authenticated as a test
tenant's admin: positive and negative examples for every operation. Every response must be
documented and conform to the schema, no response is a 5xx, every error is problem+json, and
no response shows an id of the other tenant seeded beforehand.

The app runs on schemathesis's own event-loop thread, so it is an instance of its own (not
the session ``app`` fixture) on a database of its own, seeded first through another instance.
Rate limits and load shedding are set out of reach: a 429/503 would only mean the fuzzer is
fast. The embedded worker is off: webhook endpoints the fuzzer registers are never called.
Both backends: a run takes about as long on PostgreSQL as on SQLite.
"""

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from autoledger.api.app import create_app
from autoledger.kit.settings import Settings
from tests.api.test_errors_and_observability import serving
from tests.conftest import make_tenant
from tests.ledger.support import fresh_database, fresh_sessionmaker
from tests.security.support import World, build_world

PROBLEM_FIELDS = ("type", "title", "status", "code")
# Per operation and mode; fixed examples (derandomized, no example database) keep CI stable.
EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@dataclass(frozen=True)
class Fuzzed:
    """The tenant the fuzzer acts as (with objects to aim at) and the one it must not see."""

    own: World
    other: World

    def aimed(self, case: Case) -> None:
        """Half the generated ids (by parity, so runs stay reproducible) become ids of the
        fuzzing tenant's own objects, so handlers run past their 404 too."""
        own = self.own.path_params()
        for name, value in (case.path_parameters or {}).items():
            try:
                generated = uuid.UUID(str(value))
            except ValueError:
                continue
            if name in own and generated.int % 2 == 0:
                case.path_parameters[name] = own[name]  # type: ignore[index]


@pytest.fixture
async def fuzz_config(settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """A database of its own: the shared one may be mid-transaction in the session's paused
    event loop (a SQLite write lock), and the fuzzer's writes stay out of other tests."""
    backend = "sqlite" if settings.is_sqlite else "postgresql"
    async with fresh_database(backend, tmp_path) as fresh:
        yield fresh.model_copy(
            update={
                "data_dir": settings.data_dir,  # the installed key-encryption key
                "rate_limit_per_second": 1e9,
                "rate_limit_burst": 10**9,
                "outbox_max_lag": 10**9,
                "embedded_worker": False,
            }
        )


@pytest.fixture
async def fuzzed(fuzz_config: Settings) -> Fuzzed:
    async with fresh_sessionmaker(fuzz_config) as sm, serving(create_app(fuzz_config)) as http:
        other = await build_world(http, sm, await make_tenant(sm))
        own = await build_world(http, sm, await make_tenant(sm))
    return Fuzzed(own=own, other=other)


@pytest.fixture
def api_schema(fuzz_config: Settings, fuzzed: Fuzzed) -> Iterator[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzz_config))
    yield schema
    shutdown_lifespans()


def _header(response: Response, name: str) -> str:
    for key, values in response.headers.items():
        if key.lower() == name:
            return values[0]
    return ""


def is_problem_json(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every 4xx/5xx is RFC 9457 problem+json with the fields clients rely on."""
    if response.status_code < 400:
        return
    assert _header(response, "content-type") == "application/problem+json", response.text
    body = response.json()
    assert all(body.get(field) for field in PROBLEM_FIELDS), body
    assert body["status"] == response.status_code


def no_foreign_ids(other: World) -> Callable[[CheckContext, Response, Case], None]:
    forms = other.ids() | {uuid.UUID(value).hex for value in other.ids()}

    def check(ctx: CheckContext, response: Response, case: Case) -> None:
        text = response.content.decode("utf-8", "replace").lower()
        leaked = {form for form in forms if form in text}
        assert not leaked, f"the other tenant's ids {leaked} in {response.text[:500]}"

    return check


def test_the_api_holds_under_generated_input(api_schema: Any, fuzzed: Fuzzed) -> None:
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        # not negative_data_rejection: FastAPI ignores unknown query parameters and takes the
        # last of a repeated one, by design (``metadata[key]`` filters are free-form), which
        # that check reports as "schema-violating request accepted".
        is_problem_json,
        no_foreign_ids(fuzzed.other),
    ]
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 40
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @EXAMPLES
            def call(case: Case) -> None:
                fuzzed.aimed(case)
                response = case.call(headers=fuzzed.own.tenant.headers())
                case.validate_response(response, checks=checks)

            try:
                call()
            except Unsatisfiable:  # no input to break (no parameters, no body): no negative case
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # run all, then report every failure
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{why}" for label, why in failures.items())
