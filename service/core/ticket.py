"""A ticket: its event log, its clocks, and what stands published for it (SPEC §2, §6).

The clocks are a fold of the log in event time: the first ``ticket_created``, then every
other event by ``(occurred_at, arrival)``; an event dated before the creation is applied
right after it, at its instant. Before each event, whatever falls due up to and at its
instant fires (SPEC §5: a deadline reached at the instant of a pause is reached).

An event that arrives in order is applied to the clocks directly. One that arrives late
(earlier than an event already applied, or than a warning or breach already fired) folds
the log again from the last checkpoint before it (a copy of the clocks kept every
``CHECKPOINT_EVERY`` events), so its cost does not grow with the ticket's history. The
new outcome is compared with what stands published, by content: what is unchanged keeps
its id, what no longer holds is retracted (``sla.retracted``), what is new is published.
So what a consumer holds, net of retractions, always equals the in-order fold of every
event received so far, field by field (SPEC §6).

An event's id is the digest of its content while the ticket has retracted nothing, and a
digest of content and *generation* after: each fold that retracts something starts a new
generation, so an id never names two contents and a retracted id never comes back.
"""

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .clocks import TicketClocks
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
from .policy import PolicySet

LogEntry = tuple[Instant, int, TicketEvent]
"""(occurred_at, arrival number, event): sorting gives event time order, ties by arrival."""

Standing = tuple[str, SlaEvent]
"""A published event that still holds, with the digest of its content."""

CHECKPOINT_EVERY = 32
"""Events between two copies of the clocks a late event can fold again from."""


@dataclass(slots=True)
class _Checkpoint:
    position: int  # how many events of the fold order (after the creation) it has applied
    clocks: TicketClocks
    standing: int  # how many standing events the fold had produced by then


def _order_key(entry: LogEntry) -> tuple[Instant, int]:
    return entry[0], entry[1]


class Ticket:
    def __init__(self, policies: PolicySet, tenant: str, ticket_id: str) -> None:
        self.policies = policies
        self.tenant = tenant
        self.ticket_id = ticket_id
        self.log: list[LogEntry] = []  # in arrival order: what is stored
        self.seen: set[str] = set()
        self.standing: list[Standing] = []  # in the order the fold produced them
        self.generation = 0
        self.clocks: TicketClocks | None = None
        self._created: LogEntry | None = None  # the first ticket_created
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

    def receive(self, event: TicketEvent, now: Instant) -> list[SlaEvent]:
        """Take one event; fire what is due up to ``now``; return what to publish."""
        if event.event_id in self.seen:
            return []
        self.seen.add(event.event_id)
        entry = (event.occurred_at, len(self.log), event)
        self.log.append(entry)
        created = self._created
        if event.type is EventType.TICKET_CREATED and (
            created is None or _order_key(entry) < _order_key(created)
        ):
            if created is not None:
                self._insert(created)
            self._created = entry
            return self._fold_from(0, now, event)
        position = self._insert(entry)
        if created is None:
            return []  # held until ticket_created arrives (SPEC §2)
        if self._is_in_order(position, max(event.occurred_at, created[0])):
            return self._append(now)
        return self._fold_from(position, now, event)

    def restore(self, now: Instant) -> list[SlaEvent]:
        """Rebuild the clocks of a ticket loaded from storage; return what is owed: events
        that fell due while nobody was watching, retractions if the policies changed."""
        created = [entry for entry in self.log if entry[2].type is EventType.TICKET_CREATED]
        self._created = min(created, key=_order_key) if created else None
        self._order = sorted(
            (entry for entry in self.log if entry is not self._created), key=_order_key
        )
        self._checkpoints.clear()
        if self._created is None:
            return []
        return self._fold_from(0, now, None)

    def advance(self, now: Instant) -> list[SlaEvent]:
        """Fire the warnings and breaches due up to ``now``."""
        if self.clocks is None:
            return []
        return self._publish(self.clocks.advance(now))

    # -- folding ------------------------------------------------------------------------

    def _insert(self, entry: LogEntry) -> int:
        position = bisect_right(self._order, _order_key(entry), key=_order_key)
        self._order.insert(position, entry)
        return position

    def _is_in_order(self, position: int, at: Instant) -> bool:
        clocks = self.clocks
        return (
            clocks is not None and position == len(self._order) - 1 and at >= clocks.last_fired_due
        )

    def _effective(self, entry: LogEntry) -> TicketEvent:
        """The event as the fold applies it: one dated before the creation, at the creation."""
        assert self._created is not None
        created_at, event = self._created[0], entry[2]
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
        """Fold again from the last checkpoint at or before ``position`` of the fold order."""
        assert self._created is not None
        checkpoints = self._checkpoints
        while checkpoints and checkpoints[-1].position > position:
            checkpoints.pop()
        if checkpoints:
            start, clocks = checkpoints[-1].position, checkpoints[-1].clocks.copy()
            kept, tail = checkpoints[-1].standing, []
        else:
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
