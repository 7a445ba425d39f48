"""Properties of business time arithmetic that hold for every calendar and instant."""

from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.calendar import BusinessCalendar
from service.core.instant import HOUR, SECOND

from .calendars import calendar, utc

CALENDARS = [
    calendar(country="US", subdivision="NY"),
    calendar(timezone="Europe/Madrid", weekly=(((480, 1080),),) * 5 + ((), ()), country="ES"),
    calendar(timezone="Asia/Kolkata", weekly=(((600, 1080),),) * 5 + ((), ()), country="IN"),
    calendar(timezone="Australia/Lord_Howe", weekly=(((0, 180), (1320, 1620)),) * 7),
    calendar(timezone="UTC", weekly=(((0, 1440),),) * 7),
]
START, END = utc("2024-01-01 00:00"), utc("2030-01-01 00:00")

instants = st.integers(min_value=START, max_value=END)
amounts = st.integers(min_value=1, max_value=200 * HOUR)
calendars = st.sampled_from(CALENDARS)
settings.register_profile("default", max_examples=300, deadline=None)
settings.load_profile("default")


@given(calendars, instants, amounts, amounts)
def test_adding_a_then_b_equals_adding_a_plus_b(cal, start, a, b) -> None:  # type: ignore[no-untyped-def]
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@given(calendars, instants, amounts)
def test_between_start_and_deadline_is_the_amount(cal, start, amount) -> None:  # type: ignore[no-untyped-def]
    assert cal.between(start, cal.add(start, amount)) == amount


@given(calendars, instants, amounts, amounts)
def test_later_starts_and_larger_amounts_never_give_earlier_deadlines(  # type: ignore[no-untyped-def]
    cal, start, a, b
) -> None:
    small, large = sorted((a, b))
    assert cal.add(start, small) <= cal.add(start, large)
    assert cal.add(start, small) <= cal.add(start + small, small)


@given(calendars, instants, amounts)
def test_a_deadline_never_falls_in_a_closed_period(cal, start, amount) -> None:  # type: ignore[no-untyped-def]
    deadline = cal.add(start, amount)
    # Open just before it: the last business microsecond is counted there.
    assert cal.is_open(deadline - 1)


@given(calendars, instants, st.integers(min_value=0, max_value=30 * 24 * HOUR))
def test_business_time_never_exceeds_wall_time(cal, start, span) -> None:  # type: ignore[no-untyped-def]
    assert 0 <= cal.between(start, start + span) <= span


@given(calendars, instants, instants, instants)
def test_between_is_additive(cal, a, b, c) -> None:  # type: ignore[no-untyped-def]
    a, b, c = sorted((a, b, c))
    assert cal.between(a, b) + cal.between(b, c) == cal.between(a, c)


def test_second_precision_is_exact() -> None:
    cal = CALENDARS[0]
    start = utc("2026-01-13 14:00:00") + 1
    assert cal.add(start, SECOND) - start == SECOND


# -- purity (docs/semantics.md: business time is a function of the calendar and the two instants) --

SPECS = [cal.spec for cal in CALENDARS]
WIDE = st.integers(min_value=utc("1970-01-01 00:00"), max_value=utc("2199-12-31 00:00"))
Query = tuple[str, int, int, int]
queries = st.lists(
    st.tuples(st.sampled_from(["between", "add", "is_open"]), WIDE, WIDE, amounts), max_size=6
)


def _ask(cal: BusinessCalendar, query: Query) -> object:
    kind, instant, other, amount = query
    if kind == "between":
        return cal.between(instant, other)
    if kind == "add":
        return cal.add(instant, amount)
    return cal.is_open(instant)


@settings(max_examples=40)
@given(st.sampled_from(SPECS), queries)
def test_a_shared_calendar_answers_as_fresh_calendars_do(spec, asked) -> None:  # type: ignore[no-untyped-def]
    shared = BusinessCalendar(spec)
    for query in asked:
        assert _ask(shared, query) == _ask(BusinessCalendar(spec), query), query
        _, a, b, _ = query  # and a fresh calendar does not depend on the order it is asked in
        assert BusinessCalendar(spec).between(a, b) == -BusinessCalendar(spec).between(b, a)


def test_a_calendar_asked_about_2026_first_still_counts_2024_correctly() -> None:
    shared = BusinessCalendar(CALENDARS[-1].spec)  # 24x7
    shared.add(utc("2026-06-15 12:00"), HOUR)
    start = utc("2024-12-31 12:00")
    assert shared.between(start, utc("2025-01-02 12:00")) == 48 * HOUR
    assert shared.add(start, 72 * HOUR) == utc("2025-01-03 12:00")
