"""Dead letters (README "Topics"): every body fits the dead-letter topic, and says when it
holds only a prefix of the message. No broker: the body is a pure function."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from service.core.instant import SECOND
from service.letter import dead_letter_body
from service.wire import (
    MAX_DEAD_LETTER_BYTES,
    MAX_DEAD_LETTER_KEY_CHARS,
    MAX_DEAD_LETTER_REASON_CHARS,
    DeadLetterWire,
)
from service.worker.step import Message, dead_letter

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "schemas" / "output" / "dead_letter.json").read_text()
)
NOW = 1_770_000_000 * SECOND


def letter(value: bytes, key: bytes | None = b"T-1", reason: str = "not JSON") -> dict[str, Any]:
    body = dead_letter_body(value, key, reason, "ticket-events", 3, 42, NOW)
    assert len(body) <= MAX_DEAD_LETTER_BYTES
    data: dict[str, Any] = json.loads(body)
    Draft202012Validator(SCHEMA).validate(data)
    assert DeadLetterWire.model_validate(data).model_dump(mode="json", exclude_unset=True) == data
    return data


def test_a_small_message_is_dead_lettered_whole_with_its_coordinates() -> None:
    assert letter(b'{"type": 1}\x01', reason="type: input should be a valid string") == {
        "reason": "type: input should be a valid string",
        "original": '{"type": 1}\x01',
        "topic": "ticket-events",
        "partition": 3,
        "offset": 42,
        "key": "T-1",
        "failed_at": "2026-02-02T02:40:00Z",
    }


def test_200_kb_of_control_bytes_becomes_a_truncated_dead_letter_under_256_kib() -> None:
    # Each 0x01 is six characters as JSON (\u0001): the whole message made a 1.2 MB body,
    # over the topic's own 1 MB limit.
    value = b"\x01" * 200_000
    data = letter(value)
    assert data["truncated"] is True
    assert data["original_bytes"] == 200_000
    assert data["original_sha256"] == hashlib.sha256(value).hexdigest()
    kept = len(data["original"])
    assert data["original"] == "\x01" * kept
    # The longest prefix that fits: one more character (six bytes as JSON) would not.
    size = len(dead_letter_body(value, b"T-1", "not JSON", "ticket-events", 3, 42, NOW))
    assert MAX_DEAD_LETTER_BYTES - 6 < size <= MAX_DEAD_LETTER_BYTES


def test_a_message_that_fits_once_escaped_is_not_truncated() -> None:
    value = b"x" * (MAX_DEAD_LETTER_BYTES - 1024)
    data = letter(value)
    assert data["original"] == value.decode()
    assert "truncated" not in data and "original_sha256" not in data


def test_truncation_keeps_whole_characters_and_hashes_the_bytes_as_received() -> None:
    value = "é€😀".encode() * 40_000 + b"\xff\xfe"  # 360 KB, not valid UTF-8 at the end
    data = letter(value)
    assert data["truncated"] is True
    assert data["original_bytes"] == len(value)
    assert data["original_sha256"] == hashlib.sha256(value).hexdigest()
    assert value.decode("utf-8", "replace").startswith(data["original"])


def test_invalid_utf8_is_kept_as_replacement_characters() -> None:
    assert letter(b"ab\xffc")["original"] == "ab\ufffdc"


@pytest.mark.parametrize("byte", [b"\x01", b"\x7f", b'"', b"\\"])
def test_huge_keys_and_reasons_are_cut_so_the_body_always_fits(byte: bytes) -> None:
    data = letter(byte * 900_000, key=byte * 900_000, reason=byte.decode() * 900_000)
    assert data["truncated"] is True
    assert len(data["key"]) == MAX_DEAD_LETTER_KEY_CHARS and data["key"].endswith("...")
    assert len(data["reason"]) == MAX_DEAD_LETTER_REASON_CHARS
    assert len(data["original"]) > 100_000 // 6


def test_a_reason_holding_a_lone_surrogate_still_makes_a_body() -> None:
    assert letter(b"x", reason="internal error: ValueError('\ud800')")["reason"] == (
        "internal error: ValueError('\\ud800')"
    )


def test_a_tombstone_without_key_is_an_empty_original_and_a_null_key() -> None:
    data = letter(b"", key=None)
    assert (data["original"], data["key"]) == ("", None)


def test_the_worker_sends_this_body_keyed_by_the_original_key() -> None:
    message = Message("ticket-events", 1, 7, b"T-9", b"\x01" * 200_000)
    key, body = dead_letter(message, "not JSON", NOW)
    assert key == b"T-9"
    assert body == dead_letter_body(message.value, b"T-9", "not JSON", "ticket-events", 1, 7, NOW)
    assert len(body) <= MAX_DEAD_LETTER_BYTES
