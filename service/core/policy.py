"""Policies as frozen objects, trusted once the loader has validated them (docs/policies.md)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .calendar import BusinessCalendar
from .matching import Match, Scalar


class Metric(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    PERIODIC_UPDATE = "periodic_update"
    RESOLUTION = "resolution"


BUILT_IN_METRICS = frozenset(Metric)
RESPONSE_METRICS = (Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE, Metric.PERIODIC_UPDATE)
"""The response clocks, in the order a resolution cancels them (a tuple: the order of the
events it publishes must not depend on hashing)."""


class OnTargetChange(StrEnum):
    RECOMPUTE = "recompute"
    RESTART = "restart"


class OnReopen(StrEnum):
    RESUME = "resume"
    NEW_CYCLE = "new_cycle"


@dataclass(frozen=True, slots=True)
class Threshold:
    """A warning threshold made concrete: the business time elapsed when it is reached."""

    label: str
    elapsed: int


@dataclass(frozen=True, slots=True)
class Target:
    index: int
    match: Match
    breach_after: int  # business microseconds
    thresholds: tuple[Threshold, ...]  # ascending elapsed, all below breach_after
    calendar: BusinessCalendar


@dataclass(frozen=True, slots=True)
class EventCondition:
    """A custom clock's ``start_on``/``stop_on`` entry: event types plus field tests.

    ``fields`` tests the event's own fields (status, reason, public, automated);
    ``attributes`` tests the ticket's attributes after the event is applied; ``changes``
    tests the attributes the event itself sets (so "priority became C1" is expressible).
    """

    types: frozenset[str]
    fields: Match
    attributes: Match
    changes: Match = field(default_factory=Match)

    def fits(
        self,
        event_type: str,
        fields: Mapping[str, Scalar],
        attributes: Mapping[str, Scalar],
        changes: Mapping[str, Scalar],
    ) -> bool:
        return (
            event_type in self.types
            and self.fields.fits(fields)
            and self.attributes.fits(attributes)
            and self.changes.fits(changes)
        )


@dataclass(frozen=True, slots=True)
class ClockRule:
    metric: str
    targets: tuple[Target, ...]
    pausable: bool = True
    on_target_change: OnTargetChange = OnTargetChange.RECOMPUTE
    on_reopen: OnReopen = OnReopen.RESUME
    start_on: tuple[EventCondition, ...] = ()
    stop_on: tuple[EventCondition, ...] = ()

    def select_target(self, facts: Mapping[str, Scalar]) -> Target | None:
        for target in self.targets:
            if target.match.fits(facts):
                return target
        return None

    @property
    def is_custom(self) -> bool:
        return self.metric not in BUILT_IN_METRICS


@dataclass(frozen=True, slots=True)
class Compliance:
    target: float  # a ratio: 0.992 for 99.2%
    period: str = "month"
    exclude: tuple[Match, ...] = ()

    def excludes(self, facts: Mapping[str, Scalar]) -> bool:
        return any(match.fits(facts) for match in self.exclude)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: str
    match: Match
    calendar: BusinessCalendar
    pause_statuses: frozenset[str]
    resolved_statuses: frozenset[str]
    clocks: tuple[ClockRule, ...]
    compliance: Compliance | None = None
    source: str = ""
    # Derived once: the engine looks at them for every event.
    custom_clocks: tuple[ClockRule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        custom = tuple(rule for rule in self.clocks if rule.is_custom)
        object.__setattr__(self, "custom_clocks", custom)

    def rule(self, metric: str) -> ClockRule | None:
        for rule in self.clocks:
            if rule.metric == metric:
                return rule
        return None


@dataclass(frozen=True)
class PolicySet:
    """Policies in precedence order: file name order, then order within a file."""

    policies: tuple[Policy, ...]
    calendars: Mapping[str, BusinessCalendar]

    def select(self, facts: Mapping[str, Scalar]) -> Policy | None:
        for policy in self.policies:
            if policy.match.fits(facts):
                return policy
        return None

    def by_name(self, name: str) -> Policy | None:
        for policy in self.policies:
            if policy.name == name:
                return policy
        return None
