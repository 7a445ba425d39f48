"""The codec: JSON input events to domain events, SLA events to JSON (docs/events.md).

The input models (``service.wire.inputs``) describe what ``decode`` reads; the core never
sees them. ``decode`` either returns a ``TicketEvent`` or raises ``InvalidEvent`` with a
reason fit for the dead-letter topic. ``encode_json`` writes what the output models
(``service.wire.outputs``) describe.

Limits at the door: ``decode`` refuses anything the engine could not store, encode and
publish (an ``occurred_at`` outside 1970-2199, an integer a JSON consumer would round, text
that is not UTF-8, control characters in the ids that make up the table key, attributes
over their budget), so nothing past it has to cope with such input.
"""

from datetime import datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from service.core.errors import InvalidEvent
from service.core.events import EventType, SlaEvent, SlaEventType, TicketEvent
from service.core.instant import SECOND, Instant, format_instant, from_datetime, to_seconds
from service.wire.inputs import AttributeValue, InputEvent
from service.wire.limits import (
    EARLIEST,
    END,
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTE_TEXT_CHARS,
    MAX_ATTRIBUTES,
    MAX_ATTRIBUTES_BYTES,
    MAX_EVENT_BYTES,
    MAX_SAFE_INTEGER,
)
from service.wire.limits import RFC3339 as _RFC3339

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

_BOM = b"\xef\xbb\xbf"
_EMPTY = "the message is empty (at most a byte-order mark and whitespace)"
_CONTROL = "control characters (U+0000-U+001F, U+007F) are not allowed"
_ID_FIELDS = ("event_id", "ticket_id", "tenant")
_MAX_PARTS = 5  # a reason names at most this many problems
_MEMBERS = {("str",), ("bool",), ("int",), ("float",)}  # AttributeValue's, in error locations
_SCALAR = "use text, a number or a boolean"
_SHOWN = 40  # characters of input quoted in a reason


def parse_timestamp(text: str) -> Instant:
    """An RFC 3339 timestamp with an offset from 1970 to 2199 (UTC), as an instant;
    ``ValueError`` otherwise.

    Every event has one, so the common form (``2026-01-13T09:30:00Z``) takes a short cut:
    its day's midnight (parsed in full once, then kept) plus the time of day from tables.
    The day decides alone whether the whole is valid (its format, the date, the range: a
    day inside 1970-2199 keeps all its seconds inside), and a time of day found in the
    tables always is; anything else is parsed in full (``_parsed``)."""
    if len(text) == 20:
        hour, minute = _HOURS.get(text[11:14]), _MINUTES.get(text[14:17])
        second = _SECONDS.get(text[17:])
        if hour is not None and minute is not None and second is not None:
            day = _DAYS.get(text[:11])
            if day is None:
                try:
                    day = _parsed(text[:11] + "00:00:00Z")
                except ValueError:
                    return _parsed(text)  # it raises too, naming the text as given
                if len(_DAYS) >= _DAYS_KEPT:
                    _DAYS.clear()
                _DAYS[text[:11]] = day
            return day + hour + minute + second
    return _parsed(text)


_HOURS = {f"{n:02}:": n * 3600 * SECOND for n in range(24)}
_MINUTES = {f"{n:02}:": n * 60 * SECOND for n in range(60)}
_SECONDS = {f"{n:02}Z": n * SECOND for n in range(60)}
_DAYS: dict[str, Instant] = {}  # "2026-01-13T" -> its midnight
_DAYS_KEPT = 4096


def _parsed(text: str) -> Instant:
    """``parse_timestamp`` the long way: the pattern, then ``datetime.fromisoformat``."""
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


def decoded(raw: bytes | str) -> TicketEvent | Exception:
    """``decode``'s event, or what it raised (``InvalidEvent``, or the message's internal
    error), for callers that decode a batch first and deal with each failure in its turn."""
    try:
        return decode(raw)
    except Exception as error:
        return error


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
        if not raw.strip(b" \t\r\n"):  # JSON's whitespace: the parser would say EOF
            return InvalidEvent(f"not JSON: {_EMPTY}", "not_json")
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
