"""What every step of a ticket's clocks shares (docs/semantics.md): the ticket's state as the
clocks see it, and the transitions of its cycles (start, stop, cancel, pause, resume), each
returning the SLA events it makes.

The steps (``clocks``, ``retarget``, ``owed``, ``switch``) change cycles only through these
transitions, so every SLA event a ticket's clocks make is built here, by ``announce``.
"""

from dataclasses import fields
from typing import Self

from .cycle import Cycle
from .events import SlaEvent, SlaEventType, TicketEvent
from .instant import Instant
from .matching import Scalar
from .policy import ClockRule, Policy, PolicySet

_NEVER = -(2**62)
KEPT_STATUSES = 64
"""Status changes remembered to count a clock that starts late from the ticket's creation;
past them, the oldest remembered status is taken to have held since the ones forgotten."""

# Enum members bound once: in Python 3.11 reading a member from its class goes through
# ``EnumType.__getattr__`` (about 100 ns each, measured), and these are read for most events.
STARTED, PAUSED, RESUMED = SlaEventType.STARTED, SlaEventType.PAUSED, SlaEventType.RESUMED
MET, STOPPED, CANCELLED = SlaEventType.MET, SlaEventType.STOPPED, SlaEventType.CANCELLED

# ``announce`` builds SlaEvent positionally: with keywords, its 18-field constructor costs
# about three times as much (measured), and it runs for every SLA event. Its field order is
# pinned here, so a change to it fails at import instead of swapping two fields.
_SLA_EVENT_ORDER = (
    "event_id type tenant ticket_id policy policy_version metric cycle calendar target "
    "deadline occurred_at elapsed attributes threshold caused_by retracted_event_id "
    "compliance_excluded "
)
if not "".join(f"{f.name} " for f in fields(SlaEvent)).startswith(_SLA_EVENT_ORDER):
    raise TypeError(f"SlaEvent's fields no longer start {_SLA_EVENT_ORDER}: fix announce")


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


class ClockState:
    """One ticket's state as its clocks see it, and the transitions of its cycles."""

    # Slots: a ticket holds its clocks and a copy per checkpoint, so a per-object
    # dictionary (about 100 bytes each) is worth saving.
    __slots__ = (*_COPIED, "_excluded", "cycles", "statuses")

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

    def copy(self) -> Self:
        """An independent copy (the ticket's checkpoints): attributes and facts are shared,
        as they are replaced, never mutated."""
        twin = type(self).__new__(type(self))
        for name in _COPIED:
            setattr(twin, name, getattr(self, name))
        twin._excluded = dict(self._excluded)
        twin.cycles = {metric: cycle.copy() for metric, cycle in self.cycles.items()}
        twin.statuses = list(self.statuses)
        return twin

    # -- the ticket -----------------------------------------------------------------------

    def set_status(self, at: Instant, status: str) -> None:
        self.status = status
        self.statuses.append((at, status))
        if len(self.statuses) > KEPT_STATUSES:  # the oldest status now starts earlier
            (since, _), (_, second) = self.statuses[0], self.statuses[1]
            self.statuses[:2] = [(since, second)]

    def set_attributes(self, attributes: dict[str, Scalar]) -> None:
        self.attributes = attributes
        self.facts = {**attributes, "tenant": self.tenant}
        self._excluded.clear()

    def is_resolved(self, status: str) -> bool:
        return self.policy is not None and status in self.policy.resolved_statuses

    def should_pause(self, rule: ClockRule) -> bool:
        return (
            rule.pausable and self.policy is not None and self.status in self.policy.pause_statuses
        )

    # -- cycle transitions ----------------------------------------------------------------

    def start(self, rule: ClockRule, event: TicketEvent) -> list[SlaEvent]:
        """A new cycle of the rule's metric from the event on, if one of its targets applies."""
        assert self.policy is not None
        target = rule.select_target(self.facts)
        if target is None:
            return []
        previous = self.cycles.get(rule.metric)
        at = event.occurred_at
        number = (previous.number + 1) if previous else 1
        return self.open_cycle(Cycle(rule, self.policy, number, target, at, at), event)

    def open_cycle(self, cycle: Cycle, event: TicketEvent) -> list[SlaEvent]:
        """Install a new cycle, announce it, and pause it at once if the status says so."""
        at = event.occurred_at
        self.cycles[cycle.metric] = cycle
        cycle.refresh_due()
        started = self.announce(cycle, STARTED, at, event)
        if not self.should_pause(cycle.rule):
            return [started]
        cycle.pause(at)
        return [started, self.announce(cycle, PAUSED, at, event)]

    def stop(self, metric: str, event: TicketEvent) -> list[SlaEvent]:
        """The open cycle of the metric ends: met, or stopped once breached."""
        cycle = self.cycles.get(metric)
        if cycle is None or not cycle.is_open:
            return []
        kind, outcome = (STOPPED, "stopped") if cycle.breached else (MET, "met")
        deadline = cycle.deadline()
        cycle.close(event.occurred_at, outcome)
        return [self.announce(cycle, kind, event.occurred_at, event, deadline=deadline)]

    def cancel(self, cycle: Cycle, event: TicketEvent) -> list[SlaEvent]:
        """No longer applies; a breached cycle stays counted as breached (``stopped``)."""
        if cycle.breached:
            return self.stop(cycle.metric, event)
        deadline = cycle.deadline()
        cycle.close(event.occurred_at, "cancelled")
        return [self.announce(cycle, CANCELLED, event.occurred_at, event, deadline=deadline)]

    def sync_pauses(self, event: TicketEvent) -> list[SlaEvent]:
        """Pause or resume each open cycle as the status now says."""
        out: list[SlaEvent] = []
        at = event.occurred_at
        for cycle in self.cycles.values():
            if not cycle.is_open or cycle.paused == self.should_pause(cycle.rule):
                continue
            if cycle.paused:
                cycle.resume(at)
                out.append(self.announce(cycle, RESUMED, at, event))
            else:
                cycle.pause(at)
                out.append(self.announce(cycle, PAUSED, at, event))
        return out

    # -- output ---------------------------------------------------------------------------

    def announce(
        self,
        cycle: Cycle,
        kind: SlaEventType,
        at: Instant,
        cause: TicketEvent | None = None,
        *,
        threshold: str | None = None,
        deadline: Instant | None = None,
    ) -> SlaEvent:
        """The SLA event of ``cycle`` at ``at``, without an id: the ticket names it from its
        content (``events.sla_event_id``)."""
        policy, target = cycle.policy, cycle.target
        excluded = self._excluded.get(policy.name)
        if excluded is None:
            excluded = self._exclude(policy)
        return SlaEvent(
            "",  # event_id
            kind,  # type
            self.tenant,
            self.ticket_id,
            policy.name,
            policy.version,
            cycle.rule.metric,
            cycle.number,  # cycle
            target.calendar.name,  # calendar
            target.breach_after,  # target
            deadline if deadline is not None else cycle.deadline(),
            at,  # occurred_at
            cycle.elapsed(at),
            self.attributes,
            threshold,
            cause.event_id if cause is not None else None,  # caused_by
            None,  # retracted_event_id
            excluded,  # compliance_excluded
        )

    def _exclude(self, policy: Policy) -> bool:
        """Whether the policy's compliance excludes this ticket, kept in ``_excluded`` until
        the attributes change."""
        compliance = policy.compliance
        excluded = compliance is not None and compliance.excludes(self.facts)
        self._excluded[policy.name] = excluded
        return excluded
