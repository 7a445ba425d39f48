"""The wire codec: JSON input events to domain events, SLA events to JSON (SPEC §2, §6).

pydantic models describe the wire; the core never sees them. ``decode`` either returns
a ``TicketEvent`` or raises ``InvalidEvent`` with a reason fit for the dead-letter topic.
"""

import re
from datetime import datetime
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

from service.core.errors import InvalidEvent
from service.core.events import EventType, SlaEvent, SlaEventType, TicketEvent
from service.core.instant import Instant, from_datetime, to_datetime, to_seconds

MAX_EVENT_BYTES = 64 * 1024
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)")

Id = Annotated[StrictStr, Field(min_length=1, max_length=200)]
# NaN and Infinity are not JSON (RFC 8259), though pydantic's parser reads them: refuse them.
AttributeValue = (
    StrictStr | StrictBool | StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)]
)


def parse_timestamp(text: str) -> Instant:
    """An RFC 3339 timestamp with an offset, as an instant; ``ValueError`` otherwise."""
    found = _RFC3339.fullmatch(text)
    if not found:
        raise ValueError(
            f"{text!r} is not an RFC 3339 timestamp with an offset (e.g. 2026-01-13T09:30:00Z)"
        )
    fraction = found.group(1) or ""
    normalized = text.replace(fraction, fraction[:7]) if len(fraction) > 7 else text
    return from_datetime(datetime.fromisoformat(normalized.replace("z", "Z")))


# Descriptions and ``json_schema_extra`` only document the wire in the JSON Schema files
# (``service/schemas.py``); they change nothing in validation. ``occurred_at`` is checked by
# ``parse_timestamp``, after the model, so its reason stays distinct; the schema's pattern
# mirrors ``_RFC3339``.
_Type = Field(description="The event type; selects the other fields.")
_Attributes = "Ticket attributes that policies match on (priority, tier, category, ...)"
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
                "UTC offset (Z or +hh:mm); fractions of a second are kept to the microsecond."
            ),
            json_schema_extra={"format": "date-time", "pattern": f"^{_RFC3339.pattern}$"},
        ),
    ]


class TicketCreated(_Common):
    """A ticket exists: its first response and resolution clocks start."""

    type: Annotated[Literal["ticket_created"], _Type]
    attributes: Annotated[
        dict[StrictStr, AttributeValue], Field(description=f"{_Attributes}.")
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
        Field(description=f"{_Attributes}: only those that change; merged into the ticket's."),
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
    """One input message as a domain event; ``InvalidEvent`` says what is wrong with it."""
    # A character is at most 4 UTF-8 bytes: short text needs no encoding to be measured.
    if isinstance(raw, bytes) or len(raw) * 4 > MAX_EVENT_BYTES:
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > MAX_EVENT_BYTES:
            raise InvalidEvent(
                f"message of {size} bytes is over the limit of {MAX_EVENT_BYTES}", "too_large"
            )
    try:
        wire = _INPUT.validate_json(raw)
    except ValidationError as error:
        raise InvalidEvent(_reason(error), _kind(error)) from None
    try:
        occurred_at = parse_timestamp(wire.occurred_at)
    except ValueError as error:
        raise InvalidEvent(f"occurred_at: {error}", "timestamp") from None
    fields = wire.__dict__  # pydantic's attribute fallback is slow for absent fields
    get = fields.get
    return TicketEvent(  # positional: this runs for every event
        fields["event_id"],
        _EVENT_TYPES[fields["type"]],
        fields["ticket_id"],
        occurred_at,
        fields["tenant"],
        get("attributes", _NO_ATTRIBUTES),
        get("status"),
        get("reason"),
        get("public", True),
        get("automated", False),
    )


def _kind(error: ValidationError) -> str:
    kinds = {item["type"] for item in error.errors(include_url=False)}
    if "json_invalid" in kinds:
        return "not_json"
    if kinds & {"union_tag_invalid", "union_tag_not_found"}:
        return "unknown_type"
    return "schema"


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        kind, location = item["type"], item["loc"]
        if kind == "union_tag_invalid":
            tag = (item.get("ctx") or {}).get("tag")
            parts.append(f"type: {tag!r} is not an event type; use one of {_TYPES}")
        elif kind == "union_tag_not_found":
            parts.append(f"type: missing; use one of {_TYPES}")
        elif kind == "json_invalid":
            parts.append(f"not JSON: {item['msg']}")
        elif not location or kind in ("model_type", "model_attributes_type"):
            parts.append("not a JSON object")
        else:  # the first part of the location is the event type pydantic chose
            parts.append(f"{'.'.join(str(part) for part in location[1:])}: {item['msg'].lower()}")
    return "; ".join(parts)


def encode(event: SlaEvent, emitted_at: Instant) -> dict[str, Any]:
    """The JSON object of an SLA event (SPEC §6), with instants as RFC 3339 strings."""
    return orjson.loads(encode_json(event, emitted_at))  # type: ignore[no-any-return]


def encode_json(event: SlaEvent, emitted_at: Instant) -> bytes:
    """The JSON bytes of an SLA event; UTC instants end in ``Z``."""
    occurred_at = to_datetime(event.occurred_at)
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
        "deadline": to_datetime(event.deadline) if event.deadline is not None else None,
        "occurred_at": occurred_at,
        "elapsed_business_seconds": to_seconds(event.elapsed),
        "attributes": event.attributes,
        "emitted_at": occurred_at if emitted_at == event.occurred_at else to_datetime(emitted_at),
        "caused_by": event.caused_by,
        "compliance_excluded": event.compliance_excluded,
    }
    if event.type is SlaEventType.WARNING:
        body["threshold"] = event.threshold
    if event.type is SlaEventType.RETRACTED:
        body["retracted_event_id"] = event.retracted_event_id
    return orjson.dumps(body, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)
