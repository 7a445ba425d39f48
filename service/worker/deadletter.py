"""The worker's dead letters: an input message it could not use, an event held for a ticket
never created, a record Kafka refused for good (docs/worker.md, "Topics"). The body every
dead letter shares, and its size bound, are in ``service.letter``."""

import orjson

from service.core.events import TicketEvent
from service.core.instant import Instant, format_instant
from service.letter import cut as _cut
from service.wire import (
    MAX_DEAD_LETTER_KEY_CHARS,
    MAX_DEAD_LETTER_REASON_CHARS,
)
from service.worker.state import dump_event


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
