"""Every /v1 route by every role: 403 ``auth.insufficient_scope`` exactly when ROLE_SCOPES
does not give the role the one scope the route declares, and never otherwise. The decision
is made before the handler runs, so random ids and minimal bodies are enough."""

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from autoledger.platform.auth.roles import ROLE_SCOPES, Role, Scope
from tests.api.test_errors_and_observability import _required_scopes, assert_problem, v1_routes
from tests.conftest import TenantKeys

_PARAM = re.compile(r"\{[a-z_]+\}")
_FINE_SCOPES = {scope.value for scope in Scope}


def declared_scopes(app: FastAPI) -> dict[str, Scope]:
    """``"METHOD /path"`` → the one fine scope the route declares."""
    found = {}
    for name, dependant in v1_routes(app).items():
        scopes = _required_scopes(dependant) & _FINE_SCOPES
        assert len(scopes) == 1, f"{name} declares {sorted(scopes)}, not exactly one scope"
        found[name] = Scope(scopes.pop())
    return found


def probe(name: str) -> tuple[str, str, dict[str, Any]]:
    """A request for the route: random ids in the path, an empty body where one is taken
    (a CSV body for the chart import)."""
    methods, path = name.split(" ", 1)
    method = methods.split(",")[0]
    url = _PARAM.sub(lambda _: str(uuid.uuid4()), path)
    if method in {"GET", "DELETE"}:
        return method, url, {}
    if path.endswith("accounts:import"):
        return method, url, {"content": "code,name,type\n", "headers": {"Content-Type": "text/csv"}}
    return method, url, {"json": {}}


@pytest.mark.parametrize("role", list(Role))
async def test_each_route_refuses_exactly_the_roles_without_its_scope(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, role: Role
) -> None:
    routes = declared_scopes(app)
    assert len(routes) >= 40
    wrong = []
    for name, scope in routes.items():
        method, url, kwargs = probe(name)
        headers = {**tenant.headers(role), **kwargs.pop("headers", {})}
        response = await client.request(method, url, headers=headers, **kwargs)
        allowed = scope in ROLE_SCOPES[role]
        if not allowed:
            body = assert_problem(response, 403, "auth.insufficient_scope")
            assert scope.value in body["detail"]
        elif response.status_code == 403 or response.status_code >= 500:
            wrong.append(f"{name}: {response.status_code} {response.text[:200]}")
    assert wrong == [], f"{role.value} has the scope but was refused or failed"


async def test_every_route_without_a_key_is_401_with_a_bearer_challenge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    for name in declared_scopes(app):
        method, url, kwargs = probe(name)
        response = await client.request(method, url, **kwargs)
        assert_problem(response, 401, "auth.invalid_key")
        assert response.headers["www-authenticate"] == "Bearer", name
