"""Compliance: met and breached cycles per policy, metric and calendar month (docs/semantics.md).

A cycle is one ticket's (tenant, ticket id, metric, cycle number); its events may name
several policies when a policy change re-targets it, so the policy is not part of its
identity (a breach under one policy followed by ``sla.stopped`` under the next counts once).
A cycle counts by the outcome of its net published events (published minus retracted),
taken in event time: the last ``sla.met``, ``sla.breach``, ``sla.stopped`` or
``sla.cancelled`` decides, and a ``sla.resumed`` after a met (a reopen) makes the outcome
pending again. Met and breached count; cancelled and pending do not. A breach stays a
breach: the pauses and resumes of a breached cycle change nothing.

The month is the calendar month, in the time zone of the deciding event's calendar, of the
outcome's instant: a met's ``occurred_at``, the breach instant for a breach (``sla.stopped``
carries it as its ``deadline``). The deciding event names the policy the cycle counts for.
A cycle whose last event says ``compliance_excluded`` (the newest view of the ticket) is
not counted.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import tzinfo
from fractions import Fraction
from functools import lru_cache

from .events import SlaEvent, SlaEventType
from .instant import Instant, to_datetime

CycleKey = tuple[str, str, str, int]
"""(tenant, ticket id, metric, cycle number)."""

ZoneOf = Callable[[str], tzinfo]
"""The time zone of a calendar, by the calendar's name."""

_DECIDING = frozenset(
    {SlaEventType.MET, SlaEventType.BREACH, SlaEventType.STOPPED, SlaEventType.CANCELLED}
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One counted cycle: what the worker adds to and removes from a ``Tally``."""

    policy: str
    metric: str
    month: str  # "YYYY-MM", in the cycle calendar's time zone
    met: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """A counted cycle with the event that decided it and the instant of its outcome."""

    outcome: Outcome
    event: SlaEvent  # the deciding sla.met, sla.breach or sla.stopped
    at: Instant  # the met's occurred_at, or the breach instant


def verdicts(published: Iterable[SlaEvent], zone_of: ZoneOf) -> list[Verdict]:
    """The counted cycles among net published events (of one ticket or many), ordered by
    tenant, ticket, metric and cycle. Retractions in ``published`` are ignored: pass the
    events that are still standing."""
    cycles: dict[CycleKey, list[SlaEvent]] = {}
    for event in published:
        if event.type is not SlaEventType.RETRACTED:
            key = (event.tenant, event.ticket_id, event.metric, event.cycle)
            cycles.setdefault(key, []).append(event)
    found = []
    for key in sorted(cycles):
        verdict = _verdict(sorted(cycles[key], key=_event_time), zone_of)
        if verdict is not None:
            found.append(verdict)
    return found


def outcomes(published: Iterable[SlaEvent], zone_of: ZoneOf) -> list[Outcome]:
    """The counted outcomes of net published events (one ticket's ``Ticket.published``)."""
    return [verdict.outcome for verdict in verdicts(published, zone_of)]


def month_of(instant: Instant, zone: tzinfo) -> str:
    """The calendar month of an instant in a time zone, as ``YYYY-MM``."""
    return _month_of_quarter_hour(instant // _QUARTER_HOUR, zone)


# Every UTC offset in use is a whole number of quarter hours, so a local month begins on a
# quarter-hour boundary: the month of an instant is the month of its quarter hour (cached,
# as the worker asks for it whenever a ticket publishes).
_QUARTER_HOUR = 15 * 60 * 1_000_000


@lru_cache(maxsize=1 << 16)
def _month_of_quarter_hour(quarter: int, zone: tzinfo) -> str:
    local = to_datetime(quarter * _QUARTER_HOUR).astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def _event_time(event: SlaEvent) -> Instant:
    return event.occurred_at  # a stable sort keeps the engine's order of equal instants


def _verdict(events: list[SlaEvent], zone_of: ZoneOf) -> Verdict | None:
    deciding: SlaEvent | None = None
    for event in events:
        if event.type in _DECIDING:
            deciding = event
        elif event.type is SlaEventType.RESUMED and deciding and deciding.type is SlaEventType.MET:
            deciding = None  # reopened: the met no longer stands
    if deciding is None or deciding.type is SlaEventType.CANCELLED:
        return None
    if events[-1].compliance_excluded:
        return None
    met = deciding.type is SlaEventType.MET
    at = deciding.occurred_at
    if deciding.type is SlaEventType.STOPPED and deciding.deadline is not None:
        at = deciding.deadline  # a stopped cycle's deadline is its breach instant
    month = month_of(at, zone_of(deciding.calendar))
    return Verdict(Outcome(deciding.policy, deciding.metric, month, met), deciding, at)


@dataclass(frozen=True, slots=True)
class Row:
    """Counts of one policy, metric and month."""

    policy: str
    metric: str
    month: str
    met: int
    breached: int

    @property
    def attainment(self) -> float:
        """met / (met + breached); a row always counts at least one cycle."""
        return self.met / (self.met + self.breached)

    @property
    def ratio(self) -> Fraction:
        """The attainment, exactly."""
        return Fraction(self.met, self.met + self.breached)

    def meets(self, target: float) -> bool:
        """Whether the attainment reaches ``target`` (a ratio), compared exactly with the
        decimal the target was written as: 49 met of 50 meets 98% (0.98 as a float is
        slightly below 0.98, and 0.9 slightly above 0.9)."""
        return self.ratio >= Fraction(repr(target))


class Tally:
    """Counted outcomes per policy, metric and month; kept up to date as tickets change
    by removing a ticket's outcomes from before a change and adding those after it."""

    def __init__(self) -> None:
        self._counts: Counter[Outcome] = Counter()

    def add(self, found: Iterable[Outcome]) -> None:
        self._counts.update(found)

    def remove(self, found: Iterable[Outcome]) -> None:
        """Take back outcomes added before; ``ValueError`` for one that was never added
        (nothing is changed then)."""
        taken = Counter(found)
        missing = [outcome for outcome, n in taken.items() if self._counts[outcome] < n]
        if missing:
            raise ValueError(f"outcomes removed but never added: {missing}")
        self._counts.subtract(taken)
        for outcome in taken:
            if self._counts[outcome] == 0:
                del self._counts[outcome]

    def rows(self) -> list[Row]:
        """A row per policy, metric and month that counts any cycle, in that order."""
        counts: dict[tuple[str, str, str], list[int]] = {}
        for outcome, n in self._counts.items():
            key = (outcome.policy, outcome.metric, outcome.month)
            counts.setdefault(key, [0, 0])[0 if outcome.met else 1] += n
        return [Row(*key, met, breached) for key, (met, breached) in sorted(counts.items())]
