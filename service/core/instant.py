"""Instants: integer microseconds since the Unix epoch, UTC.

Integers keep calendar arithmetic exact (docs/semantics.md asks for exactness to the second, and
sub-second event times must still order correctly); conversion to ``datetime`` happens
only at the edges.
"""

from datetime import UTC, datetime, timedelta

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
    return (moment - _EPOCH) // _ONE_US


def to_datetime(instant: Instant) -> datetime:
    """The instant as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=instant)


def format_instant(instant: Instant) -> str:
    """RFC 3339 in UTC with a ``Z``; microseconds only when there are any."""
    moment = to_datetime(instant)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def to_seconds(micros: int) -> int | float:
    """Microseconds as seconds: an int when whole, else a float."""
    whole, rest = divmod(micros, SECOND)
    return whole if rest == 0 else micros / SECOND
