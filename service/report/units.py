"""How the report writes numbers, durations, times and names (terminal and HTML alike)."""

from datetime import datetime, tzinfo
from fractions import Fraction
from math import floor

from service.core.instant import HOUR, MINUTE, SECOND, Instant, to_datetime


def percent(ratio: Fraction) -> str:
    """A ratio as a percentage truncated to two decimals, so an attainment shown equal to
    its target is never below it: 123/124 is ``99.19%``, 124/125 ``99.2%``, 1 ``100%``."""
    hundredths = floor(ratio * 10_000)
    whole, part = divmod(hundredths, 100)
    return (f"{whole}.{part:02d}".rstrip("0").rstrip(".")) + "%"


def target_percent(target: float) -> str:
    """A policy target (a ratio) as written: 0.992 is ``99.2%``."""
    return percent(Fraction(repr(target)))


def business_duration(micros: int) -> str:
    """Business time as hours and minutes: ``3h 05m``, ``45m``, ``20s``."""
    hours, rest = divmod(micros, HOUR)
    minutes = rest // MINUTE
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{max(rest // SECOND, 1)}s"


def local_time(instant: Instant, zone: tzinfo) -> str:
    """``2026-01-13 16:00 EST``: the instant on the calendar's wall clock."""
    return to_datetime(instant).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def month_name(month: str, *, short: bool = False) -> str:
    """``2026-01`` as ``January 2026`` (or ``Jan 2026``)."""
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, 1).strftime("%b %Y" if short else "%B %Y")


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` (``YYYY-MM``), both included."""
    year, month = (int(part) for part in first.split("-"))
    months = []
    while (label := f"{year:04d}-{month:02d}") <= last:
        months.append(label)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def metric_name(metric: str) -> str:
    """``first_response`` as ``First response``."""
    return metric.replace("_", " ").capitalize()
