"""Calendars used across the core tests, built the way the policy loader builds them."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from service.core.calendar import BusinessCalendar, CalendarSpec, DayRanges, national_holidays
from service.core.instant import Instant, from_datetime

NINE_TO_FIVE: DayRanges = ((9 * 60, 17 * 60),)
WEEKDAYS_9_TO_5 = (NINE_TO_FIVE,) * 5 + ((), ())


def calendar(
    timezone: str = "America/New_York",
    weekly: tuple[DayRanges, ...] = WEEKDAYS_9_TO_5,
    country: str | None = None,
    subdivision: str | None = None,
    closed: tuple[date, ...] = (),
    overrides: dict[date, DayRanges] | None = None,
    business_day: int | None = None,
) -> BusinessCalendar:
    return BusinessCalendar(
        CalendarSpec(
            name="test",
            timezone=timezone,
            weekly=weekly,
            holidays=national_holidays(country, subdivision) if country else None,
            closed_dates=frozenset(closed),
            overrides=overrides or {},
            business_day=business_day,
        )
    )


def at(text: str, timezone: str = "America/New_York") -> Instant:
    """An instant from a local wall-clock time, e.g. ``at("2026-01-09 16:00")``."""
    return from_datetime(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone)))


def utc(text: str) -> Instant:
    return at(text, "UTC")
