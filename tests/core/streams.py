"""Reading a published stream as a consumer does: net of retractions, field by field."""

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from service.core.events import SlaEvent, SlaEventType

_NOT_CONTENT = ("event_id", "retracted_event_id")


def content(event: SlaEvent) -> dict[str, Any]:
    """Every field a consumer reads, but the id (``emitted_at`` is added by the shells)."""
    fields = asdict(event)
    for name in _NOT_CONTENT:
        fields.pop(name)
    fields["attributes"] = dict(event.attributes)
    return fields


def standing(published: Iterable[SlaEvent]) -> list[SlaEvent]:
    """What a consumer holds after applying every retraction, in publishing order."""
    held: dict[str, SlaEvent] = {}
    for event in published:
        if event.type is SlaEventType.RETRACTED:
            assert event.retracted_event_id in held, "a retraction names a standing event"
            del held[event.retracted_event_id]
        else:
            held[event.event_id] = event
    return list(held.values())


def net(published: Iterable[SlaEvent]) -> list[dict[str, Any]]:
    """What a consumer holds, field by field, in a comparable order."""
    return sorted((content(e) for e in standing(published)), key=repr)


def assert_consistent_ids(published: Iterable[SlaEvent]) -> None:
    """An id names one content only, and an id retracted once is never published again."""
    seen: dict[str, dict[str, Any]] = {}
    retracted: set[str] = set()
    for event in published:
        if event.type is SlaEventType.RETRACTED:
            assert event.retracted_event_id not in retracted, "retracted twice"
            retracted.add(event.retracted_event_id or "")
            continue
        assert event.event_id not in retracted, f"{event.type} reuses a retracted id"
        before = seen.setdefault(event.event_id, content(event))
        assert before == content(event), f"{event.event_id} names two contents"
