"""What changes between two replays of one history (docs/whatif.md): the compliance rows side
by side, the cycles whose outcome flips, and the tickets another policy governs.

Everything here is symmetric: comparing proposed with current gives the same rows, flips and
moves as comparing current with proposed, each side swapped.
"""

from collections import Counter
from dataclasses import dataclass
from math import floor

from service.core.compliance import CycleKey
from service.core.instant import Instant
from service.report.build import Line

from .side import Counted, Side

NO_POLICY = "(no policy)"
"""How a ticket no policy matches is named in the matching section."""
SIDES = ("current", "proposed")
"""``RowPair``'s two lines, by attribute name."""


@dataclass(frozen=True, slots=True)
class RowPair:
    """One policy, metric and month under both directories (None: no counted cycle there)."""

    policy: str
    metric: str
    month: str
    current: Line | None
    proposed: Line | None

    @property
    def breach_change(self) -> int:
        return breached_of(self.proposed) - breached_of(self.current)

    @property
    def points_change(self) -> int | None:
        """The attainment's change in hundredths of a percentage point, as shown: the
        difference of the two figures truncated to two decimals (None: a side counts none)."""
        if self.current is None or self.proposed is None:
            return None
        return shown(self.proposed) - shown(self.current)

    @property
    def is_changed(self) -> bool:
        """Whether any figure of the row differs: the counts, the target or whether it is met."""
        return (
            _counts(self.current) != _counts(self.proposed)
            or _target(self.current) != _target(self.proposed)
            or meets(self.current) != meets(self.proposed)
        )


@dataclass(frozen=True, slots=True)
class Flip:
    """A cycle counted met under one directory and breached under the other."""

    cycle: CycleKey  # (tenant, ticket id, metric, cycle number)
    current: Counted
    proposed: Counted

    @property
    def latest(self) -> Instant:
        return max(self.current.at, self.proposed.at)


@dataclass(frozen=True)
class Matching:
    """Tickets by the policy governing them at the end, under each directory."""

    tickets: dict[str, tuple[int, int]]  # policy -> (current, proposed)
    moves: list[tuple[str, str, int]]  # from, to, tickets: most first

    @property
    def is_different(self) -> bool:
        return bool(self.moves)


@dataclass(frozen=True)
class Comparison:
    rows: list[RowPair]
    flips: list[Flip]  # newest first
    only: tuple[int, int]  # cycles counted under only the current, only the proposed
    matching: Matching

    @property
    def to_breached(self) -> int:
        return sum(flip.current.met for flip in self.flips)

    @property
    def to_met(self) -> int:
        return sum(flip.proposed.met for flip in self.flips)


def compare(current: Side, proposed: Side) -> Comparison:
    return Comparison(
        rows=_rows(current.lines, proposed.lines),
        flips=_flips(current.cycles, proposed.cycles),
        only=(
            len(current.cycles.keys() - proposed.cycles.keys()),
            len(proposed.cycles.keys() - current.cycles.keys()),
        ),
        matching=_matching(current.governed, proposed.governed),
    )


def shown(line: Line) -> int:
    """The attainment in hundredths of a percent, truncated as the report shows it."""
    return floor(line.row.ratio * 10_000)


def meets(line: Line | None) -> bool | None:
    """Whether the row reaches its target (None: no row, or no target)."""
    if line is None or line.target is None:
        return None
    return not line.is_under_target


def _rows(current: list[Line], proposed: list[Line]) -> list[RowPair]:
    before = {_key(line): line for line in current}
    after = {_key(line): line for line in proposed}
    return [RowPair(*key, before.get(key), after.get(key)) for key in sorted(before.keys() | after)]


def _key(line: Line) -> tuple[str, str, str]:
    return line.row.policy, line.row.metric, line.row.month


def cycles_of(line: Line | None) -> int:
    return line.row.met + line.row.breached if line is not None else 0


def breached_of(line: Line | None) -> int:
    return line.row.breached if line is not None else 0


def _counts(line: Line | None) -> tuple[int, int] | None:
    return (line.row.met, line.row.breached) if line is not None else None


def _target(line: Line | None) -> float | None:
    return line.target if line is not None else None


def _flips(current: dict[CycleKey, Counted], proposed: dict[CycleKey, Counted]) -> list[Flip]:
    flips = [
        Flip(key, before, after)
        for key, before in current.items()
        if (after := proposed.get(key)) is not None and after.met != before.met
    ]
    flips.sort(key=lambda flip: (-flip.latest, flip.cycle))
    return flips


def _matching(
    current: dict[tuple[str, str], str | None], proposed: dict[tuple[str, str], str | None]
) -> Matching:
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    moves: Counter[tuple[str, str]] = Counter()
    for ticket in current.keys() | proposed.keys():
        old = current.get(ticket) or NO_POLICY
        new = proposed.get(ticket) or NO_POLICY
        before[old] += 1
        after[new] += 1
        if old != new:
            moves[(old, new)] += 1
    return Matching(
        tickets={name: (before[name], after[name]) for name in sorted(before.keys() | after)},
        moves=[(old, new, n) for (old, new), n in sorted(moves.items(), key=_most_first)],
    )


def _most_first(item: tuple[tuple[str, str], int]) -> tuple[int, str, str]:
    (old, new), count = item
    return -count, old, new
