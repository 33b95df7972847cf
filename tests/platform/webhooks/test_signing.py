"""Standard Webhooks signatures: known vectors, verification, rotation."""

import base64
import hashlib
import hmac

import pytest

from autoledger.platform.webhooks import signing

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
MSG_ID = "018f3c4e-7a10-7000-8000-000000000001"
TIMESTAMP = 1_764_000_000
BODY = b'{"type":"ledger.entry.posted.v1","data":{"amount":100}}'


def _by_hand(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, msg_id.encode() + b"." + str(timestamp).encode() + b"." + body, "sha256")
    return "v1," + base64.b64encode(mac.digest()).decode()


def test_sign_matches_an_independently_computed_hmac() -> None:
    expected = _by_hand(KEY, MSG_ID, TIMESTAMP, BODY)
    assert signing.sign(SECRET, MSG_ID, TIMESTAMP, BODY) == expected
    # and a literal, so a change in the helper above cannot hide a change in both
    digest = hmac.new(KEY, f"{MSG_ID}.{TIMESTAMP}.".encode() + BODY, hashlib.sha256).digest()
    assert expected == "v1," + base64.b64encode(digest).decode()


def test_sign_matches_the_standard_webhooks_reference_vector() -> None:
    # The example of the Standard Webhooks specification and its reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = signing.sign(
        secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_new_secrets_are_whsec_base64_of_random_bytes() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert 24 <= len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) <= 32


def test_verify_accepts_a_valid_signature() -> None:
    header = signing.sign(SECRET, MSG_ID, TIMESTAMP, BODY)
    signing.verify(SECRET, MSG_ID, str(TIMESTAMP), BODY, header, now=TIMESTAMP + 10)


def test_verify_accepts_any_of_several_signatures_during_rotation() -> None:
    new = signing.new_secret()
    header = signing.signature_header([new, SECRET], MSG_ID, TIMESTAMP, BODY)
    assert len(header.split(" ")) == 2
    # a receiver still on the old secret and one already on the new accept the same header
    signing.verify(SECRET, MSG_ID, TIMESTAMP, BODY, header, now=TIMESTAMP)
    signing.verify(new, MSG_ID, TIMESTAMP, BODY, header, now=TIMESTAMP)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(signing.new_secret(), MSG_ID, TIMESTAMP, BODY, header, now=TIMESTAMP)


@pytest.mark.parametrize(
    ("msg_id", "timestamp", "body", "now"),
    [
        (MSG_ID, TIMESTAMP, BODY + b" ", TIMESTAMP),  # tampered body
        ("another-id", TIMESTAMP, BODY, TIMESTAMP),  # signature of another message
        (MSG_ID, TIMESTAMP + 1, BODY, TIMESTAMP),  # timestamp changed
        (MSG_ID, TIMESTAMP, BODY, TIMESTAMP + 301),  # too old: a replay
        (MSG_ID, TIMESTAMP, BODY, TIMESTAMP - 301),  # from the future
    ],
)
def test_verify_refuses(msg_id: str, timestamp: int, body: bytes, now: int) -> None:
    header = signing.sign(SECRET, MSG_ID, TIMESTAMP, BODY)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(SECRET, msg_id, timestamp, body, header, now=now)


def test_verify_refuses_a_malformed_timestamp() -> None:
    header = signing.sign(SECRET, MSG_ID, TIMESTAMP, BODY)
    with pytest.raises(signing.InvalidSignature, match="unix time"):
        signing.verify(SECRET, MSG_ID, "yesterday", BODY, header)
