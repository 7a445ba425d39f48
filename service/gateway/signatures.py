"""Signature and token checks, over the raw body, compared in constant time.

Each function answers ``None`` when the delivery is authentic, else the reason for a 401:
which header is missing or malformed, or that it does not match. A reason never holds
the secret nor the expected digest.
"""

import base64
import binascii
import hashlib
import hmac
from typing import Literal

Algorithm = Literal["sha1", "sha256"]


def mac(secret: str, message: bytes, algorithm: Algorithm) -> bytes:
    """HMAC of ``message`` keyed with the secret's UTF-8 bytes, as written (never decoded:
    Zendesk's base64-looking secrets are used as text, as its own examples do)."""
    key = secret.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def check_base64(
    header: str, given: str | None, secret: str, message: bytes, algorithm: Algorithm
) -> str | None:
    """``given`` must be the base64 of the HMAC (Zendesk, Help Scout)."""
    if not given:
        return f"missing {header} header"
    try:
        signature = base64.b64decode(given.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return f"{header} is not base64"
    if not hmac.compare_digest(signature, mac(secret, message, algorithm)):
        return f"{header} does not match the body"
    return None


def check_prefixed_hex(
    header: str, given: str | None, secret: str, body: bytes, algorithm: Algorithm
) -> str | None:
    """``given`` must be ``<algorithm>=<hex HMAC of the body>`` (Jira: sha256, Zammad: sha1),
    the algorithm named exactly: the same header means SHA-256 to one and SHA-1 to the other."""
    if not given:
        return f"missing {header} header"
    prefix, separator, digits = given.strip().partition("=")
    if not separator:
        return f"{header} is not of the form {algorithm}=<hex>"
    if prefix.lower() != algorithm:
        return f"{header} names {prefix[:20]!r}; this source expects {algorithm}"
    try:
        signature = bytes.fromhex(digits)
    except ValueError:
        return f"{header} is not hexadecimal"
    if not hmac.compare_digest(signature, mac(secret, body, algorithm)):
        return f"{header} does not match the body"
    return None


def check_token(header: str, given: str | None, secret: str) -> str | None:
    """``given`` must equal the shared token (Freshdesk, which signs nothing)."""
    if not given:
        return f"missing {header}"
    expected = secret.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected):
        return f"{header} does not match the token"
    return None


def check_basic(given: str | None, secret: str) -> str | None:
    """``given`` must be an ``Authorization: Basic`` header whose password, or user name,
    is the shared token: Freshdesk's "Requires authentication" sends either a user name and
    password or an API key as the user name. Both are compared, in constant time."""
    if not given:
        return "missing Authorization header"
    scheme, _, encoded = given.strip().partition(" ")
    if scheme.lower() != "basic":
        return "Authorization is not Basic"
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return "Authorization is not base64"
    expected = secret.encode("utf-8", "surrogatepass")
    as_user = hmac.compare_digest(user, expected)
    as_password = hmac.compare_digest(password, expected)
    return None if as_user or as_password else "Authorization does not match the token"
