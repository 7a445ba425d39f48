"""Shared by the gateway tests: sources built from YAML, signing as each helpdesk signs,
and the check that a mapped event is one the worker accepts."""

import base64
import hashlib
import hmac
import json
from typing import Any

from service.core.instant import Instant
from service.gateway import Mapped, Outcome, Source, check_sources_text
from service.wire import decode, parse_timestamp

SECRET = "s3cret-for-tests"
ENV = {"SECRET": SECRET}


def source(kind: str, extra: str = "") -> Source:
    """A source of ``kind`` for tenant ``acme``; ``extra`` is YAML added to its entry."""
    lines = "".join(f"    {line}\n" for line in extra.splitlines())
    text = (
        f"sources:\n  - name: acme-{kind}\n    kind: {kind}\n    tenant: acme\n"
        f"    secret_env: SECRET\n{lines}"
    )
    found, problems = check_sources_text(text, ENV)
    assert not problems, problems
    assert found is not None
    return found.sources[0]


def at(text: str) -> Instant:
    return parse_timestamp(text)


def hmac_b64(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    digest = hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).digest()
    return base64.b64encode(digest).decode()


def hmac_hex(secret: str, message: bytes, algorithm: str) -> str:
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).hexdigest()


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def events(outcome: Outcome) -> tuple[dict[str, Any], ...]:
    """The events of a ``Mapped`` outcome, each checked as the worker will check it."""
    assert isinstance(outcome, Mapped), outcome
    assert_valid(outcome)
    return outcome.events


def assert_valid(outcome: Outcome) -> None:
    """Every event of a ``Mapped`` outcome passes ``service.wire.decode``; ids are distinct."""
    if isinstance(outcome, Mapped):
        assert outcome.events
        for event in outcome.events:
            decode(json.dumps(event))
        ids = [event["event_id"] for event in outcome.events]
        assert len(set(ids)) == len(ids)
