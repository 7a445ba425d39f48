"""Business calendars: when a support team is open, and business time arithmetic
(docs/semantics.md).

A calendar is weekly local wall-clock ranges in an IANA time zone, minus national holidays
and extra closed dates, with per-date overrides. Internally each local calendar year is a
``_Year``: a sorted list of half-open UTC segments ``[start, end)`` with the business time
accumulated before each one, built when first asked about. Both questions the engine asks
are then binary searches within a year, plus whole-year totals across years:

* ``between(a, b)``: business microseconds in ``[a, b)``;
* ``add(start, amount)``: the deadline, the earliest instant at which ``amount`` business
  microseconds have elapsed since ``start``.

A year's index depends on nothing but the calendar and the year, so an answer never
depends on what was asked before (docs/semantics.md), and only the most recently used years are
kept (``_KEPT_YEARS``), so memory stays bounded whatever instants arrive. Instants are
answered for local years ``MIN_YEAR`` to ``MAX_YEAR``; ``CalendarError`` outside them.

Local times become UTC in one place, ``_local_instant``, with the DST rule of docs/semantics.md:
``fold=0``, so a wall time skipped by a spring-forward change is read with the offset in
force before it (02:30 becomes 03:30) and an ambiguous one takes its first occurrence.
"""

from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
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

MIN_YEAR = 1969  # input instants start in 1970 (UTC); a zone west of UTC begins in 1969
MAX_YEAR = 2399  # input ends in 2200; deadlines may run on for two centuries more
_KEPT_YEARS = 16  # year indexes kept per calendar (about 30 KB each for a 9-5 week)
_ONE_DAY = timedelta(days=1)
_MEAN_YEAR = 31_556_952 * SECOND  # 365.2425 days


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


class _Year:
    """The open segments of one local year, clipped to ``[low, high)``, with the business
    time counted before each segment (``cum_start``) and at its end (``cum_end``)."""

    __slots__ = ("cum_end", "cum_start", "ends", "high", "low", "starts", "total", "year")

    def __init__(self, year: int, low: Instant, high: Instant, merged: list[list[Instant]]):
        self.year, self.low, self.high = year, low, high
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]
        self.cum_start: list[int] = []
        self.cum_end: list[int] = []
        total = 0
        for s, e in merged:
            self.cum_start.append(total)
            total += e - s
            self.cum_end.append(total)
        self.total = total

    def counted(self, instant: Instant) -> int:
        """Business microseconds from the start of the year to ``instant`` (within it)."""
        index = bisect_right(self.starts, instant) - 1
        if index < 0:
            return 0
        return self.cum_start[index] + min(
            instant - self.starts[index], self.ends[index] - self.starts[index]
        )

    def reach(self, goal: int) -> Instant:
        """The earliest instant at which ``goal`` (0 < goal <= total) has been counted."""
        index = bisect_left(self.cum_end, goal)
        return self.starts[index] + (goal - self.cum_start[index])


class BusinessCalendar:
    """Answers business time questions for one calendar; safe to share between tickets."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.zone = ZoneInfo(spec.timezone)
        self.business_day = spec.business_day or spec.usual_day()
        if not any(self.spec.weekly) and not any(spec.overrides.values()):
            raise CalendarError(f"calendar {spec.name!r} is never open")
        self._years: OrderedDict[int, _Year] = OrderedDict()
        self._starts: dict[int, Instant] = {}
        self._totals: dict[int, int] = {}  # at most MAX_YEAR - MIN_YEAR + 1 integers
        self._last: _Year | None = None

    # -- the two questions -------------------------------------------------------------

    def between(self, start: Instant, end: Instant) -> int:
        """Business microseconds in ``[start, end)``; negative when ``end`` is earlier."""
        if end < start:
            return -self.between(end, start)
        first = self._year_at(start)
        if end < first.high:
            return first.counted(end) - first.counted(start)
        counted = first.total - first.counted(start)
        last = self._year_at(end)
        for year in range(first.year + 1, last.year):
            counted += self._total(year)
        return counted + last.counted(end)

    def add(self, start: Instant, amount: int) -> Instant:
        """The earliest instant at which ``amount`` business microseconds have elapsed.

        A deadline used up exactly at a closing time is that closing instant, never the
        next opening; an amount of zero or less is ``start`` itself.
        """
        if amount <= 0:
            return start
        year = self._year_at(start)
        goal = year.counted(start) + amount
        if goal <= year.total:
            return year.reach(goal)
        amount = goal - year.total
        number = year.year + 1
        while number <= MAX_YEAR:
            total = self._total(number)
            if amount <= total:
                return self._year(number).reach(amount)
            amount -= total
            number += 1
        raise CalendarError(f"calendar {self.name!r} reaches no deadline before {MAX_YEAR + 1}")

    def is_open(self, instant: Instant) -> bool:
        """Whether the calendar is open at this instant (a range's end is closed)."""
        year = self._year_at(instant)
        index = bisect_right(year.starts, instant) - 1
        return index >= 0 and instant < year.ends[index]

    def segments(self, start: Instant, end: Instant) -> list[tuple[Instant, Instant]]:
        """The open UTC segments clipped to ``[start, end)``, for views and tests."""
        found: list[tuple[Instant, Instant]] = []
        if end <= start:
            return found
        first, last = self._year_at(start).year, self._year_at(end - 1).year
        for number in range(first, last + 1):
            year = self._year(number)
            for s, e in zip(year.starts, year.ends, strict=True):
                if min(e, end) > max(s, start):
                    found.append((max(s, start), min(e, end)))
        return found

    # -- the index ---------------------------------------------------------------------

    def _year_at(self, instant: Instant) -> _Year:
        last = self._last
        if last is not None and last.low <= instant < last.high:
            return last
        # The mean Gregorian year finds the year to within one; the year starts settle it.
        number = 1970 + instant // _MEAN_YEAR
        if MIN_YEAR <= number <= MAX_YEAR:
            if instant < self._start_of(number):
                number -= 1
            elif instant >= self._start_of(number + 1):
                number += 1
        return self._year(number)

    def _start_of(self, number: int) -> Instant:
        """The instant local year ``number`` begins (cached: a few hundred at most)."""
        found = self._starts.get(number)
        if found is None:
            found = self._starts[number] = self._local_instant(date(number, 1, 1), 0)
        return found

    def _year(self, number: int) -> _Year:
        year = self._years.get(number)
        if year is None:
            if not MIN_YEAR <= number <= MAX_YEAR:
                raise CalendarError(
                    f"calendar {self.name!r} answers for the years {MIN_YEAR} to {MAX_YEAR}, "
                    f"not {number}"
                )
            year = self._years[number] = self._build(number)
            self._totals[number] = year.total
            if len(self._years) > _KEPT_YEARS:  # the least recently used year goes
                self._years.popitem(last=False)
        else:
            self._years.move_to_end(number)
        self._last = year
        return year

    def _total(self, number: int) -> int:
        total = self._totals.get(number)
        return total if total is not None else self._year(number).total

    def _build(self, number: int) -> _Year:
        """The index of local year ``number``."""
        first, end = date(number, 1, 1), date(number + 1, 1, 1)
        low, high = self._start_of(number), self._start_of(number + 1)
        closed = self.spec.closed_dates
        if self.spec.holidays is not None:
            # Neighbouring years too: an observed holiday can fall on 31 December.
            closed = closed | self.spec.holidays(range(number - 1, number + 2))
        merged: list[list[Instant]] = []
        day = first - _ONE_DAY  # a range of the day before may run into ``first``
        while day < end:
            for opening, closing in self._day_segments(day, closed):
                start, stop = max(opening, low), min(closing, high)
                if stop <= start:
                    continue
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], stop)
                else:
                    merged.append([start, stop])
            day += _ONE_DAY
        return _Year(number, low, high, merged)

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
        which is exactly docs/semantics.md's rule for skipped and repeated local times.
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
