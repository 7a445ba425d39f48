"""Duration and threshold strings of the policy format (docs/policies.md).

``30s``, ``15m``, ``4h``, ``2d`` and combinations such as ``1d4h``; a ``d`` is a business
day of the clock's calendar, so a duration stays symbolic until a calendar resolves it.
Warning thresholds are an absolute elapsed time (``8h``), a share of the target (``75%``)
or a lead time before the deadline (``-30m``).
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidDuration
from .instant import HOUR, MINUTE, SECOND

_PART = re.compile(r"(\d+)([dhms])")
_WHOLE = re.compile(r"(?:\d+[dhms])+")
_UNIT = {"h": HOUR, "m": MINUTE, "s": SECOND}
_ORDER = "dhms"


@dataclass(frozen=True, slots=True)
class Duration:
    """Business days plus a fixed part in microseconds."""

    days: int
    micros: int

    def resolve(self, business_day: int) -> int:
        """Microseconds of business time, given the length of a business day."""
        return self.days * business_day + self.micros


def parse_duration(text: str) -> Duration:
    """Parse ``1d4h30m``; units in descending order, each at most once, total above zero."""
    text = text.strip()
    if not _WHOLE.fullmatch(text):
        raise InvalidDuration(
            f"{text!r} is not a duration: use whole numbers with d, h, m, s, e.g. 30m, 4h, 1d4h"
        )
    parts = _PART.findall(text)
    units = [unit for _, unit in parts]
    if units != sorted(set(units), key=_ORDER.index):
        raise InvalidDuration(f"{text!r}: write each unit once, largest first (d, h, m, s)")
    days = sum(int(n) for n, unit in parts if unit == "d")
    micros = sum(int(n) * _UNIT[unit] for n, unit in parts if unit != "d")
    if days == 0 and micros == 0:
        raise InvalidDuration(f"{text!r} is zero; a duration must be positive")
    return Duration(days, micros)


class ThresholdKind(StrEnum):
    ELAPSED = "elapsed"
    SHARE = "share"
    LEAD = "lead"


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    """A ``warn_at`` entry before a calendar and a target make it concrete."""

    label: str
    kind: ThresholdKind
    duration: Duration | None = None
    percent: float = 0.0

    def elapsed_at(self, target: int, business_day: int) -> int:
        """Business microseconds elapsed when this threshold is reached, for a target."""
        if self.kind is ThresholdKind.SHARE:
            return round(target * self.percent / 100)
        assert self.duration is not None
        amount = self.duration.resolve(business_day)
        return amount if self.kind is ThresholdKind.ELAPSED else target - amount


_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def parse_threshold(text: str) -> ThresholdSpec:
    """Parse ``75%``, ``8h`` or ``-30m``."""
    label = text.strip()
    share = _PERCENT.fullmatch(label)
    if share:
        percent = float(share.group(1))
        if not 0 < percent < 100:
            raise InvalidDuration(f"{label!r}: a share must be above 0% and below 100%")
        return ThresholdSpec(label, ThresholdKind.SHARE, percent=percent)
    if label.startswith("-"):
        return ThresholdSpec(label, ThresholdKind.LEAD, duration=parse_duration(label[1:]))
    try:
        return ThresholdSpec(label, ThresholdKind.ELAPSED, duration=parse_duration(label))
    except InvalidDuration:
        raise InvalidDuration(
            f"{label!r} is not a threshold: use a share (75%), an elapsed time (8h) "
            "or a lead time before the deadline (-30m)"
        ) from None
