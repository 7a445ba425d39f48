"""What a report shows: per policy, metric and month the counted cycles against the policy's
compliance target, and the breaches behind them (docs/semantics.md compliance)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from service.core.compliance import Row, Tally, Verdict, verdicts
from service.core.events import SlaEvent, SlaEventType
from service.core.instant import Instant
from service.core.policy import PolicySet


@dataclass(frozen=True, slots=True)
class Line:
    """One policy, metric and month: its counts and the policy's target (a ratio)."""

    row: Row
    target: float | None

    @property
    def is_under_target(self) -> bool:
        return self.target is not None and not self.row.meets(self.target)


@dataclass(frozen=True, slots=True)
class Breach:
    """A cycle counted as breached."""

    tenant: str
    ticket_id: str
    policy: str
    metric: str
    cycle: int
    month: str
    deadline: Instant
    zone: tzinfo  # the cycle calendar's, to show times in
    stopped_at: Instant | None  # None while the cycle is still open
    late: int | None  # business microseconds counted past the target when it was stopped


@dataclass
class Report:
    lines: list[Line]
    breaches: list[Breach]
    targets: dict[str, float | None]
    notes: list[str] = field(default_factory=list)  # what the reader should know

    @property
    def policies(self) -> list[str]:
        return sorted({line.row.policy for line in self.lines})

    @property
    def months(self) -> list[str]:
        return sorted({line.row.month for line in self.lines})

    def lines_of(self, policy: str) -> list[Line]:
        return [line for line in self.lines if line.row.policy == policy]

    def breaches_of(self, policy: str) -> list[Breach]:
        return [breach for breach in self.breaches if breach.policy == policy]


class Zones:
    """Calendar zones from the policies; a calendar they lack counts in UTC, noted once."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.unknown: set[str] = set()

    def __call__(self, calendar: str) -> tzinfo:
        found = self.policies.calendars.get(calendar)
        if found is None:
            self.unknown.add(calendar)
            return UTC
        return found.zone


def build_report(standing: Iterable[SlaEvent], policies: PolicySet) -> Report:
    """The report of the events still standing (published, not retracted)."""
    zones = Zones(policies)
    return report_of(verdicts(standing, zones), policies, zones)


def report_of(counted: list[Verdict], policies: PolicySet, zones: Zones) -> Report:
    """The report of counted cycles (``verdicts`` of the standing events, in ``zones``)."""
    tally = Tally()
    tally.add(verdict.outcome for verdict in counted)
    rows = tally.rows()
    targets = {row.policy: _target(policies, row.policy) for row in rows}
    report = Report(
        lines=[Line(row, targets[row.policy]) for row in rows],
        breaches=sorted(
            (
                _breach(verdict, zones(verdict.event.calendar))
                for verdict in counted
                if not verdict.outcome.met
            ),
            key=lambda b: (b.policy, b.deadline, b.tenant, b.ticket_id, b.metric),
        ),
        targets=targets,
    )
    report.notes += [
        f"calendar {name!r} is not in the policies: its cycles are counted in UTC months"
        for name in sorted(zones.unknown)
    ]
    report.notes += [
        f"policy {name!r} is not in the policies: reported without a target"
        for name in sorted(targets)
        if policies.by_name(name) is None
    ]
    return report


def _target(policies: PolicySet, name: str) -> float | None:
    policy = policies.by_name(name)
    return policy.compliance.target if policy and policy.compliance else None


def _breach(verdict: Verdict, zone: tzinfo) -> Breach:
    event = verdict.event
    stopped = event.type is SlaEventType.STOPPED
    over = event.elapsed - event.target
    return Breach(
        tenant=event.tenant,
        ticket_id=event.ticket_id,
        policy=event.policy,
        metric=event.metric,
        cycle=event.cycle,
        month=verdict.outcome.month,
        deadline=verdict.at,
        zone=zone,
        stopped_at=event.occurred_at if stopped else None,
        # A target raised after the breach (re-target) can leave nothing over it: unknown.
        late=over if stopped and over > 0 else None,
    )
