"""No secret or personal value reaches a log line: the scanner's shapes and checksums, and the
real API's logs while such values travel in bodies, headers, query strings and exceptions."""

import io
import logging
from collections.abc import Iterator

import pytest
import structlog
from fastapi import Request

from autoledger.api.app import create_app
from autoledger.kit.settings import Settings
from autoledger.platform.observability.logging import configure_logging
from autoledger.platform.observability.redaction import (
    iban_is_valid,
    luhn_is_valid,
    redact_secrets,
    scrub,
)
from tests.api.test_errors_and_observability import bearer, serving
from tests.conftest import TenantKeys

API_KEY = "al_0123456789ab_" + "Zx9-_" * 8 + "abc"
WEBHOOK_SECRET = "whsec_c2VjcmV0LWtleS1ieXRlcy1mb3ItdGVzdHM="
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
IBAN = "DE89370400440532013000"
IBAN_SPACED = "GB82 WEST 1234 5698 7654 32"
PAN = "4111111111111111"
PAN_SPACED = "5500 0000 0000 0004"
SSN = "123-45-6789"
EIN = "12-3456789"
VAT = "NL123456789B01"
PASSWORD = "hunter2-correct-horse"

SECRETS = [
    API_KEY,
    WEBHOOK_SECRET,
    JWT,
    IBAN,
    IBAN_SPACED,
    PAN,
    PAN_SPACED,
    SSN,
    EIN,
    VAT,
    PASSWORD,
]


# The scanner


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {API_KEY} end", "key [REDACTED:api_key] end"),
        (f"{WEBHOOK_SECRET} here", "[REDACTED:webhook_secret] here"),
        (f"Authorization: Bearer {JWT}", "Authorization: [REDACTED:secret]"),
        ("bearer abcdefgh12345678", "bearer [REDACTED:token]"),
        (f"jwt {JWT}", "jwt [REDACTED:jwt]"),
        (f"detail: password={PASSWORD}", "detail: password=[REDACTED:secret]"),
        ("{'api_key': 'xyz123', 'n': 1}", "{'api_key': [REDACTED:secret], 'n': 1}"),
        ('{"client_secret": "s3cr3t"}', '{"client_secret": [REDACTED:secret]}'),
        ("/v1/x?token=abc&page=2", "/v1/x?token=[REDACTED:secret]&page=2"),
        (f"pay {IBAN} now", "pay [REDACTED:iban] now"),
        (f"pay {IBAN.lower()} now", "pay [REDACTED:iban] now"),
        (f"pay {IBAN_SPACED} EUR", "pay [REDACTED:iban] EUR"),
        ("DE89 3704 0044 0532 0130 00 EUR", "[REDACTED:iban] EUR"),
        (f"card {PAN} ok", "card [REDACTED:pan] ok"),
        (f"card {PAN_SPACED} ok", "card [REDACTED:pan] ok"),
        ("card 4111-1111-1111-1111", "card [REDACTED:pan]"),
        (f"ssn {SSN} ein {EIN}", "ssn [REDACTED:tax_id] ein [REDACTED:tax_id]"),
        (
            f"vat {VAT} DE123456789 ATU12345678",
            "vat [REDACTED:tax_id] " * 1 + "[REDACTED:tax_id] [REDACTED:tax_id]",
        ),
    ],
)
def test_secrets_and_personal_data_are_redacted(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "DE89370400440532013001",  # IBAN checksum fails
        "card 4111111111111112",  # Luhn fails
        "at 2026-11-24T03:35:23Z took 123456 ms",
        "request 4bf92f3577b34da6a3ce929d0e0e4736 trace 00f067aa0ba902b7",
        "id 0190f1c4-7b9a-7c3e-9d7e-1f2a3b4c5d6e",
        "the token bucket has 5 tokens; key_id=abc",
        "amount 1234567 minor units of EUR",
        "ssn-like 000-12-3456 and 666-12-3456 are never issued",
    ],
)
def test_ordinary_values_are_kept(text: str) -> None:
    assert scrub(text) == text


def test_the_checksums() -> None:
    assert iban_is_valid(IBAN)
    assert iban_is_valid(IBAN_SPACED)
    assert not iban_is_valid("DE89370400440532013001")
    assert luhn_is_valid(PAN)
    assert not luhn_is_valid("4111111111111112")


def test_fields_are_redacted_by_name_recursively_without_touching_the_caller() -> None:
    headers = {"Authorization": "anything", "X-Api-Key": "k", "Accept": "application/json"}
    payload = {
        "event": f"charged {PAN}",
        "headers": headers,
        "webhook_secret": "plain-looking",
        "password": None,
        "key_id": "0190f1c4",
        "items": [IBAN, ("ok", {"session_token": "t"}), {API_KEY: 1}],
        "card": int(PAN),
        "count": 3,
        "ok": True,
    }
    out = redact_secrets(None, "info", payload)
    assert out == {
        "event": "charged [REDACTED:pan]",
        "headers": {
            "Authorization": "[REDACTED:secret]",
            "X-Api-Key": "[REDACTED:secret]",
            "Accept": "application/json",
        },
        "webhook_secret": "[REDACTED:secret]",
        "password": None,
        "key_id": "0190f1c4",
        "items": [
            "[REDACTED:iban]",
            ["ok", {"session_token": "[REDACTED:secret]"}],
            {"[REDACTED:api_key]": 1},
        ],
        "card": "[REDACTED:pan]",
        "count": 3,
        "ok": True,
    }
    assert headers["Authorization"] == "anything"


# The real API's logs


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """The process's logging as ``serve`` configures it, written to a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_config = structlog.get_config()
    configure_logging("debug", "json")
    structlog.configure(cache_logger_on_first_use=False)
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    structlog.configure(**saved_config)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


async def test_no_secret_reaches_the_logs_of_the_running_api(
    settings: Settings, tenant: TenantKeys, log_output: io.StringIO
) -> None:
    application = create_app(settings)
    careless = structlog.get_logger("autoledger.test")

    async def echo(request: Request) -> dict[str, str]:
        # What a careless log line would hold: everything the client sent.
        careless.info(
            "echo",
            headers=dict(request.headers),
            query=str(request.url),
            params=dict(request.query_params),
            body=(await request.body()).decode(),
            json=await request.json(),
        )
        logging.getLogger("uvicorn.error").warning("client sent %s", dict(request.headers))
        return {"ok": "yes"}

    async def explode() -> None:
        raise RuntimeError(
            f"cannot charge {PAN} from {IBAN} for {SSN}, password={PASSWORD}, key {API_KEY}"
        )

    application.add_api_route("/test/echo", echo, methods=["POST"])
    application.add_api_route("/test/explode", explode)
    body = {
        "iban": IBAN,
        "note": f"pay to {IBAN_SPACED}, card {PAN_SPACED}, vat {VAT}, ein {EIN}",
        "nested": [{"password": PASSWORD}, {"secret": WEBHOOK_SECRET}],
    }
    async with serving(application) as http:
        echoed = await http.post(
            f"/test/echo?api_key={API_KEY}&pan={PAN}&token={JWT}",
            json=body,
            headers={**bearer(API_KEY), "X-Webhook-Secret": WEBHOOK_SECRET, "X-Note": SSN},
        )
        assert echoed.status_code == 200, echoed.text
        assert (await http.get("/test/explode")).status_code == 500
        # The real routes, with a real key and with secrets where they do not belong.
        assert (await http.get("/v1/whoami", headers=tenant.headers())).status_code == 200
        await http.get(f"/v1/whoami?password={PASSWORD}", headers=bearer(API_KEY))
        await http.post(
            "/v1/api-keys",
            json={"name": IBAN, "scopes": ["read"], "note": PAN},
            headers=tenant.headers(),
        )

    output = log_output.getvalue()
    assert '"event":"echo"' in output
    assert "request.unhandled_error" in output
    assert "Traceback" in output  # the exception was logged, with its message scrubbed
    assert "[REDACTED:" in output
    leaked = [value for value in [*SECRETS, *tenant.keys.values()] if value in output]
    assert leaked == []
