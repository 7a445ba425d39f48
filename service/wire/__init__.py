"""The wire: the JSON the service reads and writes (docs/events.md), and the one codec between
it and the core's domain events.

- ``inputs``: the input events as pydantic models (what helpdesks and the gateway publish);
- ``outputs``: the SLA events and dead letters the service publishes, as pydantic models;
- ``codec``: ``decode`` (input JSON to a ``TicketEvent``, or ``InvalidEvent``),
  ``encode_json`` (an ``SlaEvent`` to JSON) and ``parse_timestamp``;
- ``limits``: what the wire accepts at most.

The core never sees the models. Import from here; the submodules are the layout.
"""

from service.wire.codec import INVALID_KINDS, decode, decoded, encode_json, parse_timestamp
from service.wire.inputs import (
    AgentReply,
    AttributeChange,
    AttributeValue,
    CustomerReply,
    FirstResponse,
    Id,
    InputEvent,
    StatusChange,
    TicketCreated,
)
from service.wire.limits import (
    EARLIEST,
    END,
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTE_TEXT_CHARS,
    MAX_ATTRIBUTES,
    MAX_ATTRIBUTES_BYTES,
    MAX_DEAD_LETTER_BYTES,
    MAX_DEAD_LETTER_KEY_CHARS,
    MAX_DEAD_LETTER_REASON_CHARS,
    MAX_EVENT_BYTES,
    MAX_SAFE_INTEGER,
    MAX_TICKET_ATTRIBUTES_BYTES,
)
from service.wire.outputs import (
    DeadLetterWire,
    SlaClockEvent,
    SlaEventWire,
    SlaRetractionEvent,
    SlaWarningEvent,
    UtcTimestamp,
    WireSlaEventType,
)

__all__ = [
    "EARLIEST",
    "END",
    "INVALID_KINDS",
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTES_BYTES",
    "MAX_ATTRIBUTE_KEY_CHARS",
    "MAX_ATTRIBUTE_TEXT_CHARS",
    "MAX_DEAD_LETTER_BYTES",
    "MAX_DEAD_LETTER_KEY_CHARS",
    "MAX_DEAD_LETTER_REASON_CHARS",
    "MAX_EVENT_BYTES",
    "MAX_SAFE_INTEGER",
    "MAX_TICKET_ATTRIBUTES_BYTES",
    "AgentReply",
    "AttributeChange",
    "AttributeValue",
    "CustomerReply",
    "DeadLetterWire",
    "FirstResponse",
    "Id",
    "InputEvent",
    "SlaClockEvent",
    "SlaEventWire",
    "SlaRetractionEvent",
    "SlaWarningEvent",
    "StatusChange",
    "TicketCreated",
    "UtcTimestamp",
    "WireSlaEventType",
    "decode",
    "decoded",
    "encode_json",
    "parse_timestamp",
]
