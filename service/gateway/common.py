"""What every adapter shares: reading headers and JSON defensively, timestamps, attribute
values within the wire's limits, status mapping, event ids, and the final check that each
mapped event is one ``service.wire.decode`` accepts.

Nothing here raises on input: readers answer ``None`` for what is missing or malformed.
"""

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from service.core.errors import InvalidEvent
from service.core.instant import Instant, format_instant
from service.wire import EARLIEST, END, MAX_SAFE_INTEGER, decode, parse_timestamp

from .kinds import CUSTOM_FIELD, normalise_status
from .outcome import Ignored, InputEvent, Mapped, Outcome, Unmappable
from .sources import Source

MAX_BODY_BYTES = 1024 * 1024
"""A body over this many bytes is not parsed (the server should answer 413 before)."""
MAX_TEXT_CHARS = 256
"""Characters kept of a text attribute (a subject, a custom field); tags keep ``MAX_TAGS_CHARS``."""
MAX_TAGS_CHARS = 1024
MAX_ID_CHARS = 200  # the wire's limit on event and ticket ids

_BOM = b"\xef\xbb\xbf"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PRINTABLE_ID = re.compile(r"[\x21-\x7e]{1,128}")
_COMPACT_OFFSET = re.compile(r"([+-]\d\d)(\d\d)$")  # Jira's +0100
_MINUTES_ONLY = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d)([Zz]|[+-]\d\d:\d\d)$")  # 2013-12-12T05:35Z

Json = dict[str, Any]


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers by lower-case name; the first of repeated names wins."""
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(name, str) and isinstance(value, str):
            lowered.setdefault(name.lower(), value)
    return lowered


def parse_object(body: bytes) -> Json | str:
    """The body as a JSON object, or why it is not one."""
    if len(body) > MAX_BODY_BYTES:
        return f"body of {len(body)} bytes is over the limit of {MAX_BODY_BYTES}"
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return f"body is not JSON: {str(error)[:200]}"
    return value if isinstance(value, dict) else "body is not a JSON object"


def obj(value: Any, *path: str) -> Json:
    """The object at ``path`` inside ``value``; ``{}`` when any step is missing or not one."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str | None:
    """A string, or an integer as one (ids come as either); ``None`` for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def ident(value: Any) -> str | None:
    """An id as text: non-empty after trimming, without control characters, at most
    ``MAX_ID_CHARS`` (what the wire accepts as a ticket id)."""
    found = text(value)
    if found is None:
        return None
    found = found.strip()
    if not found or len(found) > MAX_ID_CHARS or _CONTROL.search(found):
        return None
    return found


def delivery_id(value: str | None) -> str | None:
    """A helpdesk's delivery or event id (a header or a body field): printable ASCII, at
    most 128 characters, else ``None`` (the caller derives one from the body instead)."""
    return value if value is not None and _PRINTABLE_ID.fullmatch(value) else None


def digest(*parts: bytes | str) -> str:
    """A hex SHA-256 of the parts, length-prefixed so no two part lists collide; 32 digits."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big") + data)
    return hasher.hexdigest()[:32]


def instant(value: Any) -> Instant | None:
    """An event time from RFC 3339 with any precision, Jira's ``+0100`` offsets or Zendesk's
    minute-only placeholder (``2013-12-12T05:35Z``); ``None`` when it is none of them or
    outside 1970-2199."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    candidate = value.strip()
    minutes = _MINUTES_ONLY.fullmatch(candidate)
    if minutes:
        candidate = f"{minutes.group(1)}:00{minutes.group(2)}"
    candidate = _COMPACT_OFFSET.sub(r"\1:\2", candidate)
    try:
        return parse_timestamp(candidate)
    except (ValueError, OverflowError):
        return None


def timestamp(value: Any) -> str | None:
    """``instant(value)`` as RFC 3339 UTC (``...Z``, to the microsecond)."""
    found = instant(value)
    return format_instant(found) if found is not None else None


def epoch_millis(value: Any) -> str | None:
    """Epoch milliseconds (Jira's ``timestamp``) as RFC 3339 UTC; ``None`` if not one."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return format_instant(value * 1000) if EARLIEST <= value * 1000 < END else None


def received(now: Instant) -> str:
    """The time of receipt, for a delivery that carries no event time; kept within the
    wire's range (1970-2199), so a broken clock cannot make an adapter raise."""
    return format_instant(min(max(now, EARLIEST), END - 1))


def clean_text(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Text fit for an attribute: control characters as spaces, trimmed, at most ``limit``."""
    return _CONTROL.sub(" ", value).strip()[:limit]


def attribute_value(value: Any, cleared: str | None = None) -> str | int | float | bool | None:
    """A helpdesk value as an attribute value the wire accepts; ``cleared`` stands for null
    (``""`` in a change: the attribute was emptied; ``None``: leave it out)."""
    if value is None:
        return cleared
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):  # a multi-select: its values, space-separated
        items = [clean_text(str(item)) for item in value if isinstance(item, str | int | float)]
        return clean_text(" ".join(item for item in items if item))
    return None


def tags_value(tags: Iterable[Any]) -> str:
    """Tags as one attribute: sorted, unique, space-separated, cut at a tag boundary."""
    names = sorted({clean_text(tag, MAX_TAGS_CHARS).replace(" ", "_") for tag in tags
                    if isinstance(tag, str) and tag.strip()})  # fmt: skip
    joined = ""
    for name in names:
        if len(joined) + len(name) + 1 > MAX_TAGS_CHARS:
            break
        joined = f"{joined} {name}" if joined else name
    return joined


def pick_attributes(
    source: Source,
    standard: Mapping[str, Any],
    custom: Mapping[str, Any],
    cleared: str | None = None,
) -> dict[str, Any]:
    """The source's attributes from a delivery: each mapped standard field present in
    ``standard``, each ``custom_field:<key>`` present in ``custom``."""
    picked: dict[str, Any] = {}
    for name, spec in source.attributes.items():
        if spec.startswith(CUSTOM_FIELD):
            key, found = spec[len(CUSTOM_FIELD) :], custom
        else:
            key, found = spec, standard
        if key in found:
            value = attribute_value(found[key], cleared)
            if value is not None:
                picked[name] = value
    return picked


def status_key(value: Any) -> str:
    """A helpdesk status (or custom status id) as a key of ``Source.statuses``."""
    word = text(value)
    return normalise_status(word) if word is not None else ""


def status(source: Source, value: Any) -> str | None:
    """The SLA Timer status of a helpdesk status: the source's mapping, else the helpdesk's
    own word normalised; ``None`` if there is no word."""
    key = status_key(value)
    return source.statuses.get(key, key) or None


def lower(value: Any) -> str | None:
    """Enumerated text (a priority, a type, a channel) case-folded; ``None`` if not text."""
    return clean_text(value).lower() if isinstance(value, str) else None


def event(
    source: Source, kind: str, ticket_id: str, occurred_at: str, event_id: str, **fields: Any
) -> InputEvent:
    """A canonical input event of this source's tenant."""
    if len(event_id) > MAX_ID_CHARS:
        event_id = f"{source.kind}:{digest(event_id)}"
    return {
        "event_id": event_id,
        "type": kind,
        "ticket_id": ticket_id,
        "tenant": source.tenant,
        "occurred_at": occurred_at,
        **fields,
    }


def finish(events: list[InputEvent], ignored: str) -> Outcome:
    """``Mapped`` when every event is valid on the wire (an invalid one makes the delivery
    ``Unmappable`` with the wire's reason); ``Ignored(ignored)`` when there are none."""
    if not events:
        return ignored_kind(ignored)
    for item in events:
        try:
            decode(orjson.dumps(item))
        except InvalidEvent as error:
            return Unmappable(f"{item.get('type')} event not valid: {error.reason}")
        except (TypeError, orjson.JSONEncodeError) as error:
            return Unmappable(f"{item.get('type')} event not encodable: {str(error)[:200]}")
    return Mapped(tuple(events))


def ignored_kind(kind: str) -> Ignored:
    """``Ignored`` naming the helpdesk's event kind as printable ASCII, at most 100 characters."""
    printable = kind.encode("ascii", "replace").decode("ascii")
    return Ignored(_CONTROL.sub(" ", printable)[:100] or "(none)")
