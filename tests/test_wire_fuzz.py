"""Fuzzing ``decode``: random bytes and mutated valid events.

Whatever the message, ``decode`` raises nothing but ``InvalidEvent``, and what it accepts is
within the limits (valid UTF-8, timestamps in range, no control characters in ids, integers
within ±(2^53 - 1), attributes within budget). The run is derandomized and bounded to a few
seconds; ``SLA_FUZZ_EXAMPLES=500000`` makes it a long fuzzing session (the README's input
events section gives the last figures).
"""

import json
import os
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.core.errors import InvalidEvent
from service.wire import (
    EARLIEST,
    END,
    INVALID_KINDS,
    MAX_ATTRIBUTES,
    MAX_ATTRIBUTES_BYTES,
    MAX_SAFE_INTEGER,
    decode,
)

EXAMPLES = Path(__file__).parents[1] / "schemas" / "examples" / "input"
SEEDS = [path.read_bytes() for path in sorted(EXAMPLES.glob("*.json"))]
SEEDS += [orjson.dumps(orjson.loads(seed)) for seed in SEEDS]  # compact forms too
TOKENS = [
    b"\x00", b"\x01", b"\x1f", b"\x7f", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf",
    b'"', b"\\", b"\\u0000", b"\\u001f", b"\\ud800", b"\\udc00", b"\\ud83d\\ude00", b"\\uffff",
    b"[" * 300, b"{" * 300, b'{"a":' * 200, b"9" * 30, b"9" * 5000, b"-9223372036854775809",
    b"18446744073709551616", b"9007199254740992", b"1e999", b"-0", b"0.1e-400", b"NaN",
    b"Infinity", b"null", b"true", b"[]", b"{}", b",", b":", b"0001-01-01T00:00:00Z",
    b"9999-12-31T23:59:59Z", b"2200-01-01T00:00:00Z", b"1969-12-31T23:59:59.999999Z",
    b"+23:59", b"-23:59", b".9999999999", b"\xd9\xa2", b"\xe2\x80\xa8", b"x" * 5000,
]  # fmt: skip
LONG_RUN = os.environ.get("SLA_FUZZ_EXAMPLES")  # a long run explores afresh each time
EXAMPLES_TO_RUN = int(LONG_RUN or 1200)


FIELDS = ["event_id", "ticket_id", "tenant", "occurred_at", "status", "reason", "type"]
EXTREMES: list[object] = [
    "", "a\x00b", "\x1f", "x\x7f", "\ud800", "\udfff", "\ud83d\ude00", "\ufeff", "x" * 5000,
    2**53, -(2**53), 2**63, 2**64, 10**30, -(10**40), 1e308, -0.0, True, None, [], {},
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00Z", "2199-12-31T23:59:59.999999Z", "2200-01-01T00:00:00Z",
    "2026-01-13T09:30:00.1234567891Z", "2026-02-30T00:00:00Z", "2026-01-13 09:30:00+24:00",
    {f"k{i}": i for i in range(65)}, {"k" * 101: 1}, {"s": "s" * 4097}, {"n": 2**64},
]  # fmt: skip


@st.composite
def extreme(draw: st.DrawFn) -> bytes:
    """A seed event with one field, or one attribute, set to an extreme value."""
    body = orjson.loads(draw(st.sampled_from(SEEDS)))
    value = draw(st.sampled_from(EXTREMES))
    if draw(st.booleans()):
        body[draw(st.sampled_from(FIELDS))] = value
    else:
        body["type"] = draw(st.sampled_from(["ticket_created", "attribute_change"]))
        attributes = body.setdefault("attributes", {})
        attributes[draw(st.sampled_from(["priority", "x", "\x00"]))] = value
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.one_of(st.sampled_from(SEEDS), extreme())))
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.integers(0, len(data)))
        end = draw(st.integers(at, min(len(data), at + 64)))
        action = draw(st.integers(0, 4))
        if action == 0:  # overwrite a stretch with random bytes
            data[at:end] = draw(st.binary(min_size=end - at, max_size=end - at))
        elif action == 1:  # insert a token that parsers and validators trip on
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif action == 2:  # delete a stretch
            del data[at:end]
        elif action == 3:  # repeat a stretch
            data[at:at] = data[at:end] * draw(st.integers(1, 50))
        else:  # random bytes in between
            data[at:at] = draw(st.binary(max_size=8))
    return bytes(data)


messages = st.one_of(
    st.binary(max_size=400), mutated(), mutated().map(lambda b: b"\xef\xbb\xbf" + b)
)


def check(raw: bytes | str) -> None:
    try:
        event = decode(raw)
    except InvalidEvent as error:
        assert error.kind in INVALID_KINDS
        assert len(error.reason) < 2_000
        return
    if isinstance(raw, bytes):
        raw.decode()  # accepted means UTF-8
    assert EARLIEST <= event.occurred_at < END
    for name in (event.event_id, event.ticket_id, event.tenant):
        assert name and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    assert len(event.attributes) <= MAX_ATTRIBUTES
    assert len(orjson.dumps(dict(event.attributes))) <= MAX_ATTRIBUTES_BYTES
    for value in event.attributes.values():
        assert type(value) is not int or abs(value) <= MAX_SAFE_INTEGER
    orjson.dumps([event.event_id, event.status, event.reason])  # encodable as UTF-8


@settings(
    max_examples=EXAMPLES_TO_RUN,
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(messages)
def test_decode_refuses_any_message_with_invalid_event_or_returns_one_within_limits(
    raw: bytes,
) -> None:
    check(raw)
    check(raw.decode("utf-8", "surrogateescape"))  # as text: invalid bytes as lone surrogates
