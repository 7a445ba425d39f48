"""``parse_timestamp``'s short cut for the common form (``2026-01-13T09:30:00Z``: a kept
midnight plus a time of day from tables) reads every text as the full parse does: the same
instant, or the same ``ValueError`` with the same message."""

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.wire import parse_timestamp
from service.wire.codec import _parsed


def both(text: str) -> tuple[object, object]:
    """(what ``parse_timestamp`` gives, what the full parse gives): an instant or the
    message of the ``ValueError``."""
    found = []
    for parse in (parse_timestamp, _parsed):
        try:
            found.append(parse(text))
        except ValueError as error:
            found.append(str(error))
    return found[0], found[1]


TIMES = [
    "2026-01-13T09:30:00Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "2199-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "2024-02-29T12:00:00Z",
    "2026-02-29T12:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-01-32T00:00:00Z",
    "2026-01-13t09:30:00Z",
    "2026-01-13 09:30:00Z",
    "2026-01-13X09:30:00Z",
    "2026-01-13T24:00:00Z",
    "2026-01-13T23:60:00Z",
    "2026-01-13T23:59:60Z",
    "2026-01-13T09:30:00z",
    "2026-01-13T09:30:00+00:00",
    "2026-01-13T09:30:00.5Z",
    "2026-1-13T09:30:00Z",
    "+2026-01-13T9:30:00Z",
    "٢٠٢٦-01-13T09:30:00Z",
    "2026-01-13T0٩:30:00Z",
    "2026-01-13T09:3²:00Z",
    "2026-01-1³T09:30:00Z",
    "0000-01-13T09:30:00Z",
    "9999-12-31T23:59:59Z",
    "20260113T093000Z",
    "",
]


@pytest.mark.parametrize("text", TIMES)
def test_the_short_cut_reads_every_edge_as_the_full_parse(text: str) -> None:
    short, full = both(text)
    assert short == full
    assert both(text) == (full, full)  # again, its day now kept (or still refused)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 19), st.sampled_from("0123456789-:TtZz +.٣²x")),
        max_size=3,
    ),
    st.datetimes(),
)
@example([], None)
def test_any_time_of_the_common_length_reads_as_the_full_parse_reads_it(
    changes: list[tuple[int, str]], moment: Any
) -> None:
    text = list(moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "2026-01-13T09:30:00Z")
    for at, character in changes:
        if at < len(text):
            text[at] = character
    short, full = both("".join(text))
    assert short == full


def test_a_valid_day_first_seen_keeps_its_midnight_for_the_next() -> None:
    assert parse_timestamp("2031-07-04T10:00:00Z") - parse_timestamp("2031-07-04T09:59:59Z") == (
        1_000_000
    )
