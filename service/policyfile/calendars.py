"""Calendar entries of a policy file into core calendars (docs/policies.md, docs/semantics.md)."""

import difflib
import functools
import itertools
import re
from collections.abc import Mapping
from datetime import date, timedelta
from zoneinfo import ZoneInfo, available_timezones

from service.core.calendar import (
    BusinessCalendar,
    CalendarSpec,
    DayRanges,
    HolidayLookup,
    national_holidays,
)
from service.core.durations import parse_duration
from service.core.errors import SlaTimerError

from . import models

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_DAY = timedelta(days=1)
_HOLIDAY_YEARS = (1950, 2200)


def build_calendar(name: str, spec: models.Calendar) -> BusinessCalendar:
    """A core calendar, or ``SlaTimerError`` whose lines are every problem found."""
    problems: list[str] = []
    weekly = _weekly(spec.hours, problems)
    overrides: dict[date, DayRanges] = {}
    for text, ranges in spec.overrides.items():
        day = _date(text, f"overrides: {text!r}", problems)
        if day is not None:
            overrides[day] = _ranges(ranges, f"overrides.{text}", problems)
    closed = {
        _date(text, "holidays.dates", problems)
        for text in (spec.holidays.dates if spec.holidays else [])
    }
    lookup = None
    if spec.holidays is not None and spec.holidays.country is not None:
        try:
            lookup = national_holidays(spec.holidays.country, spec.holidays.subdivision)
        except SlaTimerError as error:
            problems.append(f"holidays: {error}")
    elif spec.holidays is not None and spec.holidays.subdivision is not None:
        problems.append("holidays: a subdivision needs a country")
    business_day = None
    if spec.business_day is not None:
        try:
            duration = parse_duration(spec.business_day)
            if duration.days:
                raise SlaTimerError(f"{spec.business_day!r} must be in hours, minutes or seconds")
            business_day = duration.micros
        except SlaTimerError as error:
            problems.append(f"business_day: {error}")
    _check_zone(spec.timezone, problems)
    closed_dates = frozenset(day for day in closed if day is not None)
    _check_overnight(weekly, overrides, closed_dates, lookup, problems)
    if problems:
        raise SlaTimerError("\n".join(problems))
    return BusinessCalendar(
        CalendarSpec(
            name=name,
            timezone=spec.timezone,
            weekly=weekly,
            holidays=lookup,
            closed_dates=closed_dates,
            overrides=overrides,
            business_day=business_day,
        )
    )


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _check_zone(zone: str, problems: list[str]) -> None:
    if zone in _zones():
        try:
            ZoneInfo(zone)
            return
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            pass
    inside = sorted(name for name in _zones() if name.startswith(f"{zone}/"))
    if inside:
        problems.append(
            f"timezone: {zone!r} is a region of the tz database, not a time zone; expected "
            f"one of its {len(inside)} zones, e.g. {', '.join(inside[:4])}"
        )
        return
    close = difflib.get_close_matches(zone, sorted(_zones()), n=3) if len(zone) <= 64 else []
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    problems.append(
        f"timezone: {zone!r} is not an IANA time zone; expected an Area/Location name of the "
        f"tz database such as Europe/Madrid, America/New_York or UTC{hint}"
    )


def _weekly(hours: str | dict[str, list[str]], problems: list[str]) -> tuple[DayRanges, ...]:
    if hours == "24x7":
        return (((0, 1440),),) * 7
    assert isinstance(hours, dict)
    week: list[DayRanges | None] = [None] * 7
    for key, ranges in hours.items():
        parsed = _ranges(ranges, f"hours.{key}", problems)
        for day in _days(key, problems):
            if week[day] is not None:
                problems.append(f"hours.{key}: {DAYS[day]} is listed twice")
            week[day] = parsed
    return tuple(day or () for day in week)


def _days(key: str, problems: list[str]) -> list[int]:
    days: list[int] = []
    for part in key.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            problems.append(
                f"hours.{key}: {part.strip()!r} is not a day or day range; use {', '.join(DAYS)}"
            )
            continue
        start, end = DAYS.index(first), DAYS.index(last or first)
        days += (
            list(range(start, end + 1)) if start <= end else [*range(start, 7), *range(0, end + 1)]
        )
    return days


def _ranges(texts: list[str], field: str, problems: list[str]) -> DayRanges:
    ranges: list[tuple[int, int]] = []
    for text in texts:
        found = _RANGE.fullmatch(text.strip())
        start = end = -1
        if found:
            h1, m1, h2, m2 = (int(g) for g in found.groups())
            start, end = h1 * 60 + m1, h2 * 60 + m2
        if not found or start >= 1440 or end > 1440 or m1 > 59 or m2 > 59 or start == end:
            problems.append(f"{field}: {text!r} is not a range like 09:00-17:00 (end may be 24:00)")
            continue
        ranges.append((start, end if end > start else end + 1440))  # 22:00-06:00 runs overnight
    ranges.sort()
    for earlier, later in itertools.pairwise(ranges):
        if later[0] < earlier[1]:
            problems.append(f"{field}: ranges overlap: {_text(earlier)} and {_text(later)}")
    return tuple(ranges)


def _date(text: str, field: str, problems: list[str]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{field}: {text!r} is not a date like 2026-12-24")
        return None


def _check_overnight(
    weekly: tuple[DayRanges, ...],
    overrides: Mapping[date, DayRanges],
    closed: frozenset[date],
    lookup: HolidayLookup | None,
    problems: list[str],
) -> None:
    """Refuse a range that runs past midnight into an open range of the next day.

    ``mon: [22:00-06:00]`` with ``tue: [05:00-09:00]`` would count 05:00-06:00 twice (or,
    merged, not as written); the same holds from ``sun`` into ``mon`` and around overrides.
    """
    for weekday, ranges in enumerate(weekly):
        next_weekday = (weekday + 1) % 7
        for earlier, later in _spills(ranges, weekly[next_weekday]):
            problems.append(
                f"hours: {DAYS[weekday]} {_text(earlier)} runs past midnight into "
                f"{DAYS[next_weekday]} {_text(later)}; the ranges overlap"
            )
    if not overrides:
        return
    # National holidays close a day too; looked up only for years the package knows well.
    years = sorted({day.year + step for day in overrides for step in (-1, 0, 1)})
    known = [year for year in years if _HOLIDAY_YEARS[0] <= year <= _HOLIDAY_YEARS[1]]
    holidays = lookup(known) if lookup is not None and known else frozenset()

    def ranges_of(day: date) -> DayRanges:
        if day in overrides:
            return overrides[day]
        return () if day in closed or day in holidays else weekly[day.weekday()]

    def label(day: date) -> str:
        return f"override {day}" if day in overrides else f"{DAYS[day.weekday()]} {day}"

    pairs = {(day, day + _DAY) for day in overrides if day < date.max}
    pairs |= {(day - _DAY, day) for day in overrides if day > date.min}
    for day, following in sorted(pairs):
        for earlier, later in _spills(ranges_of(day), ranges_of(following)):
            field = f"overrides.{day if day in overrides else following}"
            problems.append(
                f"{field}: {label(day)} {_text(earlier)} runs past midnight into "
                f"{label(following)} {_text(later)}; the ranges overlap"
            )


def _spills(
    ranges: DayRanges, following: DayRanges
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Pairs of an overnight range of a day and a range of the next day it overlaps."""
    return [
        (earlier, later)
        for earlier in ranges
        if earlier[1] > 1440
        for later in following
        if later[0] < earlier[1] - 1440
    ]


def _text(minutes: tuple[int, int]) -> str:
    """``(1320, 1800)`` as ``22:00-06:00``, as written in the file."""
    start, end = minutes
    end = end - 1440 if end > 1440 else end
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
