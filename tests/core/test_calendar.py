"""Business time arithmetic: docs/semantics.md, with concrete dates."""

from datetime import date

import pytest

from service.core.calendar import national_holidays
from service.core.errors import CalendarError
from service.core.instant import HOUR, MINUTE

from .calendars import NINE_TO_FIVE, WEEKDAYS_9_TO_5, at, calendar, utc

US_OFFICE = calendar(country="US", subdivision="NY")


def test_ticket_created_friday_4pm_with_16_business_hours_breaches_tuesday_4pm() -> None:
    # Mon 2026-01-12 is not a US holiday; 1h Friday + 8h Monday + 7h Tuesday.
    assert US_OFFICE.add(at("2026-01-09 16:00"), 16 * HOUR) == at("2026-01-13 16:00")


def test_deadline_used_up_at_closing_time_is_the_closing_instant() -> None:
    assert US_OFFICE.add(at("2026-01-13 09:00"), 8 * HOUR) == at("2026-01-13 17:00")


def test_clock_started_while_closed_counts_from_next_opening() -> None:
    assert US_OFFICE.add(at("2026-01-10 11:00"), 1 * HOUR) == at("2026-01-12 10:00")


def test_instant_at_a_ranges_end_is_closed() -> None:
    assert US_OFFICE.is_open(at("2026-01-13 16:59:59"))
    assert not US_OFFICE.is_open(at("2026-01-13 17:00"))
    assert US_OFFICE.is_open(at("2026-01-13 09:00"))


def test_national_holiday_is_closed_new_years_day_2026() -> None:
    # 2026-01-01 is a Thursday and a US holiday: Wed 16:00 + 2h = Fri 10:00.
    assert US_OFFICE.add(at("2025-12-31 16:00"), 2 * HOUR) == at("2026-01-02 10:00")


def test_state_subdivision_holiday_lincolns_birthday_in_new_york() -> None:
    # Feb 12 is a New York state holiday only.
    assert not US_OFFICE.is_open(at("2026-02-12 10:00"))
    assert calendar(country="US").is_open(at("2026-02-12 10:00"))


def test_extra_closed_date_and_half_day_override() -> None:
    office = calendar(
        country="US", closed=(date(2026, 12, 24),), overrides={date(2026, 12, 23): ((540, 780),)}
    )
    assert office.between(at("2026-12-23 00:00"), at("2026-12-26 00:00")) == 4 * HOUR


def test_override_opens_a_holiday() -> None:
    office = calendar(country="US", overrides={date(2026, 1, 1): ((600, 660),)})
    assert office.between(at("2026-01-01 00:00"), at("2026-01-02 00:00")) == 1 * HOUR


def test_override_with_no_ranges_closes_the_day() -> None:
    office = calendar(overrides={date(2026, 1, 13): ()})
    assert office.add(at("2026-01-12 16:00"), 2 * HOUR) == at("2026-01-14 10:00")


def test_several_ranges_per_day_skip_lunch() -> None:
    split = calendar(weekly=(((480, 720), (780, 1020)),) * 5 + ((), ()))
    assert split.add(at("2026-01-13 11:00"), 2 * HOUR) == at("2026-01-13 14:00")


def test_range_ending_at_24_00() -> None:
    late = calendar(weekly=(((18 * 60, 24 * 60),),) * 7)
    assert late.add(at("2026-01-13 23:00"), 2 * HOUR) == at("2026-01-14 19:00")


def test_overnight_range_runs_into_next_day() -> None:
    night = calendar(weekly=(((22 * 60, 30 * 60),),) * 5 + ((), ()))
    # Friday 22:00 to Saturday 06:00 is open although Saturday has no ranges.
    assert night.between(at("2026-01-16 22:00"), at("2026-01-17 12:00")) == 8 * HOUR
    assert night.is_open(at("2026-01-17 05:59"))
    assert not night.is_open(at("2026-01-17 06:00"))


def test_24x7_counts_wall_time() -> None:
    always = calendar(timezone="UTC", weekly=(((0, 1440),),) * 7)
    assert always.add(utc("2026-03-01 10:00"), 50 * HOUR) == utc("2026-03-03 12:00")
    assert always.between(utc("2025-12-31 23:00"), utc("2026-01-01 01:00")) == 2 * HOUR
    assert always.business_day == 24 * HOUR


def test_usual_business_day_is_the_most_common_open_day() -> None:
    assert US_OFFICE.business_day == 8 * HOUR
    friday_short = calendar(weekly=(NINE_TO_FIVE,) * 4 + (((540, 780),), (), ()))
    assert friday_short.business_day == 8 * HOUR


def test_calendar_never_open_is_refused() -> None:
    with pytest.raises(CalendarError, match="never open"):
        calendar(weekly=((),) * 7)


def test_unknown_holiday_country_names_the_valid_ones() -> None:
    with pytest.raises(CalendarError, match=r"unknown holiday country 'XX'.*ES"):
        national_holidays("XX")
    with pytest.raises(CalendarError, match=r"subdivision 'QQ' of 'US'.*NY"):
        national_holidays("US", "QQ")


def test_far_future_and_past_instants_extend_the_index() -> None:
    office = calendar()
    assert office.add(at("2040-01-06 16:00"), 2 * HOUR) == at("2040-01-09 10:00")
    assert office.add(at("2001-01-05 16:00"), 2 * HOUR) == at("2001-01-08 10:00")
    assert office.between(at("2001-01-05 16:00"), at("2040-01-06 17:00")) > 0


# -- DST (docs/semantics.md): local ranges are wall-clock; skipped times move forward, repeated
#    times take their first occurrence.


def test_spring_forward_new_york_open_day_is_shorter_only_inside_the_gap() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT. A 01:00-04:00 range holds two real hours.
    night = calendar(weekly=(((60, 240),),) * 7)
    assert night.between(at("2026-03-08 00:00"), at("2026-03-09 00:00")) == 2 * HOUR


def test_spring_forward_boundary_in_the_gap_reads_as_after_the_change() -> None:
    # A range starting at 02:30 on the change day starts at 03:30 EDT (07:30Z).
    gap = calendar(weekly=(((150, 300),),) * 7)
    segments = gap.segments(at("2026-03-08 00:00"), at("2026-03-09 00:00"))
    assert segments == [(utc("2026-03-08 07:30"), utc("2026-03-08 09:00"))]


def test_fall_back_new_york_repeated_hour_counts_twice() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST: 00:00-03:00 holds four real hours.
    night = calendar(weekly=(((0, 180),),) * 7)
    assert night.between(at("2026-11-01 00:00"), at("2026-11-02 00:00")) == 4 * HOUR


def test_fall_back_ambiguous_boundary_takes_first_occurrence() -> None:
    # A range starting at 01:30 starts at the first 01:30 (EDT, 05:30Z).
    ambiguous = calendar(weekly=(((90, 240),),) * 7)
    segments = ambiguous.segments(at("2026-11-01 00:00"), at("2026-11-02 00:00"))
    assert segments == [(utc("2026-11-01 05:30"), utc("2026-11-01 09:00"))]


def test_dst_outside_open_hours_changes_nothing_london() -> None:
    # Europe/London springs forward 2026-03-29 01:00 GMT; 9-5 keeps 8 hours.
    london = calendar(timezone="Europe/London", weekly=(NINE_TO_FIVE,) * 7)
    assert (
        london.between(
            at("2026-03-29 00:00", "Europe/London"), at("2026-03-30 00:00", "Europe/London")
        )
        == 8 * HOUR
    )
    assert london.add(at("2026-03-28 16:00", "Europe/London"), 2 * HOUR) == utc("2026-03-29 09:00")


def test_24x7_local_calendar_day_of_23_hours_on_spring_forward_berlin() -> None:
    berlin = calendar(timezone="Europe/Berlin", weekly=(((0, 1440),),) * 7)
    day = berlin.between(
        at("2026-03-29 00:00", "Europe/Berlin"), at("2026-03-30 00:00", "Europe/Berlin")
    )
    assert day == 23 * HOUR


def test_half_hour_offset_zone_kolkata() -> None:
    india = calendar(timezone="Asia/Kolkata", weekly=(((600, 1080),),) * 5 + ((), ()))
    # 10:00 IST is 04:30Z.
    assert india.add(utc("2026-01-12 00:00"), 30 * MINUTE) == utc("2026-01-12 05:00")


def test_half_hour_dst_zone_lord_howe() -> None:
    # Australia/Lord_Howe moves by 30 minutes: 2026-04-05 02:00 LHDT -> 01:30 LHST.
    lord_howe = calendar(timezone="Australia/Lord_Howe", weekly=(((0, 180),),) * 7)
    day = lord_howe.between(
        at("2026-04-05 00:00", "Australia/Lord_Howe"), at("2026-04-06 00:00", "Australia/Lord_Howe")
    )
    assert day == 3 * HOUR + 30 * MINUTE


def test_weekly_hours_default_cover_the_reference_week() -> None:
    assert WEEKDAYS_9_TO_5[5] == () and WEEKDAYS_9_TO_5[6] == ()
