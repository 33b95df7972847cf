"""Sensitive fields are masked in API responses unless the key's role may reveal them."""

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter

from autoledger.api.app import create_app
from autoledger.api.deps import LedgerReader
from autoledger.kit.schemas import ResponseModel
from autoledger.kit.sensitive import SensitiveStr, mask, reveal_sensitive
from autoledger.kit.settings import Settings
from autoledger.platform.auth.roles import ROLE_SCOPES, Role, Scope
from tests.conftest import TenantKeys

IBAN = "DE89370400440532013000"


class BankDetails(ResponseModel):
    holder: str
    iban: SensitiveStr


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"embedded_worker": False}))
    router = APIRouter(prefix="/v1")

    @router.get("/test-bank-details", response_model=BankDetails)
    async def bank_details(principal: LedgerReader) -> BankDetails:
        return BankDetails(holder="Acme GmbH", iban=IBAN)

    app.include_router(router)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


@pytest.mark.parametrize("role", list(Role))
async def test_a_sensitive_field_is_masked_unless_the_role_may_reveal_it(
    http: httpx.AsyncClient, tenant: TenantKeys, role: Role
) -> None:
    response = await http.get("/v1/test-bank-details", headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    revealed = Scope.PII_REVEAL in ROLE_SCOPES[role]
    assert response.json() == {"holder": "Acme GmbH", "iban": IBAN if revealed else "****3000"}
    assert (IBAN in response.text) is revealed


def test_outside_a_request_values_are_masked_by_default() -> None:
    details = BankDetails(holder="Acme GmbH", iban=IBAN)
    assert details.model_dump(mode="json")["iban"] == "****3000"
    assert details.model_dump()["iban"] == IBAN  # Python-side code keeps the value
    token = reveal_sensitive.set(True)
    try:
        assert details.model_dump(mode="json")["iban"] == IBAN
    finally:
        reveal_sensitive.reset(token)


@pytest.mark.parametrize(
    ("value", "masked"),
    [("DE89370400440532013000", "****3000"), ("12345678", "****"), ("", "****")],
)
def test_the_mask_never_shows_most_of_a_short_value(value: str, masked: str) -> None:
    assert mask(value) == masked
