"""SLA events as the report reads them: JSON lines of the output schema (docs/events.md), and the
events still standing once retractions are applied."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from service.core.events import SlaEvent, SlaEventType
from service.core.instant import SECOND
from service.wire import SlaEventWire, parse_timestamp

_TIMESTAMPS = frozenset({"deadline", "occurred_at", "emitted_at"})


def decode_sla_event(text: str | bytes) -> SlaEvent:
    """One SLA event from its JSON; ``ValueError`` with a reason otherwise."""
    try:
        wire = SlaEventWire.model_validate_json(text).root
    except ValidationError as error:
        raise ValueError(_reason(error)) from None
    return SlaEvent(
        event_id=wire.event_id,
        type=SlaEventType(wire.type),
        tenant=wire.tenant,
        ticket_id=wire.ticket_id,
        policy=wire.policy,
        policy_version=wire.policy_version,
        metric=wire.metric,
        cycle=wire.cycle,
        calendar=wire.calendar,
        target=_micros(wire.target_seconds),
        deadline=parse_timestamp(wire.deadline) if wire.deadline is not None else None,
        occurred_at=parse_timestamp(wire.occurred_at),
        elapsed=_micros(wire.elapsed_business_seconds),
        attributes=wire.attributes,
        threshold=getattr(wire, "threshold", None),
        caused_by=wire.caused_by,
        retracted_event_id=getattr(wire, "retracted_event_id", None),
        compliance_excluded=wire.compliance_excluded,
    )


def _micros(seconds: int | float) -> int:
    return seconds * SECOND if isinstance(seconds, int) else round(seconds * SECOND)


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        kind, location = item["type"], item["loc"]
        name = ".".join(str(part) for part in location[1:])  # [0] is the type pydantic chose
        if kind == "json_invalid":
            parts.append(f"not JSON: {item['msg']}")
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            parts.append(f"type: {item['msg']}")
        elif not name:
            parts.append("not a JSON object")
        elif kind == "string_pattern_mismatch" and location[-1] in _TIMESTAMPS:
            parts.append(f"{name}: {item['input']!r} is not an RFC 3339 UTC timestamp")
        else:
            parts.append(f"{name}: {item['msg'].lower()}")
    return "; ".join(parts)


@dataclass
class Ledger:
    """The events still standing: published and not retracted.

    ``in_order`` (a Kafka topic, read in offset order): a retraction removes what it names
    and a publication (again) restores it, so duplicates of at-least-once delivery change
    nothing. Otherwise (files, in any line order; replay writes them by ``occurred_at``,
    which can put a retraction before the event it retracts): an event stands when it was
    published more often than it was retracted.
    """

    in_order: bool = False
    _events: dict[str, SlaEvent] = field(default_factory=dict)
    _balance: dict[str, int] = field(default_factory=dict)

    def take(self, event: SlaEvent) -> None:
        retracted = event.retracted_event_id
        if event.type is SlaEventType.RETRACTED and retracted is not None:
            self._count(retracted, -1)
        else:
            self._events[event.event_id] = event
            self._count(event.event_id, 1)

    def _count(self, event_id: str, change: int) -> None:
        balance = self._balance.get(event_id, 0) + change
        self._balance[event_id] = max(0, min(balance, 1)) if self.in_order else balance

    def standing(self) -> list[SlaEvent]:
        return [event for event_id, event in self._events.items() if self._balance[event_id] > 0]


def read_lines(source: str, lines: Iterable[str], ledger: Ledger) -> list[str]:
    """Give the SLA events of JSON lines to ``ledger`` (blank lines skipped); return a
    problem naming the source and line number for each line that is not one."""
    problems = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            ledger.take(decode_sla_event(text))
        except ValueError as error:
            problems.append(f"{source} line {number}: {error}")
    return problems
