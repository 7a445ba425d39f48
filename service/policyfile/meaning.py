"""Meaning checks of policy entries and their conversion into core objects (docs/policies.md).

Shape errors come from pydantic; what needs more than one field to judge (unknown
calendars, thresholds past the target, unreachable targets and policies, targets a
calendar cannot reach) is checked here. Every problem is recorded and building goes on,
so one run reports them all.
"""

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

from service.core.calendar import BusinessCalendar
from service.core.durations import Duration, parse_duration, parse_threshold
from service.core.errors import CalendarError, SlaTimerError
from service.core.events import EventType
from service.core.instant import HOUR, Instant, format_instant, from_datetime
from service.core.matching import Condition, Match, as_text
from service.core.policy import (
    BUILT_IN_METRICS,
    ClockRule,
    Compliance,
    EventCondition,
    OnReopen,
    OnTargetChange,
    Policy,
    Target,
    Threshold,
)

from . import models
from .regex import compile_regex

_CUSTOM_METRIC = re.compile(r"[a-z][a-z0-9_]{0,63}")

_STAND_IN_DAY = 8 * HOUR

HORIZON_YEARS = 5
"""A target must fall due within this many years (wall time) of a ticket's creation."""

Report = Callable[[str, str], None]
"""Records a problem of the entry being built: (field, message)."""


def reference_starts(today: date) -> tuple[tuple[Instant, Instant], ...]:
    """The (creation, horizon) instants targets are tried from: 1 January of this year and
    of the next, 00:00 UTC, each with the same instant ``HORIZON_YEARS`` later."""
    return tuple(
        (_new_year(year), _new_year(year + HORIZON_YEARS)) for year in (today.year, today.year + 1)
    )


def _new_year(year: int) -> Instant:
    return from_datetime(datetime(year, 1, 1, tzinfo=UTC))


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: str, policy: str | None, field: str, message: str) -> None:
        where = [file] + ([f"policy {policy!r}"] if policy else []) + ([field] if field else [])
        self.items.append(": ".join([*where, message]))


class Builder:
    """Builds policies one by one, recording problems instead of stopping at the first."""

    def __init__(
        self,
        calendars: Mapping[str, BusinessCalendar],
        problems: Problems,
        starts: tuple[tuple[Instant, Instant], ...] = (),
        refused: frozenset[str] = frozenset(),
    ) -> None:
        self.calendars = calendars
        self.problems = problems
        self.refused = refused  # calendars defined with problems, already reported
        self.starts = starts
        self._open: dict[tuple[str, Instant], int | str] = {}  # business time to the horizon
        self.policies: list[Policy] = []
        self._where: dict[str, str] = {}
        self._matches: list[tuple[str, str, Match]] = []  # (file, name, match) of every policy

    def add_policy(self, file: str, index: int, spec: models.Policy, version: str) -> None:
        def report(field: str, message: str) -> None:
            self.problems.add(file, spec.name, field, message)

        count = len(self.problems.items)
        if spec.name in self._where:
            report("name", f"policy name already used in {self._where[spec.name]}")
        self._where.setdefault(spec.name, file)
        calendar = self._calendar(spec.calendar, "calendar", report)
        match = build_match(spec.match, "match", report)
        self._matches.append((f"{file}#{index + 1}", spec.name, match))
        metrics = [clock.metric for clock in spec.clocks]
        for metric in {m for m in metrics if metrics.count(m) > 1}:
            report("clocks", f"metric {metric!r} appears more than once")
        clocks = tuple(
            self._clock(clock, f"clocks[{i}]", calendar, report)
            for i, clock in enumerate(spec.clocks)
        )
        compliance = self._compliance(spec.compliance, report) if spec.compliance else None
        if len(self.problems.items) > count or calendar is None:
            return
        self.policies.append(
            Policy(
                name=spec.name,
                version=version,
                match=match,
                calendar=calendar,
                pause_statuses=frozenset(spec.pause_statuses),
                resolved_statuses=frozenset(spec.resolved_statuses),
                clocks=tuple(c for c in clocks if c is not None),
                compliance=compliance,
                source=f"{file}#{index + 1}",
            )
        )

    def check_reachability(self) -> None:
        for later_index, (source, name, match) in enumerate(self._matches):
            for earlier_source, earlier_name, earlier in self._matches[:later_index]:
                if earlier.covers(match):
                    self.problems.add(
                        source.partition("#")[0],
                        name,
                        "match",
                        f"unreachable: policy {earlier_name!r} ({earlier_source}, match "
                        f"{earlier.describe()}) already takes every ticket this one matches",
                    )
                    break

    def _calendar(self, name: str, field: str, report: Report) -> BusinessCalendar | None:
        calendar = self.calendars.get(name)
        if calendar is None and name not in self.refused:
            known = ", ".join(sorted(self.calendars)) or "none"
            report(field, f"unknown calendar {name!r}; defined: {known}")
        return calendar

    def _clock(
        self, spec: models.Clock, field: str, default: BusinessCalendar | None, report: Report
    ) -> ClockRule | None:
        custom = spec.metric not in BUILT_IN_METRICS
        if custom and not _CUSTOM_METRIC.fullmatch(spec.metric):
            report(
                f"{field}.metric", f"{spec.metric!r} is not a metric name (lowercase, digits, _)"
            )
        if custom and not (spec.start_on and spec.stop_on):
            known = ", ".join(sorted(BUILT_IN_METRICS))
            report(
                field,
                f"custom metric {spec.metric!r} needs start_on and stop_on (built-in: {known})",
            )
        if not custom and (spec.start_on or spec.stop_on):
            report(field, f"built-in metric {spec.metric!r} takes no start_on/stop_on")
        targets = [
            self._target(i, t, f"{field}.targets[{i}]", default, report)
            for i, t in enumerate(spec.targets)
        ]
        for later_index, later in enumerate(targets):
            for earlier_index, earlier in enumerate(targets[:later_index]):
                if earlier and later and earlier.match.covers(later.match):
                    report(
                        f"{field}.targets[{later_index}]",
                        f"unreachable: targets[{earlier_index}] (match {earlier.match.describe()}) "
                        "already takes every ticket this one matches",
                    )
                    break
        return ClockRule(
            metric=spec.metric,
            targets=tuple(t for t in targets if t is not None),
            pausable=spec.pausable,
            on_target_change=OnTargetChange(spec.on_target_change),
            on_reopen=OnReopen(spec.on_reopen),
            start_on=tuple(
                self._condition(c, f"{field}.start_on[{i}]", report)
                for i, c in enumerate(spec.start_on)
            ),
            stop_on=tuple(
                self._condition(c, f"{field}.stop_on[{i}]", report)
                for i, c in enumerate(spec.stop_on)
            ),
        )

    def _target(
        self,
        index: int,
        spec: models.Target,
        field: str,
        default: BusinessCalendar | None,
        report: Report,
    ) -> Target | None:
        calendar = (
            self._calendar(spec.calendar, f"{field}.calendar", report) if spec.calendar else default
        )
        match = build_match(spec.match, f"{field}.match", report)
        # Without a known calendar, durations are still checked, against a stand-in day.
        business_day = calendar.business_day if calendar is not None else _STAND_IN_DAY
        try:
            duration = parse_duration(spec.breach_after)
        except SlaTimerError as error:
            report(f"{field}.breach_after", str(error))
            return None
        breach_field = f"{field}.breach_after"
        if not _days_resolve(duration, spec.breach_after, calendar, breach_field, report):
            return None
        breach_after = duration.resolve(business_day)
        thresholds: list[Threshold] = []
        for text in spec.warn_at:
            try:
                threshold = parse_threshold(text)
                elapsed = threshold.elapsed_at(breach_after, business_day)
            except SlaTimerError as error:
                report(f"{field}.warn_at", str(error))
                continue
            if threshold.duration is not None and not _days_resolve(
                threshold.duration, text, calendar, f"{field}.warn_at", report
            ):
                continue
            if not 0 < elapsed < breach_after:
                report(
                    f"{field}.warn_at",
                    f"{text!r} does not fall before breach_after {spec.breach_after!r}",
                )
            elif text in (t.label for t in thresholds):
                report(f"{field}.warn_at", f"{text!r} is listed twice")
            else:
                thresholds.append(Threshold(text.strip(), elapsed))
        thresholds.sort(key=lambda threshold: threshold.elapsed)
        if calendar is None:
            return None
        # Warnings fall before the breach, so a reachable breach makes them reachable too.
        if not self._reachable(calendar, breach_after, spec.breach_after, field, report):
            return None
        return Target(index, match, breach_after, tuple(thresholds), calendar)

    def _reachable(
        self, calendar: BusinessCalendar, amount: int, text: str, field: str, report: Report
    ) -> bool:
        """Whether ``amount`` of business time falls due within the horizon from every
        reference start (``reference_starts``); reports it when not."""
        for start, horizon in self.starts:
            key = (calendar.name, start)
            if key not in self._open:
                try:
                    # Touch the start first: today's ``between`` answers wrongly when its end
                    # is looked up before an index that does not cover its start yet.
                    calendar.is_open(start)
                    self._open[key] = calendar.between(start, horizon)
                except CalendarError as error:  # e.g. the calendar's own search limit
                    self._open[key] = str(error)
            available = self._open[key]
            if isinstance(available, str) or amount > available:
                why = (
                    available
                    if isinstance(available, str)
                    else f"it is open {_hours(available)} in those years"
                )
                report(
                    f"{field}.breach_after",
                    f"{text.strip()!r} is unreachable: on calendar {calendar.name!r} a ticket "
                    f"created {format_instant(start)} would not fall due within "
                    f"{HORIZON_YEARS} years ({why})",
                )
                return False
        return True

    def _condition(self, spec: models.EventCondition, field: str, report: Report) -> EventCondition:
        types = [spec.type] if isinstance(spec.type, str) else spec.type
        known = {t.value for t in EventType}
        for name in types:
            if name not in known:
                report(
                    f"{field}.type",
                    f"unknown event type {name!r}; use one of {', '.join(sorted(known))}",
                )
        fields: dict[str, models.MatchValue] = {
            key: value
            for key in ("status", "reason", "public", "automated")
            if (value := getattr(spec, key)) is not None
        }
        return EventCondition(
            types=frozenset(types),
            fields=build_match(fields, field, report),
            attributes=build_match(spec.attributes, f"{field}.attributes", report),
            changes=build_match(spec.changes, f"{field}.changes", report),
        )

    def _compliance(self, spec: models.Compliance, report: Report) -> Compliance | None:
        text = str(spec.target).strip()
        try:
            ratio = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            ratio = -1.0
        if not 0 < ratio <= 1:
            report("compliance.target", f"{spec.target!r} is not a share like 99.2% (or 0.992)")
            return None
        exclude = tuple(
            build_match(m, f"compliance.exclude[{i}]", report) for i, m in enumerate(spec.exclude)
        )
        return Compliance(target=ratio, period=spec.period, exclude=exclude)


def build_match(spec: Mapping[str, models.MatchValue], field: str, report: Report) -> Match:
    conditions: list[Condition] = []
    for key, value in spec.items():
        if isinstance(value, models.Regex):
            try:
                conditions.append(Condition(key, pattern=compile_regex(value.regex)))
            except SlaTimerError as error:
                report(f"{field}.{key}", f"invalid regex {value.regex!r}: {error}")
        elif isinstance(value, list):
            if not value:
                report(f"{field}.{key}", "an empty list matches no ticket")
            conditions.append(Condition(key, values=frozenset(as_text(v) for v in value)))
        else:
            conditions.append(Condition(key, values=frozenset({as_text(value)})))
    return Match(tuple(conditions))


def _days_resolve(
    duration: Duration, text: str, calendar: BusinessCalendar | None, field: str, report: Report
) -> bool:
    """Whether a duration's days mean something: a calendar with no weekly open hours (only
    overrides) has a usual business day of 0, so ``2d`` would be 0 seconds and every ticket
    would breach at creation; reports it when not."""
    if duration.days == 0 or calendar is None or calendar.business_day > 0:
        return True
    report(
        field,
        f"{text.strip()!r} counts business days, but calendar {calendar.name!r} has no "
        "usual business day (no weekly open hours), so 1d would be 0 seconds; set "
        "business_day on the calendar or write the duration in h, m or s",
    )
    return False


def _hours(micros: int) -> str:
    hours = micros / HOUR
    return f"{hours:,.0f} business hours" if hours >= 10 else f"{hours:g} business hours"
