"""The wire codec (docs/events.md): what is a valid input event, and how SLA events look."""

import json

import pytest

from service.core.errors import InvalidEvent
from service.core.events import EventType
from service.core.instant import SECOND
from service.wire import (
    INVALID_KINDS,
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTE_TEXT_CHARS,
    MAX_ATTRIBUTES,
    MAX_ATTRIBUTES_BYTES,
    MAX_EVENT_BYTES,
    MAX_SAFE_INTEGER,
    MAX_TICKET_ATTRIBUTES_BYTES,
    decode,
    parse_timestamp,
)
from service.worker.metrics import INVALID_REASONS


def event(**fields: object) -> str:
    body = {
        "event_id": "e1",
        "type": "customer_reply",
        "ticket_id": "T1",
        "occurred_at": "2026-01-13T09:30:00+01:00",
        **fields,
    }
    return json.dumps({k: v for k, v in body.items() if v is not None})


def reason(raw: str | bytes) -> str:
    with pytest.raises(InvalidEvent) as error:
        decode(raw)
    return error.value.reason


def test_valid_event_with_unknown_extra_fields_decodes() -> None:
    decoded = decode(
        event(
            type="ticket_created",
            attributes={"priority": "high", "vip": True},
            helpdesk_field="ignored",
        )
    )
    assert decoded.type is EventType.TICKET_CREATED
    assert decoded.tenant == "default"
    assert decoded.status == "new"
    assert decoded.attributes == {"priority": "high", "vip": True}
    assert decoded.occurred_at == parse_timestamp("2026-01-13T08:30:00Z")


def test_offsets_and_fractions_are_exact() -> None:
    assert parse_timestamp("2026-01-13T08:30:00.5Z") == parse_timestamp(
        "2026-01-13T09:30:00.500+01:00"
    )
    assert (
        parse_timestamp("2026-01-13T08:30:01Z") - parse_timestamp("2026-01-13T08:30:00Z") == SECOND
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            event(type="ticket_deleted"),
            "type: 'ticket_deleted' is not an event type; use one of ticket_created",
        ),
        (event(type=None), "type: missing"),
        (
            event(occurred_at="2026-01-13T09:30:00"),
            "occurred_at: '2026-01-13T09:30:00' is not an RFC 3339 timestamp with an offset",
        ),
        (event(occurred_at=1768296600), "occurred_at: input should be a valid string"),
        (event(ticket_id=""), "ticket_id: string should have at least 1 character"),
        (event(event_id="x" * 201), "event_id: string should have at most 200 characters"),
        (event(type="status_change"), "status: field required"),
        (event(type="ticket_created", attributes={"nested": {"a": 1}}), "attributes.nested"),
        (event(type="agent_reply", public="yes"), "public: input should be a valid boolean"),
        (event(type="ticket_created").replace("}", ', "attributes": {"score": NaN}}'), "finite"),
        (event(type="ticket_created").replace("}", ', "attributes": {"score": 1e400}}'), "finite"),
    ],
)
def test_invalid_events_say_why(raw: str, expected: str) -> None:
    assert expected in reason(raw)


@pytest.mark.parametrize("raw", [b"", b"  \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf \t\r\n"])
def test_an_empty_message_says_it_is_empty(raw: bytes) -> None:
    with pytest.raises(InvalidEvent) as refused:
        decode(raw)
    assert refused.value.kind == "not_json"
    assert refused.value.reason == (
        "not JSON: the message is empty (at most a byte-order mark and whitespace)"
    )


def test_message_over_64_kib_is_refused_before_parsing() -> None:
    big = event(padding="x" * MAX_EVENT_BYTES)
    assert reason(big).startswith(f"message of {len(big)} bytes is over the limit of 65536")


# -- limits at the door: nothing decodes that the engine could not store, encode and publish --


def created(**attributes: object) -> str:
    return event(type="ticket_created", attributes=attributes)


def test_a_leading_byte_order_mark_is_ignored() -> None:
    plain = decode(event())
    assert decode("\ufeff" + event()) == plain
    assert decode(b"\xef\xbb\xbf" + event().encode()) == plain


@pytest.mark.parametrize(
    "at",
    [
        "1970-01-01T00:00:00Z",
        "1970-01-01T01:00:00+01:00",
        "2199-12-31T23:59:59.999999Z",
        "2200-01-01T00:59:59+01:00",
    ],
)
def test_occurred_at_from_1970_to_just_before_2200_decodes(at: str) -> None:
    assert decode(event(occurred_at=at)).occurred_at == parse_timestamp(at)


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999999Z",
        "1970-01-01T00:59:59+01:00",
        "2200-01-01T00:00:00Z",
        "2199-12-31T19:00:00-05:00",
        "9999-12-31T23:59:59Z",
    ],
)
def test_occurred_at_outside_1970_to_2200_is_refused_naming_the_range(at: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        decode(event(occurred_at=at))
    assert error.value.kind == "timestamp"
    assert error.value.reason == (
        f"occurred_at: {at!r} is outside the supported range "
        "1970-01-01T00:00:00Z (inclusive) to 2200-01-01T00:00:00Z (exclusive)"
    )


def test_timestamps_with_non_ascii_digits_are_not_rfc_3339() -> None:
    assert "is not an RFC 3339 timestamp" in reason(event(occurred_at="٢٠٢٦-01-13T09:30:00Z"))


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, 1.5e300])
def test_numbers_every_json_consumer_reads_exactly_decode(value: int | float) -> None:
    assert decode(created(n=value)).attributes == {"n": value}


@pytest.mark.parametrize(
    "value", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**64, -(2**63) - 1, 10**30]
)
def test_integers_beyond_2_to_the_53_are_refused_not_rounded(value: int) -> None:
    with pytest.raises(InvalidEvent) as error:
        decode(created(priority="high", n=value))
    assert error.value.kind == "limit"
    assert error.value.reason == (
        "attributes.n: integer out of range: JSON integers must be within ±(2^53 - 1) "
        "= ±9007199254740991 (RFC 7493)"
    )


def test_bytes_that_are_not_utf8_are_refused_naming_the_offset() -> None:
    raw = created(name="X").encode().replace(b"X", b"\xff\xfe")
    with pytest.raises(InvalidEvent) as error:
        decode(raw)
    assert error.value.kind == "not_utf8"
    at = raw.index(b"\xff")
    assert error.value.reason == f"not UTF-8: invalid byte 0xff at offset {at}"


@pytest.mark.parametrize(
    "raw",
    [
        created(name="\ud800"),  # json.dumps escapes it: "\ud800"
        event(ticket_id="a\udc00b"),
        created(name="\ud83d\ude00").replace("\\ude00", ""),
    ],
)
def test_lone_surrogate_escapes_are_refused(raw: str) -> None:
    assert "\\u" in raw
    with pytest.raises(InvalidEvent) as error:
        decode(raw)
    assert error.value.kind == "not_json"
    assert "surrogate" in error.value.reason or "hex escape" in error.value.reason


def test_surrogate_pairs_are_characters_and_decode() -> None:
    assert decode(created(name="\ud83d\ude00")).attributes == {"name": "😀"}


def test_text_holding_a_lone_surrogate_is_refused_as_not_utf8() -> None:
    # What a caller decoding bytes with errors="surrogateescape" would pass in.
    raw = event(type="ticket_created").replace("}", ', "attributes": {"name": "\udcff"}}')
    with pytest.raises(InvalidEvent) as error:
        decode(raw)
    assert error.value.kind == "not_utf8"
    at = raw.index("\udcff")
    assert error.value.reason == f"not UTF-8: lone surrogate U+DCFF at character {at}"


@pytest.mark.parametrize("field", ["event_id", "ticket_id", "tenant"])
@pytest.mark.parametrize("char", ["\x00", "\x1f", "\n", "\x7f"])
def test_control_characters_in_ids_are_refused(field: str, char: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        decode(event(**{field: f"a{char}b"}))
    assert error.value.kind == "schema"
    assert error.value.reason == (
        f"{field}: control characters (U+0000-U+001F, U+007F) are not allowed"
    )


def test_tickets_whose_table_keys_would_collide_cannot_both_be_decoded() -> None:
    # The worker's table key is tenant + U+001F + ticket_id: ('acme', 'x\x1fy') would equal
    # ('acme\x1fx', 'y'). Neither decodes.
    for tenant, ticket in [("acme", "x\x1fy"), ("acme\x1fx", "y")]:
        with pytest.raises(InvalidEvent):
            decode(event(tenant=tenant, ticket_id=ticket))


def test_ids_may_hold_any_other_unicode() -> None:
    decoded = decode(event(tenant="açme ☃", ticket_id="T\u0080\u2028\U0001f600"))
    assert (decoded.tenant, decoded.ticket_id) == ("açme ☃", "T\u0080\u2028\U0001f600")


def attributes_of_bytes(size: int) -> dict[str, object]:
    """Attributes whose compact JSON is exactly ``size`` bytes."""
    keys = [f"k{i}" for i in range(MAX_ATTRIBUTES)]
    overhead = len(json.dumps(dict.fromkeys(keys, ""), separators=(",", ":")))
    share, extra = divmod(size - overhead, len(keys))
    values = ["v" * (share + (i < extra)) for i in range(len(keys))]
    return dict(zip(keys, values, strict=True))


def test_attributes_at_every_limit_decode() -> None:
    at_limit = attributes_of_bytes(MAX_ATTRIBUTES_BYTES)
    assert len(json.dumps(at_limit, separators=(",", ":"))) == MAX_ATTRIBUTES_BYTES
    assert decode(event(type="ticket_created", attributes=at_limit)).attributes == at_limit
    wide = {"k" * MAX_ATTRIBUTE_KEY_CHARS: "v" * MAX_ATTRIBUTE_TEXT_CHARS}
    assert decode(event(type="attribute_change", attributes=wide)).attributes == wide


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            attributes_of_bytes(MAX_ATTRIBUTES_BYTES + 1),
            "attributes: 16385 bytes as JSON, over the limit of 16384",
        ),
        (
            {f"k{i}": i for i in range(MAX_ATTRIBUTES + 1)},
            "attributes: 65 keys, over the limit of 64",
        ),
        (
            {"k" * (MAX_ATTRIBUTE_KEY_CHARS + 1): 1},
            f"attributes: key '{'k' * 40}...' has 101 characters, over the limit of 100",
        ),
        (
            {"subject": "s" * (MAX_ATTRIBUTE_TEXT_CHARS + 1)},
            "attributes.subject: 4097 characters, over the limit of 4096",
        ),
    ],
)
def test_attributes_over_a_limit_are_refused_naming_it(
    attributes: dict[str, object], expected: str
) -> None:
    for kind in ("ticket_created", "attribute_change"):
        with pytest.raises(InvalidEvent) as error:
            decode(event(type=kind, attributes=attributes))
        assert (error.value.kind, error.value.reason) == ("limit", expected)


def test_the_per_ticket_attributes_budget_holds_any_single_event() -> None:
    assert MAX_TICKET_ATTRIBUTES_BYTES >= 2 * MAX_ATTRIBUTES_BYTES


def test_reasons_stay_short_however_large_the_input() -> None:
    huge_tag = reason(event(type="x" * 60_000))
    many_errors = reason(
        event(type="ticket_created", attributes={f"k{i}": [] for i in range(5000)})
    )
    long_key = reason(event(type="ticket_created", attributes={"k" * 60_000: []}))
    long_time = reason(event(occurred_at="x" * 60_000))  # found by the long fuzzing run
    assert max(len(huge_tag), len(many_errors), len(long_key), len(long_time)) < 2_000
    assert "and 4995 more" in many_errors


def test_every_kind_of_refusal_is_a_metrics_label_known_in_advance() -> None:
    samples = [
        b"x" * (MAX_EVENT_BYTES + 1),
        "not json",
        b'{"a": "\xff"}',
        event(type="nope"),
        event(ticket_id=""),
        event(occurred_at="9999-01-01T00:00:00Z"),
        created(n=2**64),
    ]
    kinds = set()
    for raw in samples:
        with pytest.raises(InvalidEvent) as error:
            decode(raw)
        kinds.add(error.value.kind)
    assert kinds == set(INVALID_KINDS)
    assert set(INVALID_KINDS) <= set(INVALID_REASONS)
