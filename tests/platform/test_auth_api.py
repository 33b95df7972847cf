import httpx

from autoledger.platform.auth.roles import Role
from tests.conftest import TenantKeys


async def test_whoami_needs_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/whoami")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "auth.invalid_key"


async def test_whoami_names_the_tenant(client: httpx.AsyncClient, tenant: TenantKeys) -> None:
    response = await client.get("/v1/whoami", headers=tenant.headers(Role.VIEWER))
    assert response.status_code == 200
    assert response.json()["tenant"]["name"] == tenant.name
