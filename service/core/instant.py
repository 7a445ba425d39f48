"""Instants: integer microseconds since the Unix epoch, UTC.

Integers keep calendar arithmetic exact (docs/semantics.md asks for exactness to the second, and
sub-second event times must still order correctly); conversion to ``datetime`` happens
only at the edges.
"""

from datetime import UTC, date, datetime, timedelta

Instant = int
"""Microseconds since 1970-01-01T00:00:00Z."""

MICROSECOND = 1
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def from_datetime(moment: datetime) -> Instant:
    """The instant of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def to_datetime(instant: Instant) -> datetime:
    """The instant as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=instant)


def format_instant(instant: Instant) -> str:
    """RFC 3339 in UTC with a ``Z``; microseconds only when there are any. It runs for
    every instant of every SLA event written, so the date part of each day is made once
    (a day of the supported range, at most 84,000 of them, is about 80 bytes)."""
    days, rest = divmod(instant, DAY)
    prefix = _DATES.get(days)
    if prefix is None:
        prefix = _DATES[days] = (_EPOCH_DATE + timedelta(days=days)).isoformat() + "T"
    seconds, micros = divmod(rest, SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    two = _TWO_DIGITS
    if micros:
        return f"{prefix}{two[hour]}:{two[minute]}:{two[second]}.{micros:06}Z"
    return f"{prefix}{two[hour]}:{two[minute]}:{two[second]}Z"


_EPOCH_DATE = date(1970, 1, 1)
_DATES: dict[int, str] = {}
_TWO_DIGITS = [f"{number:02}" for number in range(60)]


def to_seconds(micros: int) -> int | float:
    """Microseconds as seconds: an int when whole, else a float."""
    whole, rest = divmod(micros, SECOND)
    return whole if rest == 0 else micros / SECOND
