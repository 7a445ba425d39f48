"""Calendar entries of a policy file into core calendars (SPEC §3, §4)."""

import itertools
import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.core.calendar import BusinessCalendar, CalendarSpec, DayRanges, national_holidays
from service.core.durations import parse_duration
from service.core.errors import SlaTimerError

from . import models

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


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
    if problems:
        raise SlaTimerError("\n".join(problems))
    return BusinessCalendar(
        CalendarSpec(
            name=name,
            timezone=spec.timezone,
            weekly=weekly,
            holidays=lookup,
            closed_dates=frozenset(day for day in closed if day is not None),
            overrides=overrides,
            business_day=business_day,
        )
    )


def _check_zone(zone: str, problems: list[str]) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: {zone!r} is not an IANA time zone (e.g. Europe/Madrid)")


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
    for (_, end), (start, _) in itertools.pairwise(ranges):
        if start < end:
            problems.append(f"{field}: ranges overlap")
    return tuple(ranges)


def _date(text: str, field: str, problems: list[str]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{field}: {text!r} is not a date like 2026-12-24")
        return None
