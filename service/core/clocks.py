"""The clocks of one ticket, folded event by event in event time (docs/semantics.md).

``apply`` moves the clocks for one event at its ``occurred_at``; ``advance`` fires the
warnings and breaches that fall due up to an instant. Both return the SLA events they
cause, without ids: ``ticket.Ticket`` keeps history, compares and names what is published.
Nothing here reads a clock.
"""

from collections.abc import Callable

from .cycle import Cycle
from .events import EventType, SlaEvent, SlaEventType, TicketEvent
from .instant import Instant
from .matching import Scalar
from .policy import (
    RESPONSE_METRICS,
    ClockRule,
    Metric,
    OnReopen,
    OnTargetChange,
    Policy,
    PolicySet,
)

_NEVER = -(2**62)
KEPT_STATUSES = 64
"""Status changes remembered to count a clock that starts late from the ticket's creation;
past them, the oldest remembered status is taken to have held since the ones forgotten."""


class TicketClocks:
    def __init__(self, policies: PolicySet, tenant: str, ticket_id: str) -> None:
        self.policies = policies
        self.tenant = tenant
        self.ticket_id = ticket_id
        self.attributes: dict[str, Scalar] = {}  # replaced, never mutated: events share it
        self.facts: dict[str, Scalar] = {"tenant": tenant}
        self._excluded: dict[str, bool] = {}
        self.status = "new"
        self.policy: Policy | None = None
        self.created_at: Instant | None = None
        self.first_responded = False
        self.resolved = False
        self.cycles: dict[str, Cycle] = {}  # the latest cycle of each metric
        self.statuses: list[tuple[Instant, str]] = []  # (since, status), to count owed clocks
        self.last_event_at: Instant = _NEVER
        self.last_fired_due: Instant = _NEVER

    def copy(self) -> "TicketClocks":
        """An independent copy (the ticket's checkpoints): attributes and facts are shared,
        as they are replaced, never mutated."""
        twin = TicketClocks.__new__(TicketClocks)
        for name in _COPIED:
            setattr(twin, name, getattr(self, name))
        twin._excluded = dict(self._excluded)
        twin.cycles = {metric: cycle.copy() for metric, cycle in self.cycles.items()}
        twin.statuses = list(self.statuses)
        return twin

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
        while True:
            cycle = self._earliest_due(until)
            if cycle is None:
                return out
            at, label = cycle.due, cycle.due_label
            assert at is not None
            cycle.fire()
            self.last_fired_due = max(self.last_fired_due, at)
            if label is None:
                out.append(self._event(cycle, SlaEventType.BREACH, at))
            else:
                out.append(self._event(cycle, SlaEventType.WARNING, at, threshold=label))

    def _earliest_due(self, until: Instant) -> Cycle | None:
        best: Cycle | None = None
        best_due = until
        for cycle in self.cycles.values():
            if (
                cycle.due is not None
                and cycle.due <= best_due
                and (best is None or cycle.due < best_due)
            ):
                best, best_due = cycle, cycle.due
        return best

    # -- events -------------------------------------------------------------------------

    def apply(self, event: TicketEvent) -> list[SlaEvent]:
        """Apply one event at its ``occurred_at``; events must come in event-time order."""
        self.last_event_at = max(self.last_event_at, event.occurred_at)
        out: list[SlaEvent] = []
        if event.type is EventType.TICKET_CREATED:
            if self.created_at is None:
                self._create(event, out)
        elif self.created_at is not None:
            self._HANDLERS[event.type](self, event, out)
        if self.policy is not None and self.created_at is not None and self.policy.custom_clocks:
            self._custom_clocks(event, out)
        return out

    def _create(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        self.created_at = event.occurred_at
        self.status = event.status or "new"
        self.statuses.append((event.occurred_at, self.status))
        self._set_attributes(dict(event.attributes))
        self.policy = self.policies.select(self.facts)
        self.resolved = self._is_resolved(self.status)
        if self.policy is None or self.resolved:
            return
        for rule in self.policy.clocks:
            if rule.metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
                self._start(rule, event, out)

    def _first_response(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        # The first public reply for every clock (docs/semantics.md), unless automated: an automated
        # acknowledgement is no response.
        if not event.automated:
            self._reply(event, out)

    def _agent_reply(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        if event.is_answer:
            self._reply(event, out)

    def _reply(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        """A reply that answers the customer: stops the response clocks, and periodic
        updates start over."""
        self._answer(event, out)
        self._stop(Metric.NEXT_RESPONSE, event, out)
        self._stop(Metric.PERIODIC_UPDATE, event, out)
        rule = self.policy.rule(Metric.PERIODIC_UPDATE) if self.policy else None
        if rule is not None and not self.resolved:
            self._start(rule, event, out)

    def _answer(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        if not self.first_responded:
            self.first_responded = True
            self._stop(Metric.FIRST_RESPONSE, event, out)

    def _customer_reply(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        rule = self.policy.rule(Metric.NEXT_RESPONSE) if self.policy else None
        current = self.cycles.get(Metric.NEXT_RESPONSE)
        if rule is None or not self.first_responded or self.resolved:
            return
        if current is None or not current.is_open:
            self._start(rule, event, out)

    def _status_change(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        self.status = event.status or self.status
        self.statuses.append((event.occurred_at, self.status))
        if len(self.statuses) > KEPT_STATUSES:  # the oldest status now starts earlier
            (since, _), (_, status) = self.statuses[0], self.statuses[1]
            self.statuses[:2] = [(since, status)]
        resolved = self._is_resolved(self.status)
        if resolved and not self.resolved:
            self.resolved = True
            self._on_resolved(event, out)
        elif self.resolved and not resolved:
            self.resolved = False
            self._on_reopened(event, out)
        self._sync_pauses(event, out)

    def _on_resolved(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        self._stop(Metric.RESOLUTION, event, out)
        for metric in RESPONSE_METRICS:
            cycle = self.cycles.get(metric)
            if cycle is not None and cycle.is_open:
                self._cancel(cycle, event, out)

    def _on_reopened(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        """docs/semantics.md reopen: ``resume`` continues a met or stopped resolution cycle on the
        target that applies now; ``new_cycle`` starts one. A cancelled cycle stays
        cancelled; whatever is owed and not running starts as ``_start_owed`` says."""
        if self.policy is None:
            return
        rule = self.policy.rule(Metric.RESOLUTION)
        cycle = self.cycles.get(Metric.RESOLUTION)
        target = rule.select_target(self.facts) if rule is not None else None
        if rule is not None and target is not None and (cycle is None or not cycle.is_open):
            if rule.on_reopen is OnReopen.NEW_CYCLE:
                self._start(rule, event, out)
            elif cycle is not None and cycle.closed in ("met", "stopped"):
                cycle.reopen(event.occurred_at, target, rule, self.policy)
                out.append(self._event(cycle, SlaEventType.RESUMED, event.occurred_at, event))
        self._start_owed(event, out)

    def _attribute_change(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        self._set_attributes({**self.attributes, **event.attributes})
        policy = self.policies.select(self.facts)
        if policy is not self.policy:
            self._switch_policy(policy, event, out)
        else:
            self._retarget_all(event, out)
        self._sync_pauses(event, out)

    _HANDLERS: dict[EventType, Callable[["TicketClocks", TicketEvent, list[SlaEvent]], None]] = {
        EventType.FIRST_RESPONSE: _first_response,
        EventType.AGENT_REPLY: _agent_reply,
        EventType.CUSTOMER_REPLY: _customer_reply,
        EventType.STATUS_CHANGE: _status_change,
        EventType.ATTRIBUTE_CHANGE: _attribute_change,
    }

    # -- policy and target changes ------------------------------------------------------

    def _retarget_all(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        for cycle in list(self.cycles.values()):
            if cycle.is_open:
                self._retarget(cycle, cycle.rule, event, out)
        self._start_owed(event, out)

    def _start_owed(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        """Start a first response or resolution that is owed and not running: no target
        matched until now (the category was set after creation), the one that ran was
        cancelled and a target applies again, or the ticket reopened unanswered. Nothing
        starts on a resolved ticket (docs/semantics.md)."""
        if self.policy is None or self.resolved:
            return
        for rule in self.policy.clocks:
            if rule.metric == Metric.FIRST_RESPONSE:
                owed = not self.first_responded
            else:
                owed = rule.metric == Metric.RESOLUTION
            current = self.cycles.get(rule.metric)
            if not owed or (current is not None and current.is_open):
                continue
            if rule.select_target(self.facts) is None:
                continue
            if rule.on_target_change is OnTargetChange.RESTART:
                self._start(rule, event, out)
            else:
                self._start_recomputed(rule, current, event, out)

    def _start_recomputed(
        self, rule: ClockRule, previous: Cycle | None, event: TicketEvent, out: list[SlaEvent]
    ) -> None:
        """``recompute`` for a clock that starts at creation: the cycle keeps the start of
        the clock (the ticket's creation, or the start of the cycle that ended) and counts
        the business time the ticket was open (and, if pausable, not paused) since then."""
        assert self.policy is not None and self.created_at is not None
        target = rule.select_target(self.facts)
        assert target is not None
        origin = previous.started_at if previous is not None else self.created_at
        at, counted = event.occurred_at, 0
        bounds = [*self.statuses[1:], (at, self.status)]
        for (start, status), (end, _) in zip(self.statuses, bounds, strict=True):
            paused = rule.pausable and status in self.policy.pause_statuses
            if end > origin and not paused and not self._is_resolved(status):
                counted += target.calendar.between(max(start, origin), min(end, at))
        number = previous.number + 1 if previous is not None else 1
        self._open(Cycle(rule, self.policy, number, target, origin, at, counted), event, out)

    def _retarget(
        self, cycle: Cycle, rule: ClockRule, event: TicketEvent, out: list[SlaEvent]
    ) -> None:
        """Target change (docs/semantics.md): ``recompute`` keeps start and elapsed,
        ``restart`` starts anew."""
        assert self.policy is not None
        target = rule.select_target(self.facts)
        if target is cycle.target and rule is cycle.rule:
            return
        if target is None:
            self._cancel(cycle, event, out)
        elif rule.on_target_change is OnTargetChange.RESTART:
            self._cancel(cycle, event, out)
            self._start(rule, event, out)
        else:
            cycle.retarget(event.occurred_at, target, rule, self.policy)

    def _switch_policy(
        self, policy: Policy | None, event: TicketEvent, out: list[SlaEvent]
    ) -> None:
        """Another policy now matches: shared metrics re-target, the rest start or cancel."""
        self.policy = policy
        rules = {rule.metric: rule for rule in policy.clocks} if policy else {}
        for metric, cycle in list(self.cycles.items()):
            if not cycle.is_open:
                continue
            if metric in rules:
                self._retarget(cycle, rules[metric], event, out)
            else:
                self._cancel(cycle, event, out)
        self._start_owed(event, out)

    # -- custom clocks ------------------------------------------------------------------

    def _custom_clocks(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        assert self.policy is not None
        fields = event.fields()
        for rule in self.policy.custom_clocks:
            cycle = self.cycles.get(rule.metric)
            if cycle is not None and cycle.is_open:
                if any(
                    c.fits(event.type, fields, self.attributes, event.attributes)
                    for c in rule.stop_on
                ):
                    self._stop(rule.metric, event, out)
            elif not self.resolved and any(
                c.fits(event.type, fields, self.attributes, event.attributes) for c in rule.start_on
            ):
                self._start(rule, event, out)

    # -- cycle transitions --------------------------------------------------------------

    def _start(self, rule: ClockRule, event: TicketEvent, out: list[SlaEvent]) -> None:
        assert self.policy is not None
        target = rule.select_target(self.facts)
        if target is None:
            return
        previous = self.cycles.get(rule.metric)
        at = event.occurred_at
        number = (previous.number + 1) if previous else 1
        self._open(Cycle(rule, self.policy, number, target, at, at), event, out)

    def _open(self, cycle: Cycle, event: TicketEvent, out: list[SlaEvent]) -> None:
        """Install a new cycle, announce it, and pause it at once if the status says so."""
        at = event.occurred_at
        self.cycles[cycle.metric] = cycle
        cycle.refresh_due()
        out.append(self._event(cycle, SlaEventType.STARTED, at, event))
        if self._should_pause(cycle.rule):
            cycle.pause(at)
            out.append(self._event(cycle, SlaEventType.PAUSED, at, event))

    def _stop(self, metric: str, event: TicketEvent, out: list[SlaEvent]) -> None:
        cycle = self.cycles.get(metric)
        if cycle is None or not cycle.is_open:
            return
        kind = SlaEventType.STOPPED if cycle.breached else SlaEventType.MET
        deadline = cycle.deadline()
        cycle.close(event.occurred_at, kind.removeprefix("sla."))
        out.append(self._event(cycle, kind, event.occurred_at, event, deadline=deadline))

    def _cancel(self, cycle: Cycle, event: TicketEvent, out: list[SlaEvent]) -> None:
        """No longer applies; a breached cycle stays counted as breached (``stopped``)."""
        if cycle.breached:
            self._stop(cycle.metric, event, out)
            return
        deadline = cycle.deadline()
        cycle.close(event.occurred_at, "cancelled")
        out.append(
            self._event(cycle, SlaEventType.CANCELLED, event.occurred_at, event, deadline=deadline)
        )

    def _sync_pauses(self, event: TicketEvent, out: list[SlaEvent]) -> None:
        for cycle in self.cycles.values():
            if not cycle.is_open or cycle.paused == self._should_pause(cycle.rule):
                continue
            if cycle.paused:
                cycle.resume(event.occurred_at)
                out.append(self._event(cycle, SlaEventType.RESUMED, event.occurred_at, event))
            else:
                cycle.pause(event.occurred_at)
                out.append(self._event(cycle, SlaEventType.PAUSED, event.occurred_at, event))

    def _should_pause(self, rule: ClockRule) -> bool:
        return (
            rule.pausable and self.policy is not None and self.status in self.policy.pause_statuses
        )

    def _is_resolved(self, status: str) -> bool:
        return self.policy is not None and status in self.policy.resolved_statuses

    def _set_attributes(self, attributes: dict[str, Scalar]) -> None:
        self.attributes = attributes
        self.facts = {**attributes, "tenant": self.tenant}
        self._excluded.clear()

    def _is_excluded(self, policy: Policy) -> bool:
        """Whether the policy's compliance excludes this ticket (cached until attributes change)."""
        excluded = self._excluded.get(policy.name)
        if excluded is None:
            compliance = policy.compliance
            excluded = compliance is not None and compliance.excludes(self.facts)
            self._excluded[policy.name] = excluded
        return excluded

    # -- output -------------------------------------------------------------------------

    def _event(
        self,
        cycle: Cycle,
        kind: SlaEventType,
        at: Instant,
        cause: TicketEvent | None = None,
        *,
        threshold: str | None = None,
        deadline: Instant | None = None,
    ) -> SlaEvent:
        return SlaEvent(
            event_id="",  # named by the ticket, from the content (``events.sla_event_id``)
            type=kind,
            tenant=self.tenant,
            ticket_id=self.ticket_id,
            policy=cycle.policy.name,
            policy_version=cycle.policy.version,
            metric=cycle.metric,
            cycle=cycle.number,
            calendar=cycle.target.calendar.name,
            target=cycle.target.breach_after,
            deadline=deadline if deadline is not None else cycle.deadline(),
            occurred_at=at,
            elapsed=cycle.elapsed(at),
            attributes=self.attributes,
            threshold=threshold,
            caused_by=cause.event_id if cause is not None else None,
            compliance_excluded=self._is_excluded(cycle.policy),
        )


_COPIED = (
    "policies",
    "tenant",
    "ticket_id",
    "attributes",
    "facts",
    "status",
    "policy",
    "created_at",
    "first_responded",
    "resolved",
    "last_event_at",
    "last_fired_due",
)
