"""Signature schemes against the vendors' published vectors and the known wrong
implementations (docs/gateway.md: a missing, wrong or stale signature answers 401)."""

import base64
import hashlib
import hmac

import pytest

from service.gateway import Mapped, Unauthorized, helpscout, zendesk
from service.gateway.signatures import check_base64, check_basic, check_prefixed_hex, check_token

from .helpers import at, hmac_b64, source

# Help Scout's documented vector (its webhook docs, quoted in a public connector's tests).
HELPSCOUT_SECRET = "your secret key"
HELPSCOUT_BODY = (
    b'{"ticket":{"id":"1","number":"2"},"customer":{"id":"1","fname":"Jackie","lname":"Chan",'
    b'"email":"jackie.chan@somewhere.com","emails":["jackie.chan@somewhere.com"]}}'
)
HELPSCOUT_SIGNATURE = "I1KlvGppYqvFTJgJ9jezdQMDiyI="

# Zendesk's older "verifying" page: secret, body, timestamp and a signature that verifies
# only as body + timestamp; the current page and every production verifier use timestamp +
# body, which gives ZENDESK_TIMESTAMP_FIRST for the same inputs.
ZENDESK_SECRET = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
ZENDESK_BODY = b'{"say": "hello"}'
ZENDESK_TIMESTAMP = "2021-07-25T10:00:00Z"
ZENDESK_BODY_FIRST = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="
ZENDESK_TIMESTAMP_FIRST = "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk="
ZENDESK_TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # the "Test webhook" one


def test_helpscout_documented_vector_verifies() -> None:
    assert check_base64("S", HELPSCOUT_SIGNATURE, HELPSCOUT_SECRET, HELPSCOUT_BODY, "sha1") is None


def test_helpscout_vector_through_the_adapter_is_verified_then_ignored_as_no_conversation() -> None:
    headers = {"X-HelpScout-Signature": HELPSCOUT_SIGNATURE, "X-HelpScout-Event": "helpscout.test"}
    outcome = helpscout.adapt(headers, HELPSCOUT_BODY, source("helpscout"), HELPSCOUT_SECRET, 0)
    assert not isinstance(outcome, Unauthorized)


def test_helpscout_hex_digest_is_refused() -> None:
    hex_digest = hmac.new(HELPSCOUT_SECRET.encode(), HELPSCOUT_BODY, hashlib.sha1).hexdigest()
    assert check_base64("S", hex_digest, HELPSCOUT_SECRET, HELPSCOUT_BODY, "sha1") is not None


def zendesk_headers(signature: str, stamp: str = ZENDESK_TIMESTAMP) -> dict[str, str]:
    return {
        "X-Zendesk-Webhook-Signature": signature,
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


def zendesk_adapt(headers: dict[str, str], now: str = ZENDESK_TIMESTAMP) -> object:
    return zendesk.adapt(headers, ZENDESK_BODY, source("zendesk"), ZENDESK_SECRET, at(now))


def test_zendesk_timestamp_then_body_verifies() -> None:
    outcome = zendesk_adapt(zendesk_headers(ZENDESK_TIMESTAMP_FIRST))
    assert not isinstance(outcome, Unauthorized)


def test_zendesk_old_body_then_timestamp_vector_is_refused() -> None:
    outcome = zendesk_adapt(zendesk_headers(ZENDESK_BODY_FIRST))
    assert outcome == Unauthorized("X-Zendesk-Webhook-Signature does not match the body")


def test_zendesk_is_signed_as_its_verifier_checks_timestamp_then_body() -> None:
    """The helper the demo, tests and benchmarks post with gives the published signature."""
    signature = zendesk.sign_zendesk(ZENDESK_SECRET, ZENDESK_TIMESTAMP, ZENDESK_BODY)
    assert signature == ZENDESK_TIMESTAMP_FIRST
    headers = zendesk.signed_headers(ZENDESK_SECRET, ZENDESK_TIMESTAMP, ZENDESK_BODY)
    assert headers == zendesk_headers(ZENDESK_TIMESTAMP_FIRST)
    assert not isinstance(zendesk_adapt(headers), Unauthorized)


def sign_wrongly(message: bytes, secret: str = ZENDESK_SECRET) -> str:
    """base64 HMAC-SHA256 of any ``message``: the wrong implementations below."""
    return hmac_b64(secret, message)


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(
            hmac.new(
                ZENDESK_SECRET.encode(), ZENDESK_TIMESTAMP.encode() + ZENDESK_BODY, hashlib.sha256
            ).hexdigest(),
            id="hex instead of base64",
        ),
        pytest.param(sign_wrongly(ZENDESK_TIMESTAMP.encode() + b"." + ZENDESK_BODY), id="dot"),
        pytest.param(sign_wrongly(ZENDESK_TIMESTAMP.encode() + b"\n" + ZENDESK_BODY), id="newline"),
        pytest.param(sign_wrongly(ZENDESK_BODY), id="body only"),
        pytest.param(
            sign_wrongly(
                ZENDESK_TIMESTAMP.encode() + ZENDESK_BODY,
                base64.b64decode(ZENDESK_TEST_SECRET).decode(),
            ),
            id="secret base64-decoded",
        ),
        pytest.param(
            base64.b64encode(
                hmac.new(
                    ZENDESK_SECRET.encode(), ZENDESK_TIMESTAMP.encode() + ZENDESK_BODY, hashlib.sha1
                ).digest()
            ).decode(),
            id="sha1",
        ),
        pytest.param("", id="empty"),
        pytest.param("not base64!", id="garbage"),
    ],
)
def test_zendesk_wrong_implementations_are_refused(wrong: str) -> None:
    assert isinstance(zendesk_adapt(zendesk_headers(wrong)), Unauthorized)


def test_zendesk_test_secret_is_used_as_written_not_decoded() -> None:
    body = b'{"type": "zen:event-type:ticket.something_else"}'
    stamp = "2026-03-02T10:00:00Z"
    headers = zendesk.signed_headers(ZENDESK_TEST_SECRET, stamp, body)
    outcome = zendesk.adapt(headers, body, source("zendesk"), ZENDESK_TEST_SECRET, at(stamp))
    assert not isinstance(outcome, Unauthorized)


@pytest.mark.parametrize(
    ("now", "verified"),
    [
        ("2021-07-25T10:04:59Z", True),
        ("2021-07-25T10:05:00Z", True),
        ("2021-07-25T10:05:01Z", False),  # stale: more than 5 minutes after signing
        ("2021-07-25T09:54:59Z", False),  # from the future by more than 5 minutes
    ],
)
def test_zendesk_freshness_window_is_five_minutes_each_way(now: str, verified: bool) -> None:
    outcome = zendesk_adapt(zendesk_headers(ZENDESK_TIMESTAMP_FIRST), now)
    assert isinstance(outcome, Unauthorized) is not verified


def test_zendesk_freshness_window_is_configurable() -> None:
    wide = source("zendesk", "zendesk: {freshness: 1h}")
    headers = zendesk_headers(ZENDESK_TIMESTAMP_FIRST)
    outcome = zendesk.adapt(headers, ZENDESK_BODY, wide, ZENDESK_SECRET, at("2021-07-25T10:30:00Z"))
    assert not isinstance(outcome, Unauthorized)


def test_zendesk_epoch_seconds_timestamp_is_refused() -> None:
    stamp = "1627207200"  # a wrong verifier's reading of the header: Unix seconds
    outcome = zendesk_adapt(zendesk.signed_headers(ZENDESK_SECRET, stamp, ZENDESK_BODY))
    assert outcome == Unauthorized("X-Zendesk-Webhook-Signature-Timestamp is not an ISO 8601 time")


def test_zendesk_missing_headers_are_named() -> None:
    assert zendesk_adapt({}) == Unauthorized("missing X-Zendesk-Webhook-Signature-Timestamp header")
    assert zendesk_adapt({"x-zendesk-webhook-signature-timestamp": ZENDESK_TIMESTAMP}) == (
        Unauthorized("missing X-Zendesk-Webhook-Signature header")
    )


def test_header_names_are_case_insensitive() -> None:
    headers = {
        "x-zendesk-webhook-signature": ZENDESK_TIMESTAMP_FIRST,
        "X-ZENDESK-WEBHOOK-SIGNATURE-TIMESTAMP": ZENDESK_TIMESTAMP,
    }
    assert not isinstance(zendesk_adapt(headers), Unauthorized)


BODY = b'{"webhookEvent": "x"}'


@pytest.mark.parametrize(
    ("given", "algorithm", "verified"),
    [
        ("sha256=" + hmac.new(b"k", BODY, hashlib.sha256).hexdigest(), "sha256", True),
        ("SHA256=" + hmac.new(b"k", BODY, hashlib.sha256).hexdigest().upper(), "sha256", True),
        ("sha1=" + hmac.new(b"k", BODY, hashlib.sha1).hexdigest(), "sha256", False),
        ("sha256=" + hmac.new(b"k", BODY, hashlib.sha1).hexdigest(), "sha256", False),
        ("sha1=" + hmac.new(b"k", BODY, hashlib.sha256).hexdigest(), "sha1", False),
        ("sha256=" + hmac.new(b"k", BODY, hashlib.sha256).hexdigest(), "sha1", False),
        ("sha1=" + hmac.new(b"k", BODY, hashlib.sha1).hexdigest(), "sha1", True),
        (hmac.new(b"k", BODY, hashlib.sha256).hexdigest(), "sha256", False),  # no prefix
        (
            "sha256=" + base64.b64encode(hmac.new(b"k", BODY, hashlib.sha256).digest()).decode(),
            "sha256",
            False,
        ),
        ("sha256=zz", "sha256", False),
    ],
)
def test_hub_signature_names_its_algorithm(given: str, algorithm: str, verified: bool) -> None:
    problem = check_prefixed_hex("X-Hub-Signature", given, "k", BODY, algorithm)  # type: ignore[arg-type]
    assert (problem is None) is verified


def test_shared_token_and_basic_auth() -> None:
    assert check_token("X-T header", "tok", "tok") is None
    assert check_token("X-T header", "tok2", "tok") == "X-T header does not match the token"
    assert check_token("X-T header", None, "tok") == "missing X-T header"
    password = "Basic " + base64.b64encode(b"admin:tok").decode()
    api_key = "Basic " + base64.b64encode(b"tok:X").decode()
    assert check_basic(password, "tok") is None
    assert check_basic(api_key, "tok") is None
    assert check_basic("Basic " + base64.b64encode(b"admin:nope").decode(), "tok") is not None
    assert check_basic("Bearer tok", "tok") == "Authorization is not Basic"
    assert check_basic("Basic !!!", "tok") == "Authorization is not base64"


def test_reasons_never_hold_the_secret_or_the_expected_digest() -> None:
    expected = zendesk.sign_zendesk(ZENDESK_SECRET, ZENDESK_TIMESTAMP, ZENDESK_BODY)
    outcome = zendesk_adapt(zendesk_headers("AAAA"))
    assert isinstance(outcome, Unauthorized)
    assert ZENDESK_SECRET not in outcome.reason
    assert expected not in outcome.reason
    assert not isinstance(outcome, Mapped)
