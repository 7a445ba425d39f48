"""Business calendars: when a support team is open, and business time arithmetic (SPEC §4).

A calendar is weekly local wall-clock ranges in an IANA time zone, minus national holidays
and extra closed dates, with per-date overrides. Internally it is a sorted list of
half-open UTC segments ``[start, end)`` with the business time accumulated before each
one, built lazily over a window of years. Both questions the engine asks are then two
binary searches:

* ``between(a, b)``: business microseconds in ``[a, b)``;
* ``add(start, amount)``: the deadline, the earliest instant at which ``amount`` business
  microseconds have elapsed since ``start``.

Local times become UTC in one place, ``_local_instant``, with the DST rule of SPEC §4:
``fold=0``, so a wall time skipped by a spring-forward change is read with the offset in
force before it (02:30 becomes 03:30) and an ambiguous one takes its first occurrence.
"""

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays  # the one third-party package the core uses (STYLE.md)

from .errors import CalendarError
from .instant import MINUTE, SECOND, Instant

DayRanges = tuple[tuple[int, int], ...]
"""Open ranges of one local day as (start, end) minutes after midnight; ``end`` may pass
1440 for a range that runs into the next day (``22:00-06:00`` is ``(1320, 1800)``)."""

HolidayLookup = Callable[[Iterable[int]], frozenset[date]]
"""Closed dates for the given years (national holidays); see ``national_holidays``."""

_WINDOW_YEARS = 4
_MAX_YEARS = 200
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CalendarSpec:
    """A calendar as configured, validated by the policy loader."""

    name: str
    timezone: str
    weekly: tuple[DayRanges, ...]  # Monday first, seven entries
    holidays: HolidayLookup | None = None
    closed_dates: frozenset[date] = frozenset()
    overrides: Mapping[date, DayRanges] = field(default_factory=dict)
    business_day: int | None = None  # microseconds; None means the usual open day

    def usual_day(self) -> int:
        """The most common open-day length of the week (ties: the longest), in microseconds."""
        lengths = Counter(sum(end - start for start, end in day) for day in self.weekly)
        lengths.pop(0, None)
        if not lengths:
            return 0
        minutes = max(lengths, key=lambda length: (lengths[length], length))
        return minutes * MINUTE


class BusinessCalendar:
    """Answers business time questions for one calendar; safe to share between tickets."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.zone = ZoneInfo(spec.timezone)
        self.business_day = spec.business_day or spec.usual_day()
        if not any(self.spec.weekly) and not any(spec.overrides.values()):
            raise CalendarError(f"calendar {spec.name!r} is never open")
        self._first_day = date.max
        self._end_day = date.min
        self._low = self._high = 0
        self._starts: list[Instant] = []
        self._ends: list[Instant] = []
        self._cum_start: list[int] = []
        self._cum_end: list[int] = []

    # -- the two questions -------------------------------------------------------------

    def between(self, start: Instant, end: Instant) -> int:
        """Business microseconds in ``[start, end)``; negative when ``end`` is earlier."""
        return self._accumulated(end) - self._accumulated(start)

    def add(self, start: Instant, amount: int) -> Instant:
        """The earliest instant at which ``amount`` business microseconds have elapsed.

        A deadline used up exactly at a closing time is that closing instant, never the
        next opening; an amount of zero or less is ``start`` itself.
        """
        if amount <= 0:
            return start
        goal = self._accumulated(start) + amount
        while True:
            index = bisect_left(self._cum_end, goal)
            if index < len(self._cum_end):
                return self._starts[index] + (goal - self._cum_start[index])
            self._extend_forward()  # keeps the first day, so ``goal`` stays valid

    def is_open(self, instant: Instant) -> bool:
        """Whether the calendar is open at this instant (a range's end is closed)."""
        self._cover(instant)
        index = bisect_right(self._starts, instant) - 1
        return index >= 0 and instant < self._ends[index]

    def segments(self, start: Instant, end: Instant) -> list[tuple[Instant, Instant]]:
        """The open UTC segments clipped to ``[start, end)``, for views and tests."""
        self._cover(start)
        self._cover(end)
        first = max(bisect_right(self._starts, start) - 1, 0)
        last = bisect_left(self._starts, end)
        return [
            (max(s, start), min(e, end))
            for s, e in zip(self._starts[first:last], self._ends[first:last], strict=True)
            if min(e, end) > max(s, start)
        ]

    # -- the index ---------------------------------------------------------------------

    def _accumulated(self, instant: Instant) -> int:
        """Business microseconds from the start of the index to ``instant``."""
        if not self._low <= instant < self._high:
            self._cover(instant)
        index = bisect_right(self._starts, instant) - 1
        if index < 0:
            return 0
        return self._cum_start[index] + min(
            instant - self._starts[index], self._ends[index] - self._starts[index]
        )

    def _cover(self, instant: Instant) -> None:
        if self._low <= instant < self._high:
            return
        day = (datetime.fromtimestamp(instant // SECOND, self.zone)).date()
        first = min(self._first_day, date(day.year - 1, 1, 1))
        end = max(self._end_day, date(day.year + _WINDOW_YEARS, 1, 1))
        self._build(first, end)

    def _extend_forward(self) -> None:
        if self._end_day.year - self._first_day.year > _MAX_YEARS:
            raise CalendarError(f"calendar {self.name!r} has no open time in {_MAX_YEARS} years")
        self._build(self._first_day, date(self._end_day.year + _WINDOW_YEARS, 1, 1))

    def _build(self, first: date, end: date) -> None:
        """Rebuild the index for local dates ``[first, end)``."""
        self._low = self._local_instant(first, 0)
        self._high = self._local_instant(end, 0)
        closed = self.spec.closed_dates
        if self.spec.holidays is not None:
            closed = closed | self.spec.holidays(range(first.year - 1, end.year + 1))
        merged: list[list[Instant]] = []
        day = first - _ONE_DAY  # a range of the day before may run into ``first``
        while day < end:
            for opening, closing in self._day_segments(day, closed):
                start, stop = max(opening, self._low), min(closing, self._high)
                if stop <= start:
                    continue
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], stop)
                else:
                    merged.append([start, stop])
            day += _ONE_DAY
        self._first_day, self._end_day = first, end
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]
        self._cum_start, self._cum_end, total = [], [], 0
        for s, e in merged:
            self._cum_start.append(total)
            total += e - s
            self._cum_end.append(total)

    def _day_segments(self, day: date, closed: frozenset[date]) -> list[tuple[Instant, Instant]]:
        ranges = self.spec.overrides.get(day)
        if ranges is None:
            ranges = () if day in closed else self.spec.weekly[day.weekday()]
        segments = [
            (self._local_instant(day, start), self._local_instant(day, end))
            for start, end in ranges
        ]
        return sorted(segments)

    def _local_instant(self, day: date, minutes: int) -> Instant:
        """The instant of a local wall-clock time, ``minutes`` after ``day``'s midnight.

        Aware-datetime arithmetic in Python is wall-clock arithmetic with ``fold=0``,
        which is exactly SPEC §4's rule for skipped and repeated local times.
        """
        local = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return int((local + timedelta(minutes=minutes)).timestamp()) * SECOND


def national_holidays(country: str, subdivision: str | None = None) -> HolidayLookup:
    """A lookup of national holidays from the ``holidays`` package.

    Raises ``CalendarError`` naming the valid choices when the country or subdivision
    is unknown, so a policy with a typo is refused at load.
    """
    supported = holidays.list_supported_countries()
    if country not in supported:
        known = ", ".join(sorted(code for code in supported if len(code) == 2))
        raise CalendarError(f"unknown holiday country {country!r}; known: {known}")
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country]) or "none"
        raise CalendarError(f"unknown subdivision {subdivision!r} of {country!r}; known: {known}")

    def lookup(years: Iterable[int]) -> frozenset[date]:
        days = holidays.country_holidays(country, subdiv=subdivision, years=list(years))
        return frozenset(days.keys())

    return lookup
