"""One cycle of one SLA clock: its business time, deadline and next due instant (docs/semantics.md).

A cycle counts business time from ``since`` on top of ``counted`` while it is neither
paused nor closed. Every change (pause, resume, re-target, close, reopen) first folds
the time counted so far into ``counted`` and moves ``since`` to the change, so the
arithmetic never looks back past the last change. Every change ends by refreshing ``due``,
the next instant a warning or the breach is owed; ``deadline`` reads it when that is the breach.
"""

from dataclasses import dataclass, replace

from .instant import Instant
from .policy import ClockRule, Policy, Target


@dataclass(slots=True)
class Cycle:
    rule: ClockRule
    policy: Policy
    number: int
    target: Target
    started_at: Instant
    since: Instant
    counted: int = 0
    paused: bool = False
    breached_at: Instant | None = None
    closed: str | None = None  # "met", "stopped" or "cancelled"
    closed_at: Instant | None = None
    # Warning keys, see ``warning_key``: replaced, never mutated, so copies share it and a
    # cycle with none holds the one empty frozenset (an empty set is 216 bytes per cycle).
    fired: frozenset[str] = frozenset()
    due: Instant | None = None
    due_label: str | None = None  # a threshold's label, or None for the breach

    @property
    def metric(self) -> str:
        return self.rule.metric

    @property
    def is_open(self) -> bool:
        return self.closed is None

    @property
    def is_counting(self) -> bool:
        return self.closed is None and not self.paused

    @property
    def breached(self) -> bool:
        return self.breached_at is not None

    @property
    def state(self) -> str:
        if self.closed is not None:
            return self.closed
        if self.paused:
            return "paused"
        return "breached" if self.breached else "running"

    def elapsed(self, at: Instant) -> int:
        """Business microseconds this cycle had counted at ``at`` (not before ``since``)."""
        if self.closed is not None or self.paused or at <= self.since:  # not counting
            return self.counted
        return self.counted + self.target.calendar.between(self.since, at)

    def deadline(self) -> Instant | None:
        """When the target is used up: the breach instant once breached, None while stopped."""
        if self.breached_at is not None:
            return self.breached_at
        if self.due_label is None and self.due is not None:
            return self.due  # the breach is what is due next: the same sum, done already
        if not self.is_counting:
            return None
        return self.target.calendar.add(self.since, self.target.breach_after - self.counted)

    def warning_key(self, label: str) -> str:
        """Warnings fire once per cycle and target: after a re-target, ``75%`` of the new
        target is a new warning (its instant differs), while the same target's stays fired."""
        return f"{self.policy.name}/{self.target.index}/{label}"

    def remaining(self, at: Instant) -> int:
        return self.target.breach_after - self.elapsed(at)

    # -- changes -----------------------------------------------------------------------

    def _settle(self, at: Instant) -> None:
        self.counted = self.elapsed(at)
        self.since = max(at, self.since)

    def pause(self, at: Instant) -> None:
        self._settle(at)
        self.paused = True
        self.refresh_due()

    def resume(self, at: Instant) -> None:
        self._settle(at)
        self.paused = False
        self.refresh_due()

    def retarget(self, at: Instant, target: Target, rule: ClockRule, policy: Policy) -> None:
        """Keep the start and the time counted; apply the new target from ``at`` on."""
        self._settle(at)
        self.target, self.rule, self.policy = target, rule, policy
        self.refresh_due()

    def close(self, at: Instant, outcome: str) -> None:
        self._settle(at)
        self.closed, self.closed_at = outcome, at
        self.refresh_due()

    def reopen(self, at: Instant, target: Target, rule: ClockRule, policy: Policy) -> None:
        """Resume a met or stopped cycle from ``at``, on the target that applies now. It runs:
        a cycle stopped while paused is not paused any more (the ticket's status then pauses
        it again if it should), so the reopen is its one ``sla.resumed``."""
        self.since = max(at, self.since)
        self.paused = False
        self.closed = self.closed_at = None
        self.target, self.rule, self.policy = target, rule, policy
        self.refresh_due()

    def copy(self) -> "Cycle":
        return replace(self)

    def fire(self) -> None:
        """Mark the due threshold or breach as published, and find the next one."""
        assert self.due is not None
        if self.due_label is None:
            self.breached_at = self.due
        else:
            self.fired = self.fired | {self.warning_key(self.due_label)}
        self.refresh_due()

    def refresh_due(self) -> None:
        """The next instant something is owed: the first unfired warning, then the breach.

        One whose business time has already passed when computed (late data, a tighter
        target after a re-target) is due at ``since``, i.e. at once (docs/semantics.md).
        """
        self.due = self.due_label = None
        if not self.is_counting or self.breached:
            return
        calendar, fired = self.target.calendar, self.fired
        for threshold in self.target.thresholds:
            if not fired or self.warning_key(threshold.label) not in fired:
                self.due = calendar.add(self.since, threshold.elapsed - self.counted)
                self.due_label = threshold.label
                return
        self.due = calendar.add(self.since, self.target.breach_after - self.counted)
