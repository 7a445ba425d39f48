"""What one policy directory makes of a history: the compliance report's rows, each counted
cycle's outcome, and the policy governing each ticket; built from a share of the tickets
and merged (docs/whatif.md)."""

from dataclasses import dataclass, replace
from typing import NamedTuple

from service.core.compliance import CycleKey, Row, Verdict, verdicts
from service.core.engine import Engine
from service.core.events import SlaEventType
from service.core.instant import Instant
from service.core.policy import PolicySet
from service.core.ticket import Ticket
from service.replay import ReplaySummary
from service.report.build import Line, Zones, report_of
from service.report.read import Ledger

TicketName = tuple[str, str]
"""(tenant, ticket id)."""


class Counted(NamedTuple):
    """One cycle's counted outcome under one policy directory (a tuple: it is sent whole
    between processes, hundreds of thousands of them)."""

    policy: str
    month: str
    met: bool
    deadline: Instant | None  # a breach's instant; for a met, the deadline it beat (None: paused)
    at: Instant  # the outcome's instant: the met's time or the breach instant
    calendar: str


@dataclass
class Side:
    """What one policy directory makes of the history (or of a share of its tickets)."""

    summary: ReplaySummary
    lines: list[Line]  # the compliance report's rows, with this directory's targets
    cycles: dict[CycleKey, Counted]
    governed: dict[TicketName, str | None]  # the policy governing each ticket at the end


def side_of(
    policies: PolicySet,
    ledger: Ledger,
    engine: Engine,
    summary: ReplaySummary,
    emitted: int,
    governed: dict[TicketName, str | None],
) -> Side:
    zones = Zones(policies)
    counted = verdicts(ledger.standing(), zones)
    governed.update(
        ((ticket.tenant, ticket.ticket_id), governing(ticket)) for ticket in engine.tickets.values()
    )
    return Side(
        summary=replace(summary, invalid=list(summary.invalid), emitted=emitted),
        lines=report_of(counted, policies, zones).lines,
        cycles=dict(_counted(verdict) for verdict in counted),
        governed=governed,
    )


def _counted(verdict: Verdict) -> tuple[CycleKey, Counted]:
    event, outcome = verdict.event, verdict.outcome
    deadline = event.deadline if event.type is SlaEventType.MET else verdict.at
    key = (event.tenant, event.ticket_id, event.metric, event.cycle)
    return key, Counted(
        outcome.policy, outcome.month, outcome.met, deadline, verdict.at, event.calendar
    )


def governing(ticket: Ticket) -> str | None:
    """The policy whose rules the ticket's clocks follow at the end of the replay."""
    clocks = ticket.clocks
    policy = clocks.policy if clocks is not None else None
    return policy.name if policy is not None else None


def merge(shares: list[Side]) -> Side:
    """One side from its shares of the tickets: counts added, rows' counts added."""
    first = shares[0]
    summary = ReplaySummary(clock=first.summary.clock)
    counts: dict[tuple[str, str, str], list[int]] = {}
    targets: dict[str, float | None] = {}
    cycles: dict[CycleKey, Counted] = {}
    governed: dict[TicketName, str | None] = {}
    for share in shares:
        summary.events += share.summary.events
        summary.tickets += share.summary.tickets
        summary.emitted += share.summary.emitted
        summary.invalid += share.summary.invalid
        for line in share.lines:
            row = line.row
            count = counts.setdefault((row.policy, row.metric, row.month), [0, 0])
            count[0] += row.met
            count[1] += row.breached
            targets[row.policy] = line.target
        cycles.update(share.cycles)
        governed.update(share.governed)
    summary.invalid.sort()
    lines = [
        Line(Row(*key, met, breached), targets[key[0]])
        for key, (met, breached) in sorted(counts.items())
    ]
    return Side(summary, lines, cycles, governed)
