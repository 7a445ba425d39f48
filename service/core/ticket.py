"""A ticket: its event log, its clocks, and what has been published for it (SPEC §2, §6).

The clocks are a fold of the log in event time. An event that arrives in order is
applied to the clocks directly. One that arrives late (earlier than an event already
applied, or than a warning or breach already fired) makes the ticket fold its whole log
again; the new outcome is compared with what was published, new events are published
and published ones the new outcome no longer contains are retracted (``sla.retracted``).
So what a consumer has seen, net of retractions, always equals the fold of every event
received so far.
"""

from dataclasses import replace

from .clocks import TicketClocks
from .events import EventType, SlaEvent, SlaEventType, TicketEvent, sla_event_id
from .instant import Instant
from .policy import PolicySet

LogEntry = tuple[Instant, int, TicketEvent]
"""(occurred_at, arrival number, event): sorting gives event time order, ties by arrival."""


class Ticket:
    def __init__(self, policies: PolicySet, tenant: str, ticket_id: str) -> None:
        self.policies = policies
        self.tenant = tenant
        self.ticket_id = ticket_id
        self.log: list[LogEntry] = []
        self.seen: set[str] = set()
        self.published: dict[str, SlaEvent] = {}
        self.clocks: TicketClocks | None = None

    @property
    def next_due(self) -> Instant | None:
        return self.clocks.next_due() if self.clocks is not None else None

    def receive(self, event: TicketEvent, now: Instant) -> list[SlaEvent]:
        """Take one event; fire what is due up to ``now``; return what to publish."""
        if event.event_id in self.seen:
            return []
        self.seen.add(event.event_id)
        self.log.append((event.occurred_at, len(self.log), event))
        clocks = self.clocks
        if clocks is not None and self._is_in_order(clocks, event):
            out = clocks.advance(event.occurred_at - 1)
            out += clocks.apply(event)
            out += clocks.advance(now)
            return self._publish(out)
        return self._refold(now, event)

    def restore(self, now: Instant) -> list[SlaEvent]:
        """Rebuild the clocks of a ticket loaded from storage; return what is owed: events
        that fell due while nobody was watching, retractions if the policies changed."""
        return self._refold(now, None)

    def advance(self, now: Instant) -> list[SlaEvent]:
        """Fire the warnings and breaches due up to ``now``."""
        if self.clocks is None:
            return []
        return self._publish(self.clocks.advance(now))

    @staticmethod
    def _is_in_order(clocks: TicketClocks, event: TicketEvent) -> bool:
        return (
            event.type is not EventType.TICKET_CREATED
            and event.occurred_at >= clocks.last_event_at
            and event.occurred_at > clocks.last_fired_due
        )

    def _publish(self, out: list[SlaEvent]) -> list[SlaEvent]:
        for sla_event in out:
            self.published[sla_event.event_id] = sla_event
        return out

    def fold(self, now: Instant) -> tuple[TicketClocks | None, list[SlaEvent]]:
        """The clocks and every SLA event of the whole log, as of ``now``."""
        ordered = sorted(self.log, key=lambda entry: (entry[0], entry[1]))
        first = next(
            (i for i, e in enumerate(ordered) if e[2].type is EventType.TICKET_CREATED), None
        )
        if first is None:
            return None, []  # held until ticket_created arrives (SPEC §2)
        created_at = ordered[first][0]
        # Events dated before the ticket's creation are applied right after it, at it.
        early = [replace(entry[2], occurred_at=created_at) for entry in ordered[:first]]
        events = [ordered[first][2], *early, *(entry[2] for entry in ordered[first + 1 :])]
        clocks = TicketClocks(self.policies, self.tenant, self.ticket_id)
        out: list[SlaEvent] = []
        for event in events:
            out += clocks.advance(event.occurred_at - 1)
            out += clocks.apply(event)
        out += clocks.advance(now)
        return clocks, out

    def _refold(self, now: Instant, trigger: TicketEvent | None) -> list[SlaEvent]:
        self.clocks, outcome = self.fold(now)
        current = {sla_event.event_id: sla_event for sla_event in outcome}
        retractions = [
            self._retraction(old, trigger, now)
            for event_id, old in self.published.items()
            if event_id not in current
        ]
        fresh = [sla_event for sla_event in outcome if sla_event.event_id not in self.published]
        self.published = current
        return retractions + fresh

    def _retraction(self, old: SlaEvent, trigger: TicketEvent | None, now: Instant) -> SlaEvent:
        return replace(
            old,
            event_id=sla_event_id(
                self.tenant,
                self.ticket_id,
                old.metric,
                old.cycle,
                kind=SlaEventType.RETRACTED,
                detail=old.event_id,
            ),
            type=SlaEventType.RETRACTED,
            occurred_at=trigger.occurred_at if trigger else now,
            caused_by=trigger.event_id if trigger else None,
            retracted_event_id=old.event_id,
            attributes=self.clocks.attributes if self.clocks else old.attributes,
        )
