"""Deadline computations per second: SLA Timer's calendar against ``businesstimedelta``.

Same inputs for both: a 9-5 America/New_York calendar with US federal holidays over five
years, random starts in those years, targets from 1 hour to 5 business days, whole
seconds. Run with ``make bench``; the figures are printed, nothing is asserted.
"""

import datetime as dt
import random
import time

import businesstimedelta
import holidays
import pytz

from service.core.calendar import BusinessCalendar, CalendarSpec, national_holidays
from service.core.instant import HOUR, SECOND, from_datetime, to_datetime

YEARS = range(2024, 2029)
SAMPLES = 20_000
ZONE = "America/New_York"


def inputs(count: int) -> list[tuple[dt.datetime, int]]:
    rng = random.Random(20261122)
    low = dt.datetime(YEARS[0], 1, 1, tzinfo=dt.UTC).timestamp()
    high = dt.datetime(YEARS[-1], 12, 1, tzinfo=dt.UTC).timestamp()
    return [
        (
            dt.datetime.fromtimestamp(rng.randint(int(low), int(high)), dt.UTC),
            rng.randint(3600, 40 * 3600),
        )
        for _ in range(count)
    ]


def ours() -> BusinessCalendar:
    nine_to_five = ((9 * 60, 17 * 60),)
    return BusinessCalendar(
        CalendarSpec("us-office", ZONE, (nine_to_five,) * 5 + ((), ()), national_holidays("US"))
    )


def theirs() -> businesstimedelta.Rules:
    zone = pytz.timezone(ZONE)
    workday = businesstimedelta.WorkDayRule(
        start_time=dt.time(9), end_time=dt.time(17), working_days=[0, 1, 2, 3, 4], tz=zone
    )
    closed = businesstimedelta.HolidayRule(holidays.US(years=[*YEARS, YEARS[-1] + 1]), tz=zone)
    return businesstimedelta.Rules([workday, closed])


def timed(
    label: str, work: list[tuple[dt.datetime, int]], add: object
) -> tuple[float, list[dt.datetime]]:
    started = time.perf_counter()
    results = [add(start, seconds) for start, seconds in work]  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    rate = len(work) / elapsed
    print(f"  {label:<44} {rate:>12,.0f} deadlines/s  ({elapsed:.2f} s for {len(work):,})")
    return rate, results


def main() -> None:
    work = inputs(SAMPLES)
    calendar, rules = ours(), theirs()
    for start, _ in work:  # build the index of every year outside the timing
        calendar.add(from_datetime(start), HOUR)
    print(
        f"calendar benchmark: {SAMPLES:,} deadlines, 9-5 {ZONE}, US holidays {YEARS[0]}-{YEARS[-1]}"
    )
    as_datetime = lambda start, s: to_datetime(calendar.add(from_datetime(start), s * SECOND))  # noqa: E731
    as_instant = [(from_datetime(start), s * SECOND) for start, s in work]
    rate_ours, ours_out = timed("sla-timer (datetime in and out)", work, as_datetime)
    rate_core, _ = timed("sla-timer core (integer microseconds)", as_instant, calendar.add)  # type: ignore[arg-type]
    rate_theirs, theirs_out = timed(
        "businesstimedelta 1.0.1",
        work,
        lambda start, s: (
            start + businesstimedelta.BusinessTimeDelta(rules, timedelta=dt.timedelta(seconds=s))
        ),
    )
    agree = sum(a == b for a, b in zip(ours_out, theirs_out, strict=True))
    print(
        f"  ratio (datetime API / businesstimedelta): {rate_ours / rate_theirs:,.1f}x (goal: 30x)"
    )
    print(f"  ratio (core API / businesstimedelta):     {rate_core / rate_theirs:,.1f}x")
    print(f"  same deadline from both: {agree:,} of {len(work):,}")
    disagreements = [
        (s, sec, a, b) for (s, sec), a, b in zip(work, ours_out, theirs_out, strict=True) if a != b
    ]
    for start, seconds, a, b in disagreements[:3]:
        print(f"    differ: {start.isoformat()} + {seconds}s: {a.isoformat()} vs {b.isoformat()}")


if __name__ == "__main__":
    main()
