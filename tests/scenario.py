"""Write ticket histories compactly and read the engine's answers as plain tuples."""

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from service.core.engine import Engine
from service.core.events import EventType, SlaEvent, TicketEvent
from service.core.instant import Instant, from_datetime, to_datetime
from service.core.policy import PolicySet

NEW_YORK = ZoneInfo("America/New_York")


def local(text: str, zone: ZoneInfo = NEW_YORK) -> Instant:
    return from_datetime(datetime.fromisoformat(text).replace(tzinfo=zone))


def show(instant: Instant | None, zone: ZoneInfo = NEW_YORK) -> str | None:
    if instant is None:
        return None
    return to_datetime(instant).astimezone(zone).strftime("%a %Y-%m-%d %H:%M")


class History:
    """Events of tickets, numbered as they are written."""

    def __init__(self, tenant: str = "acme", zone: ZoneInfo = NEW_YORK) -> None:
        self.tenant = tenant
        self.zone = zone
        self.events: list[TicketEvent] = []

    def add(self, when: str, kind: str, ticket: str = "T1", **fields: object) -> TicketEvent:
        event = TicketEvent(
            event_id=f"{ticket}-{len(self.events) + 1}",
            type=EventType(kind),
            ticket_id=ticket,
            tenant=self.tenant,
            occurred_at=local(when, self.zone),
            **fields,  # type: ignore[arg-type]
        )
        self.events.append(event)
        return event


def run(
    policies: PolicySet,
    events: Iterable[TicketEvent],
    until: str | None = None,
    zone: ZoneInfo = NEW_YORK,
) -> list[SlaEvent]:
    """Deliver events in the given order with the clock at the latest time seen, then ``until``."""
    engine = Engine(policies)
    out: list[SlaEvent] = []
    clock: Instant | None = None
    for event in events:
        clock = event.occurred_at if clock is None else max(clock, event.occurred_at)
        out += engine.receive(event, clock)
        out += engine.advance(clock)
    if until is not None:
        out += engine.advance(local(until, zone))
    return out


def brief(events: Iterable[SlaEvent], zone: ZoneInfo = NEW_YORK) -> list[tuple[str, ...]]:
    """(type, metric, when) per event, e.g. ("breach", "first_response", "Tue 2026-01-13 16:00")."""
    return [
        (e.type.removeprefix("sla."), e.metric, show(e.occurred_at, zone) or "")
        + ((e.threshold,) if e.threshold else ())
        for e in events
    ]
