"""A ticket: its event log, its clocks, and what stands published for it (docs/events.md,
docs/semantics.md).

The clocks are a fold of the log in event time: the first ``ticket_created``, then every
other event by ``(occurred_at, arrival)``; an event dated before the creation is applied
right after it, at its instant. Before each event, whatever falls due up to and at its
instant fires (docs/semantics.md: a deadline reached at the instant of a pause is reached).

An event that arrives in order is applied to the clocks directly. One that arrives late
(earlier than an event already applied, or than a warning or breach already fired) folds
the log again from the last checkpoint before it (a copy of the clocks kept every
``CHECKPOINT_EVERY`` events), so its cost does not grow with the ticket's history. The
new outcome is compared with what stands published, by content: what is unchanged keeps
its id, what no longer holds is retracted (``sla.retracted``), what is new is published.
So what a consumer holds, net of retractions, always equals the in-order fold of every
event received so far, field by field (docs/semantics.md).

An event's id is the digest of its content while the ticket has retracted nothing, and a
digest of content and *generation* after: each fold that retracts something starts a new
generation, so an id never names two contents and a retracted id never comes back.

History is bounded (docs/worker.md): past ``KEPT_EVENTS`` events, the oldest are folded into a
snapshot of the clocks (``base``) and forgotten, with the published events they made; an
event dated before the snapshot can no longer be applied exactly and is refused as
``too_late``. Compliance outcomes of the forgotten events are kept as counts (``settled``),
and for a cycle that can still change, its few events that decide its outcome
(``retained``). A ticket whose ``ticket_created`` has not come holds at most
``HELD_EVENTS`` events (more are refused as ``no_ticket``).
"""

import json
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from .clocks import TicketClocks
from .compliance import Outcome, outcomes
from .errors import InvalidEvent
from .events import (
    EventType,
    SlaEvent,
    SlaEventType,
    TicketEvent,
    attributes_text,
    content_digest,
    retraction_id,
    sla_event_id,
)
from .instant import Instant
from .matching import Scalar
from .policy import Metric, PolicySet

LogEntry = tuple[Instant, int, TicketEvent]
"""(occurred_at, arrival number, event): sorting gives event time order, ties by arrival."""

Standing = tuple[str, SlaEvent]
"""A published event that still holds, with the digest of its content."""

CHECKPOINT_EVERY = 32
"""Events between two copies of the clocks a late event can fold again from."""
KEPT_EVENTS = 128
"""Events kept after the snapshot; past it, all but the newest 64 or so are folded in."""
HELD_EVENTS = 64
"""Events held for a ticket whose ``ticket_created`` has not come (docs/events.md)."""
FOLDED_IDS = 64
"""Ids of events folded into the snapshot kept to drop their duplicates silently."""
MAX_ATTRIBUTES_BYTES = 32 * 1024
"""A ticket's attributes together, as compact JSON in UTF-8 (docs/events.md)."""
_UTC = ZoneInfo("UTC")
_OUTCOME_TYPES = frozenset(
    {SlaEventType.MET, SlaEventType.BREACH, SlaEventType.STOPPED, SlaEventType.CANCELLED}
)


@dataclass(slots=True)
class _Checkpoint:
    position: int  # how many events of the fold order (after the creation) it has applied
    clocks: TicketClocks
    standing: int  # how many standing events the fold had produced by then


def _order_key(entry: LogEntry) -> tuple[Instant, int]:
    return entry[0], entry[1]


class Ticket:
    __slots__ = (  # no per-ticket dictionary: the worker holds every open ticket
        "_attributes",
        "_checkpoints",
        "_created",
        "_order",
        "arrivals",
        "base",
        "base_key",
        "clocks",
        "folded_ids",
        "generation",
        "log",
        "policies",
        "retained",
        "seen",
        "settled",
        "standing",
        "tenant",
        "ticket_id",
        "trims",
    )

    def __init__(self, policies: PolicySet, tenant: str, ticket_id: str) -> None:
        self.policies = policies
        self.tenant = tenant
        self.ticket_id = ticket_id
        self.log: list[LogEntry] = []  # after the snapshot, in arrival order: what is stored
        self.seen: set[str] = set()
        self.standing: list[Standing] = []  # in the order the fold produced them
        self.generation = 0
        self.clocks: TicketClocks | None = None
        self.arrivals = 0  # events taken so far: the arrival number of the next one
        self.base: TicketClocks | None = None  # the snapshot of the forgotten events
        self.base_key: tuple[Instant, int] | None = None  # the last event in it
        self.folded_ids: list[str] = []
        self.retained: dict[tuple[str, int], list[SlaEvent]] = {}
        self.settled: Counter[Outcome] = Counter()
        self.trims = 0  # how often the log lost its oldest entries (for serializers)
        self._created: LogEntry | None = None  # the first ticket_created after the snapshot
        self._order: list[LogEntry] = []  # every other event, in event time order
        self._checkpoints: list[_Checkpoint] = []
        self._attributes: tuple[Mapping[str, Scalar] | None, str] = (None, "")

    @property
    def published(self) -> dict[str, SlaEvent]:
        """The published events that still hold, by id."""
        return {event.event_id: event for _, event in self.standing}

    @property
    def next_due(self) -> Instant | None:
        return self.clocks.next_due() if self.clocks is not None else None

    @property
    def is_created(self) -> bool:
        return self._created is not None or self.base is not None

    @property
    def is_settled(self) -> bool:
        """Nothing left to count: created, no open cycle and nothing due."""
        clocks = self.clocks
        return (
            clocks is not None
            and clocks.next_due() is None
            and not any(cycle.is_open for cycle in clocks.cycles.values())
        )

    def receive(self, event: TicketEvent, now: Instant) -> list[SlaEvent]:
        """Take one event; fire what is due up to ``now``; return what to publish.
        ``InvalidEvent`` (kinds ``too_late``, ``no_ticket``, ``attributes``) refuses an
        event the ticket cannot apply; nothing is changed then."""
        if event.event_id in self.seen:
            return []
        self._check(event)
        self.seen.add(event.event_id)
        entry = (event.occurred_at, self.arrivals, event)
        self.arrivals += 1
        self.log.append(entry)
        out = self._take(entry, now)
        if len(self._order) > KEPT_EVENTS and self.is_created:
            self._trim()
        return out

    def _check(self, event: TicketEvent) -> None:
        if self.base is not None and event.type is EventType.TICKET_CREATED:
            base_created = self.base.created_at
            if base_created is not None and event.occurred_at < base_created:
                raise InvalidEvent(
                    "too late: a ticket_created earlier than the ticket's creation, after "
                    "its oldest events were folded into a snapshot",
                    "too_late",
                )
        if self.base_key is not None and event.occurred_at < self.base_key[0]:
            raise InvalidEvent(
                f"too late: dated before the {KEPT_EVENTS} events kept of its ticket "
                "(their earliest is later), so it can no longer be applied exactly",
                "too_late",
            )
        held = not self.is_created and event.type is not EventType.TICKET_CREATED
        if held and len(self._order) >= HELD_EVENTS:
            raise InvalidEvent(
                f"no ticket: {HELD_EVENTS} events are already held for a ticket whose "
                "ticket_created has not come",
                "no_ticket",
            )
        if event.attributes:
            current = self.clocks.attributes if self.clocks is not None else {}
            merged = {**current, **event.attributes}
            if _most_bytes(merged) <= MAX_ATTRIBUTES_BYTES:
                return  # the exact size (json.dumps: 5 us) cannot be over the limit
            size = _attributes_size(merged)
            if size > MAX_ATTRIBUTES_BYTES:
                raise InvalidEvent(
                    f"attributes too large: the ticket's attributes would take {size} bytes "
                    f"as JSON (limit {MAX_ATTRIBUTES_BYTES}); the ticket keeps its old ones",
                    "attributes",
                )

    def _take(self, entry: LogEntry, now: Instant) -> list[SlaEvent]:
        event = entry[2]
        created = self._created
        if (
            self.base is None
            and event.type is EventType.TICKET_CREATED
            and (created is None or _order_key(entry) < _order_key(created))
        ):
            if created is not None:
                self._insert(created)
            self._created = entry
            return self._fold_from(0, now, event)
        position = self._insert(entry)
        if not self.is_created:
            return []  # held until ticket_created arrives (docs/events.md)
        if self._is_in_order(position, max(event.occurred_at, self._created_at())):
            return self._append(now)
        return self._fold_from(position, now, event)

    def expire_held(self) -> list[TicketEvent]:
        """Give up the events held for a ticket never created (the shell's hold ended)."""
        if self.is_created:
            return []
        held = [entry[2] for entry in self._order]
        self._order.clear()
        self.log.clear()
        return held

    @property
    def held_since(self) -> Instant | None:
        """The earliest event time held for a ticket never created."""
        if self.is_created or not self._order:
            return None
        return self._order[0][0]

    def restore(self, now: Instant) -> list[SlaEvent]:
        """Rebuild the clocks of a ticket loaded from storage; return what is owed: events
        that fell due while nobody was watching, retractions if the policies changed."""
        created = [entry for entry in self.log if entry[2].type is EventType.TICKET_CREATED]
        self._created = min(created, key=_order_key) if created and self.base is None else None
        self._order = sorted(
            (entry for entry in self.log if entry is not self._created), key=_order_key
        )
        self.seen = {entry[2].event_id for entry in self.log} | set(self.folded_ids)
        self._checkpoints.clear()
        if not self.is_created:
            return []
        return self._fold_from(0, now, None)

    def advance(self, now: Instant) -> list[SlaEvent]:
        """Fire the warnings and breaches due up to ``now``."""
        if self.clocks is None:
            return []
        return self._publish(self.clocks.advance(now))

    # -- folding ------------------------------------------------------------------------

    def _insert(self, entry: LogEntry) -> int:
        order = self._order
        last = order[-1] if order else None
        if last is None or last[0] < entry[0] or (last[0] == entry[0] and last[1] < entry[1]):
            order.append(entry)  # in event time, as most events come
            return len(order) - 1
        # (occurred_at, arrival) sorts before the entry itself and after every entry that
        # precedes it: arrival numbers are unique, so no event is ever compared.
        position = bisect_right(order, entry[:2])
        order.insert(position, entry)
        return position

    def _is_in_order(self, position: int, at: Instant) -> bool:
        clocks = self.clocks
        return (
            clocks is not None and position == len(self._order) - 1 and at >= clocks.last_fired_due
        )

    def _created_at(self) -> Instant:
        if self._created is not None:
            return self._created[0]
        assert self.base is not None and self.base.created_at is not None
        return self.base.created_at

    def _effective(self, entry: LogEntry) -> TicketEvent:
        """The event as the fold applies it: one dated before the creation, at the creation."""
        created, event = self._created, entry[2]
        if created is not None and entry[0] >= created[0]:
            return event  # most events, without looking for the creation in the snapshot
        created_at = self._created_at()
        return event if entry[0] >= created_at else replace(event, occurred_at=created_at)

    def _step(self, clocks: TicketClocks, entry: LogEntry) -> list[SlaEvent]:
        event = self._effective(entry)
        out = clocks.advance(event.occurred_at)
        out += clocks.apply(event)
        return out

    def _append(self, now: Instant) -> list[SlaEvent]:
        """The newest event in event time: one step of the fold."""
        clocks = self.clocks
        assert clocks is not None
        out = self._step(clocks, self._order[-1])
        self._checkpoint(len(self._order), clocks, len(self.standing) + len(out))
        out += clocks.advance(now)
        return self._publish(out)

    def _fold_from(
        self, position: int, now: Instant, trigger: TicketEvent | None
    ) -> list[SlaEvent]:
        """Fold again from the last checkpoint at or before ``position`` of the fold order
        (or the snapshot, or the creation)."""
        checkpoints = self._checkpoints
        while checkpoints and checkpoints[-1].position > position:
            checkpoints.pop()
        tail: list[SlaEvent] = []
        if checkpoints:
            start, clocks = checkpoints[-1].position, checkpoints[-1].clocks.copy()
            kept = checkpoints[-1].standing
        elif self.base is not None:
            start, kept, clocks = 0, 0, self.base.copy()
        else:
            assert self._created is not None
            start, kept = 0, 0
            clocks = TicketClocks(self.policies, self.tenant, self.ticket_id)
            tail = clocks.apply(self._created[2])
        for index in range(start, len(self._order)):
            tail += self._step(clocks, self._order[index])
            self._checkpoint(index + 1, clocks, kept + len(tail))
        tail += clocks.advance(now)
        self.clocks = clocks
        return self._reconcile(kept, tail, trigger, now)

    def _checkpoint(self, position: int, clocks: TicketClocks, standing: int) -> None:
        if position % CHECKPOINT_EVERY == 0:
            self._checkpoints.append(_Checkpoint(position, clocks.copy(), standing))

    # -- bounded history ----------------------------------------------------------------

    def _trim(self) -> None:
        """Make the last checkpoint that leaves at least half of ``KEPT_EVENTS`` after it
        the snapshot, and forget the events and published events before it."""
        limit = len(self._order) - KEPT_EVENTS // 2
        chosen = [cp for cp in self._checkpoints if cp.position <= limit]
        if not chosen:
            return
        point = chosen[-1]
        folded, self._order = self._order[: point.position], self._order[point.position :]
        dropped, self.standing = self.standing[: point.standing], self.standing[point.standing :]
        self.base, self.base_key = point.clocks, _order_key(folded[-1])
        self._checkpoints = [
            _Checkpoint(cp.position - point.position, cp.clocks, cp.standing - point.standing)
            for cp in self._checkpoints
            if cp.position > point.position
        ]
        gone = {entry[2].event_id for entry in folded}
        if self._created is not None:
            gone.add(self._created[2].event_id)
            self._created = None
        self.log = [entry for entry in self.log if entry[2].event_id not in gone]
        ids = [entry[2].event_id for entry in folded]
        self.folded_ids = (self.folded_ids + ids)[-FOLDED_IDS:]
        self.seen = {entry[2].event_id for entry in self.log} | set(self.folded_ids)
        self.trims += 1
        self._settle([event for _, event in dropped])

    def _settle(self, dropped: list[SlaEvent]) -> None:
        """Count the outcomes of cycles that can no longer change; keep, for a cycle that
        can (still open, or a resolution that may resume), what decides its outcome."""
        assert self.base is not None
        live = {
            (metric, cycle.number)
            for metric, cycle in self.base.cycles.items()
            if cycle.is_open or metric == Metric.RESOLUTION
        }
        final = [
            e for key in list(self.retained) if key not in live for e in self.retained.pop(key)
        ]
        for event in dropped:
            key = (event.metric, event.cycle)
            if key in live:
                self.retained[key] = _deciding([*self.retained.get(key, ()), event])
            else:
                final.append(event)
        zone_of = self._zone_of
        self.settled.update(outcomes(final, zone_of))

    def _zone_of(self, calendar: str) -> ZoneInfo:
        found = self.policies.calendars.get(calendar)
        return found.zone if found is not None else _UTC

    def outcomes(self) -> list[Outcome]:
        """What the ticket counts for compliance: settled cycles and the rest."""
        found = list(self.settled.elements())
        retained = [event for events in self.retained.values() for event in events]
        found += outcomes([*retained, *(event for _, event in self.standing)], self._zone_of)
        return found

    # -- what is published --------------------------------------------------------------

    def _digest(self, event: SlaEvent) -> str:
        attributes = event.attributes
        if self._attributes[0] is not attributes:  # events share the clocks' attributes
            self._attributes = (attributes, attributes_text(attributes))
        return content_digest(event, self._attributes[1])

    def _publish(self, out: list[SlaEvent]) -> list[SlaEvent]:
        for event in out:
            digest = self._digest(event)
            event.event_id = sla_event_id(digest, self.generation)
            self.standing.append((digest, event))
        return out

    def _reconcile(
        self, kept: int, tail: list[SlaEvent], trigger: TicketEvent | None, now: Instant
    ) -> list[SlaEvent]:
        """Compare the fold's new tail with what stands published after ``kept``: keep what
        is unchanged, retract what no longer holds, publish what is new."""
        waiting = dict(self.standing[kept:])
        standing = self.standing[:kept]
        fresh: list[tuple[int, str, SlaEvent]] = []
        for event in tail:
            digest = self._digest(event)
            old = waiting.pop(digest, None)
            if old is None:
                fresh.append((len(standing), digest, event))
            standing.append((digest, old if old is not None else event))
        retractions = [self._retraction(old, trigger, now) for old in waiting.values()]
        if retractions:
            self.generation += 1  # no id issued before can be issued again
        for index, digest, event in fresh:
            event.event_id = sla_event_id(digest, self.generation)
            standing[index] = (digest, event)
        self.standing = standing
        return retractions + [event for _, _, event in fresh]

    def _retraction(self, old: SlaEvent, trigger: TicketEvent | None, now: Instant) -> SlaEvent:
        return replace(
            old,
            event_id=retraction_id(old.event_id),
            type=SlaEventType.RETRACTED,
            occurred_at=trigger.occurred_at if trigger else now,
            caused_by=trigger.event_id if trigger else None,
            retracted_event_id=old.event_id,
            attributes=self.clocks.attributes if self.clocks else old.attributes,
        )


def _deciding(events: list[SlaEvent]) -> list[SlaEvent]:
    """The events of one cycle that decide its compliance outcome: the last outcome, the
    last ``sla.resumed`` after it, and the last event (whose ``compliance_excluded``
    counts); see ``compliance``."""
    last_outcome = max((i for i, e in enumerate(events) if e.type in _OUTCOME_TYPES), default=None)
    keep = {len(events) - 1}
    if last_outcome is not None:
        keep.add(last_outcome)
        resumed = [
            i for i, e in enumerate(events) if i > last_outcome and e.type is SlaEventType.RESUMED
        ]
        keep.update(resumed[-1:])
    return [events[i] for i in sorted(keep)]


def _most_bytes(attributes: Mapping[str, Scalar]) -> int:
    """An upper bound of ``_attributes_size``: a character takes at most 6 bytes in JSON
    text (``\\u001f``), a float at most 32 characters, braces, quotes, colons and commas
    at most 4 per pair; anything else is not bounded here."""
    bound = 2
    for key, value in attributes.items():
        if type(key) is not str:
            return MAX_ATTRIBUTES_BYTES + 1
        if type(value) is str:
            bound += 6 * (len(key) + len(value)) + 6
        elif type(value) is bool:
            bound += 6 * len(key) + 10
        elif type(value) is int:
            bound += 6 * len(key) + 24 if -(2**63) <= value < 2**63 else MAX_ATTRIBUTES_BYTES
        elif type(value) is float:
            bound += 6 * len(key) + 36
        else:
            return MAX_ATTRIBUTES_BYTES + 1
    return bound


def _attributes_size(attributes: Mapping[str, Scalar]) -> int:
    text = json.dumps(attributes, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode())
