"""The wire codec (SPEC §2, §6): what is a valid input event, and how SLA events look."""

import json

import pytest

from service.core.errors import InvalidEvent
from service.core.events import EventType
from service.core.instant import SECOND
from service.wire import MAX_EVENT_BYTES, decode, parse_timestamp


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


def test_message_over_64_kib_is_refused_before_parsing() -> None:
    big = event(padding="x" * MAX_EVENT_BYTES)
    assert reason(big).startswith(f"message of {len(big)} bytes is over the limit of 65536")
