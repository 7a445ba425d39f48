"""The clocks of one ticket, folded event by event in event time (docs/semantics.md).

``apply`` moves the clocks for one event at its ``occurred_at``; ``advance`` fires the
warnings and breaches that fall due up to an instant. Both return the SLA events they
cause, without ids: ``ticket.Ticket`` keeps history, compares and names what is published.
Nothing here reads a clock.

``TicketClocks`` dispatches. Each step returns the SLA events it makes, in order, and its
caller appends them; an event's path reads top-down, each step in one module:

    apply(event)                                              clocks.py
    ├─ ticket_created      _create: start first response and resolution
    ├─ first_response,     _reply: first response met, next response and periodic
    │  agent_reply           update stopped, periodic update started over
    ├─ customer_reply      _customer_reply: start next response
    ├─ status_change       _status_change
    │  ├─ resolved:          _on_resolved: stop resolution, cancel the response clocks
    │  ├─ reopened:          _on_reopened: resume resolution or start a new cycle,
    │  │                     then owed.start_owed                 owed.py
    │  └─ sync_pauses        pause or resume as the status says
    ├─ attribute_change    _attribute_change
    │  ├─ same policy:       retarget.retarget_all                retarget.py
    │  ├─ another policy:    switch.switch_policy                 switch.py
    │  │                       (shared metrics via retarget.retarget, the rest cancelled)
    │  ├─ owed.start_owed                                         owed.py
    │  └─ sync_pauses
    └─ any event           _custom_clocks: start and stop the policy's custom clocks

Every step changes cycles through the transitions of ``transitions.ClockState`` (start,
open_cycle, stop, cancel, sync_pauses), which build each SLA event (``announce``) on
``cycle.Cycle``'s arithmetic: calls go from here down to the steps, to the transitions, to the
cycle, and never back up.
"""

from collections.abc import Callable

from .cycle import Cycle
from .events import EventType, SlaEvent, SlaEventType, TicketEvent
from .instant import Instant
from .owed import start_owed
from .policy import RESPONSE_METRICS, Metric, OnReopen
from .retarget import retarget_all
from .switch import switch_policy
from .transitions import ClockState

# Enum members read on the path of every event, bound once: in Python 3.11 reading a member
# from its class goes through ``EnumType.__getattr__`` (about 100 ns each, measured).
FIRST_RESPONSE, NEXT_RESPONSE = Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE
PERIODIC_UPDATE, RESOLUTION = Metric.PERIODIC_UPDATE, Metric.RESOLUTION
STARTED_AT_CREATION = (FIRST_RESPONSE, RESOLUTION)


class TicketClocks(ClockState):
    """A ticket's clocks: its state and transitions (``ClockState``), and the steps each
    event and each due instant take."""

    __slots__ = ()

    # -- time ---------------------------------------------------------------------------

    def next_due(self) -> Instant | None:
        earliest: Instant | None = None
        for cycle in self.cycles.values():
            due = cycle.due
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        return earliest

    def advance(self, until: Instant) -> list[SlaEvent]:
        """Fire every warning and breach due at or before ``until``, in due order."""
        out: list[SlaEvent] = []
        while (cycle := self._earliest_due(until)) is not None:
            at, label = cycle.due, cycle.due_label
            assert at is not None
            cycle.fire()
            self.last_fired_due = max(self.last_fired_due, at)
            if label is None:
                out.append(self.announce(cycle, SlaEventType.BREACH, at))
            else:
                out.append(self.announce(cycle, SlaEventType.WARNING, at, threshold=label))
        return out

    def _earliest_due(self, until: Instant) -> Cycle | None:
        """The first cycle with the earliest due instant at or before ``until``."""
        best: Cycle | None = None
        best_due = until
        for cycle in self.cycles.values():
            due = cycle.due
            if due is not None and due <= best_due and (best is None or due < best_due):
                best, best_due = cycle, due
        return best

    # -- events -------------------------------------------------------------------------

    def apply(self, event: TicketEvent) -> list[SlaEvent]:
        """Apply one event at its ``occurred_at``; events must come in event-time order."""
        self.last_event_at = max(self.last_event_at, event.occurred_at)
        if self.created_at is not None:
            out = self._HANDLERS[event.type](self, event)
        elif event.type is EventType.TICKET_CREATED:
            out = self._create(event)
        else:
            out = []  # nothing runs before the ticket's creation
        policy = self.policy
        if policy is not None and policy.custom_clocks and self.created_at is not None:
            out += self._custom_clocks(event)
        return out

    def _create(self, event: TicketEvent) -> list[SlaEvent]:
        self.created_at = event.occurred_at
        self.set_status(event.occurred_at, event.status or "new")
        self.set_attributes(dict(event.attributes))
        self.policy = self.policies.select(self.facts)
        self.resolved = self.is_resolved(self.status)
        if self.policy is None or self.resolved:
            return []
        out: list[SlaEvent] = []
        for rule in self.policy.clocks:
            if rule.metric in STARTED_AT_CREATION:
                out += self.start(rule, event)
        return out

    def _first_response(self, event: TicketEvent) -> list[SlaEvent]:
        # The first public reply for every clock (docs/semantics.md), unless automated: an automated
        # acknowledgement is no response.
        return self._reply(event) if not event.automated else []

    def _agent_reply(self, event: TicketEvent) -> list[SlaEvent]:
        return self._reply(event) if event.is_answer else []

    def _reply(self, event: TicketEvent) -> list[SlaEvent]:
        """A reply that answers the customer: stops the response clocks, and periodic
        updates start over."""
        out = self._answer(event)
        out += self.stop(NEXT_RESPONSE, event)
        out += self.stop(PERIODIC_UPDATE, event)
        rule = self.policy.rule(PERIODIC_UPDATE) if self.policy else None
        if rule is not None and not self.resolved:
            out += self.start(rule, event)
        return out

    def _answer(self, event: TicketEvent) -> list[SlaEvent]:
        if self.first_responded:
            return []
        self.first_responded = True
        return self.stop(FIRST_RESPONSE, event)

    def _customer_reply(self, event: TicketEvent) -> list[SlaEvent]:
        rule = self.policy.rule(NEXT_RESPONSE) if self.policy else None
        current = self.cycles.get(NEXT_RESPONSE)
        if rule is None or not self.first_responded or self.resolved:
            return []
        if current is None or not current.is_open:
            return self.start(rule, event)
        return []

    def _status_change(self, event: TicketEvent) -> list[SlaEvent]:
        self.set_status(event.occurred_at, event.status or self.status)
        resolved = self.is_resolved(self.status)
        if resolved and not self.resolved:
            self.resolved = True
            out = self._on_resolved(event)
        elif self.resolved and not resolved:
            self.resolved = False
            out = self._on_reopened(event)
            out += start_owed(self, event)
        else:
            out = []
        out += self.sync_pauses(event)
        return out

    def _on_resolved(self, event: TicketEvent) -> list[SlaEvent]:
        out = self.stop(RESOLUTION, event)
        for metric in RESPONSE_METRICS:
            cycle = self.cycles.get(metric)
            if cycle is not None and cycle.is_open:
                out += self.cancel(cycle, event)
        return out

    def _on_reopened(self, event: TicketEvent) -> list[SlaEvent]:
        """docs/semantics.md reopen: ``resume`` continues a met or stopped resolution cycle on the
        target that applies now; ``new_cycle`` starts one. A cancelled cycle stays
        cancelled; whatever is owed and not running starts next (``owed``)."""
        if self.policy is None:
            return []
        rule = self.policy.rule(RESOLUTION)
        cycle = self.cycles.get(RESOLUTION)
        target = rule.select_target(self.facts) if rule is not None else None
        if rule is None or target is None or (cycle is not None and cycle.is_open):
            return []
        if rule.on_reopen is OnReopen.NEW_CYCLE:
            return self.start(rule, event)
        if cycle is not None and cycle.closed in ("met", "stopped"):
            cycle.reopen(event.occurred_at, target, rule, self.policy)
            return [self.announce(cycle, SlaEventType.RESUMED, event.occurred_at, event)]
        return []

    def _attribute_change(self, event: TicketEvent) -> list[SlaEvent]:
        self.set_attributes({**self.attributes, **event.attributes})
        policy = self.policies.select(self.facts)
        if policy is not self.policy:
            out = switch_policy(self, policy, event)
        else:
            out = retarget_all(self, event)
        out += start_owed(self, event)
        out += self.sync_pauses(event)
        return out

    def _created_again(self, event: TicketEvent) -> list[SlaEvent]:
        return []  # the first ticket_created counts

    _HANDLERS: dict[EventType, Callable[["TicketClocks", TicketEvent], list[SlaEvent]]] = {
        EventType.TICKET_CREATED: _created_again,
        EventType.FIRST_RESPONSE: _first_response,
        EventType.AGENT_REPLY: _agent_reply,
        EventType.CUSTOMER_REPLY: _customer_reply,
        EventType.STATUS_CHANGE: _status_change,
        EventType.ATTRIBUTE_CHANGE: _attribute_change,
    }

    def _custom_clocks(self, event: TicketEvent) -> list[SlaEvent]:
        assert self.policy is not None
        fields = event.fields()
        out: list[SlaEvent] = []
        for rule in self.policy.custom_clocks:
            cycle = self.cycles.get(rule.metric)
            if cycle is not None and cycle.is_open:
                if any(
                    c.fits(event.type, fields, self.attributes, event.attributes)
                    for c in rule.stop_on
                ):
                    out += self.stop(rule.metric, event)
            elif not self.resolved and any(
                c.fits(event.type, fields, self.attributes, event.attributes) for c in rule.start_on
            ):
                out += self.start(rule, event)
        return out
