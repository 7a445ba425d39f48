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
AttributeValue = StrictStr | StrictBool | StrictInt | StrictFloat


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


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    event_id: Id
    ticket_id: Id
    tenant: Id = "default"
    occurred_at: StrictStr


class TicketCreated(_Common):
    type: Literal["ticket_created"]
    attributes: dict[StrictStr, AttributeValue] = {}
    status: Annotated[StrictStr, Field(min_length=1)] = "new"


class FirstResponse(_Common):
    type: Literal["first_response"]
    automated: StrictBool = False


class AgentReply(_Common):
    type: Literal["agent_reply"]
    public: StrictBool = True
    automated: StrictBool = False


class CustomerReply(_Common):
    type: Literal["customer_reply"]


class StatusChange(_Common):
    type: Literal["status_change"]
    status: Annotated[StrictStr, Field(min_length=1)]
    reason: StrictStr | None = None


class AttributeChange(_Common):
    type: Literal["attribute_change"]
    attributes: dict[StrictStr, AttributeValue]


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
