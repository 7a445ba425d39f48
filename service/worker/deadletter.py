"""The body of a dead letter: an input message the worker could not use (README "Topics").

A pure function, so its size bound is tested without a broker. The body is JSON with the
message as text; a message of control bytes grows six-fold as JSON escapes (``\\u0001``), so
a body over ``MAX_DEAD_LETTER_BYTES`` keeps the longest prefix of the text that fits and says
so: ``truncated``, the full size in ``original_bytes`` and its SHA-256 in ``original_sha256``.
Reason and key are cut to a few KiB first, so the bound always holds.
"""

import hashlib

import orjson

from service.core.events import TicketEvent
from service.core.instant import Instant, format_instant
from service.wire import (
    MAX_DEAD_LETTER_BYTES,
    MAX_DEAD_LETTER_KEY_CHARS,
    MAX_DEAD_LETTER_REASON_CHARS,
)
from service.worker.state import dump_event


def dead_letter_body(
    value: bytes,
    key: bytes | None,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    failed_at: Instant,
) -> bytes:
    """The JSON body of a dead letter, at most ``MAX_DEAD_LETTER_BYTES`` long."""
    original = value.decode("utf-8", errors="replace")
    body: dict[str, object] = {
        "reason": _cut(reason, MAX_DEAD_LETTER_REASON_CHARS),
        "original": original,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": _cut(key.decode("utf-8", errors="replace"), MAX_DEAD_LETTER_KEY_CHARS)
        if key is not None
        else None,
        "failed_at": format_instant(failed_at),
    }
    encoded = orjson.dumps(body)
    if len(encoded) <= MAX_DEAD_LETTER_BYTES:
        return encoded
    body["original"] = ""
    body["truncated"] = True
    body["original_bytes"] = len(value)
    body["original_sha256"] = hashlib.sha256(value).hexdigest()
    room = MAX_DEAD_LETTER_BYTES - len(orjson.dumps(body))
    body["original"] = _longest_prefix(original, room)
    return orjson.dumps(body)


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters (the last three ``...`` when cut), encodable as UTF-8."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    # A lone surrogate (from an exception's text, say) would make orjson refuse the body.
    return text.encode("utf-8", errors="backslashreplace").decode()


def _longest_prefix(text: str, room: int) -> str:
    """The longest prefix of ``text`` whose JSON string content takes at most ``room`` bytes."""

    def size(count: int) -> int:
        return len(orjson.dumps(text[:count])) - 2  # without the quotes

    low, high = 0, min(len(text), room)  # every character takes at least one byte
    while low < high:
        middle = (low + high + 1) // 2
        if size(middle) <= room:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def held_dead_letter(event: TicketEvent, reason: str, now: Instant) -> bytes:
    """The dead letter of an event held for a ticket never created: the event as JSON
    (its original bytes are not kept), with the fields every dead letter has."""
    original = {
        "event_id": event.event_id,
        "ticket_id": event.ticket_id,
        "tenant": event.tenant,
        "occurred_at": format_instant(event.occurred_at),
        **dump_event(event),
    }
    del original["id"]
    body = {
        "reason": reason,
        "original": orjson.dumps(original).decode(),
        "topic": None,
        "partition": None,
        "offset": None,
        "key": event.ticket_id,
        "failed_at": format_instant(now),
    }
    return orjson.dumps(body)


def refused_dead_letter(
    reason: str, topic: str, partition: int, key: bytes | None, size: int, now: Instant
) -> bytes:
    """The dead letter of a record Kafka refused for good: where it was going and its size,
    not the record itself (it is what was too large)."""
    body = {
        "reason": _cut(reason, MAX_DEAD_LETTER_REASON_CHARS),
        "original": None,
        "topic": topic,
        "partition": partition,
        "offset": None,
        "key": _cut(key.decode("utf-8", errors="replace"), MAX_DEAD_LETTER_KEY_CHARS)
        if key
        else None,
        "size": size,
        "failed_at": format_instant(now),
    }
    return orjson.dumps(body)
