"""The wire codec: JSON input events to domain events, SLA events to JSON (docs/events.md).

pydantic models describe the wire; the core never sees them. ``decode`` either returns
a ``TicketEvent`` or raises ``InvalidEvent`` with a reason fit for the dead-letter topic.

Limits at the door: ``decode`` refuses anything the engine could not store, encode and
publish (an ``occurred_at`` outside 1970-2199, an integer a JSON consumer would round, text
that is not UTF-8, control characters in the ids that make up the table key, attributes
over their budget), so nothing past it has to cope with such input.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import ErrorDetails

from service.core.errors import InvalidEvent
from service.core.events import EventType, SlaEvent, SlaEventType, TicketEvent
from service.core.instant import Instant, format_instant, from_datetime, to_seconds
from service.core.ticket import MAX_ATTRIBUTES_BYTES as TICKET_ATTRIBUTES_BYTES

MAX_EVENT_BYTES = 64 * 1024
"""A message (a Kafka value, a replay line) over this many bytes is refused unread."""
EARLIEST = from_datetime(datetime(1970, 1, 1, tzinfo=UTC))
"""The earliest instant a timestamp may name (inclusive): the Unix epoch."""
END = from_datetime(datetime(2200, 1, 1, tzinfo=UTC))
"""Timestamps must be before 2200-01-01T00:00:00Z: deadlines computed from them stay far
inside what ``datetime`` (year 9999) and the holiday calendars can represent."""
MAX_SAFE_INTEGER = 2**53 - 1
"""Integers in an event must be within ±(2^53 - 1), the range every JSON consumer reads
exactly (I-JSON, RFC 7493); orjson, which writes the outputs, refuses beyond 64 bits."""
MAX_ATTRIBUTES = 64
"""Keys in the ``attributes`` of one event."""
MAX_ATTRIBUTE_KEY_CHARS = 100
"""Characters in an attribute name."""
MAX_ATTRIBUTE_TEXT_CHARS = 4096
"""Characters in a text attribute value."""
MAX_ATTRIBUTES_BYTES = 16 * 1024
"""The ``attributes`` of one event as compact JSON (UTF-8), in bytes, at most."""
MAX_TICKET_ATTRIBUTES_BYTES = TICKET_ATTRIBUTES_BYTES
"""The budget of a ticket's accumulated attributes (merged over its events) as compact JSON,
in bytes, enforced by the engine (``service.core.ticket``): one event cannot know the
ticket's other attributes, so ``decode`` does not. It holds any single event's attributes
twice over."""

MAX_DEAD_LETTER_BYTES = 256 * 1024
"""The body of a dead letter is at most this many bytes (``service.worker.deadletter``): a
quarter of Kafka's default 1 MB message limit, which the dead-letter topic has too."""
MAX_DEAD_LETTER_REASON_CHARS = 4096
"""Characters of the reason a dead letter keeps (decode's are far shorter; an exception's
text may not be)."""
MAX_DEAD_LETTER_KEY_CHARS = 1024
"""Characters of the message key a dead letter's body keeps (its Kafka key is the original)."""

INVALID_KINDS = (
    "not_json",
    "not_utf8",
    "schema",
    "unknown_type",
    "timestamp",
    "too_large",
    "limit",
)
"""Every ``InvalidEvent.kind`` that ``decode`` raises: a fixed set, for metrics labels."""

_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)", re.ASCII
)
_BOM = b"\xef\xbb\xbf"
_CONTROL = "control characters (U+0000-U+001F, U+007F) are not allowed"
_ID_FIELDS = ("event_id", "ticket_id", "tenant")
_MAX_PARTS = 5  # a reason names at most this many problems
_MEMBERS = {("str",), ("bool",), ("int",), ("float",)}  # AttributeValue's, in error locations
_SCALAR = "use text, a number or a boolean"
_SHOWN = 40  # characters of input quoted in a reason

Id = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=200,
        # Control characters would make the worker's table key (tenant U+001F ticket_id)
        # ambiguous; nothing else is restricted.
        pattern=r"^[^\x00-\x1f\x7f]*$",
    ),
]
# NaN and Infinity are not JSON (RFC 8259), though pydantic's parser reads them: refuse them.
# The bounds of text and integers are checked by ``decode`` (``_check_attributes``), not by
# pydantic: an integer over a bound would quietly validate as the float member instead. The
# schema keywords here only document them in the JSON Schema files.
AttributeValue = (
    Annotated[StrictStr, Field(json_schema_extra={"maxLength": MAX_ATTRIBUTE_TEXT_CHARS})]
    | StrictBool
    | Annotated[
        StrictInt,
        Field(json_schema_extra={"minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}),
    ]
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
)


def parse_timestamp(text: str) -> Instant:
    """An RFC 3339 timestamp with an offset from 1970 to 2199 (UTC), as an instant;
    ``ValueError`` otherwise."""
    found = _RFC3339.fullmatch(text)
    if not found:
        raise ValueError(
            f"{_shown(text)} is not an RFC 3339 timestamp with an offset "
            "(e.g. 2026-01-13T09:30:00Z)"
        )
    fraction = found.group(1) or ""
    normalized = text.replace(fraction, fraction[:7]) if len(fraction) > 7 else text
    instant = from_datetime(datetime.fromisoformat(normalized.replace("z", "Z")))
    if not EARLIEST <= instant < END:
        raise ValueError(
            f"{_shown(text)} is outside the supported range 1970-01-01T00:00:00Z (inclusive) to "
            "2200-01-01T00:00:00Z (exclusive)"
        )
    return instant


# Descriptions and ``json_schema_extra`` only document the wire in the JSON Schema files
# (``service/schemas.py``); they change nothing in validation. ``occurred_at`` is checked by
# ``parse_timestamp``, after the model, so its reason stays distinct; the schema's pattern
# mirrors ``_RFC3339``.
_Type = Field(description="The event type; selects the other fields.")
_Attributes = "Ticket attributes that policies match on (priority, tier, category, ...)"
_Limits = (
    f"At most {MAX_ATTRIBUTES} keys of at most {MAX_ATTRIBUTE_KEY_CHARS} characters, text "
    f"values of at most {MAX_ATTRIBUTE_TEXT_CHARS} characters, integers within ±(2^53 - 1), "
    f"and at most {MAX_ATTRIBUTES_BYTES} bytes as compact JSON (UTF-8)."
)
_AttributesSchema = {
    "maxProperties": MAX_ATTRIBUTES,
    "propertyNames": {"maxLength": MAX_ATTRIBUTE_KEY_CHARS},
}
_Status = Annotated[StrictStr, Field(min_length=1)]


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    event_id: Annotated[
        Id,
        Field(description="Unique per event; an event whose id was seen before changes nothing."),
    ]
    ticket_id: Annotated[
        Id, Field(description="The helpdesk's ticket id; also the Kafka message key.")
    ]
    tenant: Annotated[
        Id, Field(description="The helpdesk account; tickets are keyed by (tenant, ticket_id).")
    ] = "default"
    occurred_at: Annotated[
        StrictStr,
        Field(
            description=(
                "When it happened in the helpdesk (event time): an RFC 3339 timestamp with a "
                "UTC offset (Z or +hh:mm); fractions of a second are kept to the microsecond. "
                "From 1970-01-01T00:00:00Z up to, not including, 2200-01-01T00:00:00Z."
            ),
            json_schema_extra={"format": "date-time", "pattern": f"^{_RFC3339.pattern}$"},
        ),
    ]


class TicketCreated(_Common):
    """A ticket exists: its first response and resolution clocks start."""

    type: Annotated[Literal["ticket_created"], _Type]
    attributes: Annotated[
        dict[StrictStr, AttributeValue],
        Field(description=f"{_Attributes}. {_Limits}", json_schema_extra=_AttributesSchema),
    ] = {}
    status: Annotated[_Status, Field(description="The ticket's initial status.")] = "new"


class FirstResponse(_Common):
    """The helpdesk says the first agent reply was sent."""

    type: Annotated[Literal["first_response"], _Type]
    automated: Annotated[
        StrictBool, Field(description="Sent by automation: it never stops a response clock.")
    ] = False


class AgentReply(_Common):
    """An agent replied; a public, non-automated reply answers the customer."""

    type: Annotated[Literal["agent_reply"], _Type]
    public: Annotated[
        StrictBool, Field(description="Visible to the customer (false: an internal note).")
    ] = True
    automated: Annotated[
        StrictBool, Field(description="Sent by automation: it never stops a response clock.")
    ] = False


class CustomerReply(_Common):
    """The customer wrote."""

    type: Annotated[Literal["customer_reply"], _Type]


class StatusChange(_Common):
    """The ticket's new status; the policy says which statuses pause and which resolve."""

    type: Annotated[Literal["status_change"], _Type]
    status: Annotated[_Status, Field(description="The new status, e.g. pending or solved.")]
    reason: Annotated[
        StrictStr | None, Field(description="Why, as the helpdesk says; custom clocks can test it.")
    ] = None


class AttributeChange(_Common):
    """Attributes set or changed, merged into the ticket's (e.g. a priority downgrade)."""

    type: Annotated[Literal["attribute_change"], _Type]
    attributes: Annotated[
        dict[StrictStr, AttributeValue],
        Field(
            description=(
                f"{_Attributes}: only those that change; merged into the ticket's. {_Limits}"
            ),
            json_schema_extra=_AttributesSchema,
        ),
    ]


InputEvent = Annotated[
    TicketCreated | FirstResponse | AgentReply | CustomerReply | StatusChange | AttributeChange,
    Field(discriminator="type"),
]
_INPUT = TypeAdapter(InputEvent)
_TYPES = ", ".join(t.value for t in EventType)
_EVENT_TYPES = {t.value: t for t in EventType}
_NO_ATTRIBUTES: dict[str, AttributeValue] = {}


def decode(raw: bytes | str) -> TicketEvent:
    """One input message as a domain event; ``InvalidEvent`` says what is wrong with it.
    A leading UTF-8 byte-order mark is ignored."""
    if isinstance(raw, str):
        try:
            raw = raw.encode()
        except UnicodeEncodeError as error:  # a lone surrogate: no UTF-8 can carry it
            point = ord(error.object[error.start])
            raise InvalidEvent(
                f"not UTF-8: lone surrogate U+{point:04X} at character {error.start}", "not_utf8"
            ) from None
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"message of {len(raw)} bytes is over the limit of {MAX_EVENT_BYTES}", "too_large"
        )
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        wire = _INPUT.validate_json(raw)
    except ValidationError as error:
        raise _invalid(error, raw) from None
    try:
        occurred_at = parse_timestamp(wire.occurred_at)
    except ValueError as error:
        raise InvalidEvent(f"occurred_at: {error}", "timestamp") from None
    fields = wire.__dict__  # pydantic's attribute fallback is slow for absent fields
    get = fields.get
    attributes = get("attributes", _NO_ATTRIBUTES)
    if attributes:
        _check_attributes(attributes)
    return TicketEvent(  # positional: this runs for every event
        fields["event_id"],
        _EVENT_TYPES[fields["type"]],
        fields["ticket_id"],
        occurred_at,
        fields["tenant"],
        attributes,
        get("status"),
        get("reason"),
        get("public", True),
        get("automated", False),
    )


def _check_attributes(attributes: dict[str, AttributeValue]) -> None:
    """The attribute budget of one event (``MAX_ATTRIBUTE*``); ``InvalidEvent`` if over."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidEvent(
            f"attributes: {len(attributes)} keys, over the limit of {MAX_ATTRIBUTES}", "limit"
        )
    for key, value in attributes.items():
        if len(key) > MAX_ATTRIBUTE_KEY_CHARS:
            raise InvalidEvent(
                f"attributes: key {_shown(key)} has {len(key)} characters, over the limit of "
                f"{MAX_ATTRIBUTE_KEY_CHARS}",
                "limit",
            )
        if type(value) is str and len(value) > MAX_ATTRIBUTE_TEXT_CHARS:
            raise InvalidEvent(
                f"attributes.{key}: {len(value)} characters, over the limit of "
                f"{MAX_ATTRIBUTE_TEXT_CHARS}",
                "limit",
            )
        if type(value) is int and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise InvalidEvent(
                f"attributes.{key}: integer out of range: JSON integers must be within "
                f"±(2^53 - 1) = ±{MAX_SAFE_INTEGER} (RFC 7493)",
                "limit",
            )
    size = len(orjson.dumps(attributes))
    if size > MAX_ATTRIBUTES_BYTES:
        raise InvalidEvent(
            f"attributes: {size} bytes as JSON, over the limit of {MAX_ATTRIBUTES_BYTES}", "limit"
        )


def _invalid(error: ValidationError, raw: bytes) -> InvalidEvent:
    items = error.errors(include_url=False)
    if items[0]["type"] == "json_invalid":
        try:
            raw.decode()
        except UnicodeDecodeError as bad:  # say so rather than what the parser tripped on
            return InvalidEvent(
                f"not UTF-8: invalid byte 0x{raw[bad.start]:02x} at offset {bad.start}",
                "not_utf8",
            )
    return InvalidEvent(_reason(items), _kind(items))


def _kind(items: list[ErrorDetails]) -> str:
    kinds = {item["type"] for item in items}
    if "json_invalid" in kinds:
        return "not_json"
    if kinds & {"union_tag_invalid", "union_tag_not_found"}:
        return "unknown_type"
    return "schema"


def _reason(items: list[ErrorDetails]) -> str:
    parts: list[str] = []
    not_finite = {item["loc"][:-1] for item in items if item["type"] == "finite_number"}
    for item in items:
        kind, location = item["type"], item["loc"]
        if location[-1:] in _MEMBERS and len(location) > 2:
            # One error per member of AttributeValue's union: say it once, for the value.
            value = location[:-1]
            problem = "input should be a finite number" if value in not_finite else _SCALAR
            part = f"{_where(value)}: {problem}"
        elif kind == "union_tag_invalid":
            tag = (item.get("ctx") or {}).get("tag")
            named = _shown(tag) if isinstance(tag, str) else repr(tag)
            part = f"type: {named} is not an event type; use one of {_TYPES}"
        elif kind == "union_tag_not_found":
            part = f"type: missing; use one of {_TYPES}"
        elif kind == "json_invalid":
            part = f"not JSON: {item['msg']}"
        elif not location or kind in ("model_type", "model_attributes_type"):
            part = "not a JSON object"
        elif kind == "string_pattern_mismatch" and _where(location) in _ID_FIELDS:
            part = f"{_where(location)}: {_CONTROL}"
        else:
            part = f"{_where(location)}: {item['msg'].lower()}"
        if not parts or parts[-1] != part:
            parts.append(part)
    shown = parts[:_MAX_PARTS]
    if len(parts) > _MAX_PARTS:
        shown.append(f"and {len(parts) - _MAX_PARTS} more")
    return "; ".join(shown)


def _where(location: tuple[int | str, ...]) -> str:
    """A field's dotted path; the first part of a location is the event type pydantic chose."""
    return ".".join(_cut(str(part)) for part in location[1:])


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _shown(text: str) -> str:
    """Input text quoted in a reason: its repr, cut short."""
    return repr(_cut(text))


def encode_json(event: SlaEvent, emitted_at: Instant) -> bytes:
    """The JSON bytes of an SLA event; UTC instants end in ``Z``. Instants are formatted
    by ``format_instant`` (what orjson writes for a UTC datetime, at a fifth of the cost
    of making the datetime); attribute names are text (the codec refuses anything else)."""
    occurred_at = format_instant(event.occurred_at)
    deadline = event.deadline
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type.value,
        "tenant": event.tenant,
        "ticket_id": event.ticket_id,
        "policy": event.policy,
        "policy_version": event.policy_version,
        "metric": event.metric,
        "cycle": event.cycle,
        "calendar": event.calendar,
        "target_seconds": to_seconds(event.target),
        "deadline": format_instant(deadline) if deadline is not None else None,
        "occurred_at": occurred_at,
        "elapsed_business_seconds": to_seconds(event.elapsed),
        "attributes": event.attributes,
        "emitted_at": (
            occurred_at if emitted_at == event.occurred_at else format_instant(emitted_at)
        ),
        "caused_by": event.caused_by,
        "compliance_excluded": event.compliance_excluded,
    }
    if event.type is SlaEventType.WARNING:
        body["threshold"] = event.threshold
    if event.type is SlaEventType.RETRACTED:
        body["retracted_event_id"] = event.retracted_event_id
    return orjson.dumps(body)
