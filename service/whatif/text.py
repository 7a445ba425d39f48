"""The comparison as terminal text: the compliance rows side by side (current → proposed), those
that change only unless every row is asked for, the cycles whose outcome flips, and, when they
differ, which policy governs the tickets."""

from collections.abc import Sequence
from dataclasses import dataclass

from service.core.compliance import ZoneOf
from service.report.units import local_time, percent, target_percent

from .compare import SIDES, Comparison, Flip, RowPair, meets
from .side import Counted

ARROW = " → "
HEADER = (
    "policy",
    "metric",
    "month",
    "cycles",
    "breached",
    "Δ breached",
    "attainment",
    "Δ points",
    "target",
    "meets target",
)
_RIGHT = frozenset({5, 7})  # the changes, signed numbers


@dataclass(frozen=True)
class Labels:
    """What the reader calls the two directories, and how to show times in each."""

    current: str
    proposed: str
    zones: tuple[ZoneOf, ZoneOf]


def render_text(comparison: Comparison, labels: Labels, flips: int, every_row: bool = False) -> str:
    """The whole comparison: the rows that change (every row when ``every_row``), and at
    most ``flips`` flipped cycles listed, newest first."""
    parts = [
        f"current: {labels.current}\nproposed: {labels.proposed}\n",
        _rows(comparison.rows, every_row),
        _flips(comparison, labels, flips),
    ]
    if comparison.matching.is_different:
        parts.append(_matching(comparison))
    return "\n".join(parts)


def _rows(rows: list[RowPair], every_row: bool) -> str:
    """The table of the rows that change (of every row when ``every_row``), then how many
    change, how many are under target on each side and how many were left out."""
    if not rows:
        return "no counted cycles under either policy directory\n"
    shown = rows if every_row else [pair for pair in rows if pair.is_changed]
    table = _aligned([HEADER] + [_row(pair) for pair in shown], _RIGHT) + "\n" if shown else ""
    changed = sum(pair.is_changed for pair in rows)
    under = [sum(meets(getattr(pair, side)) is False for pair in rows) for side in SIDES]
    text = (
        f"{table}{changed} of {len(rows)} rows change; "
        f"rows under target: {under[0]}{ARROW}{under[1]}\n"
    )
    if left_out := len(rows) - len(shown):
        unchanged = "unchanged row" + ("s" if left_out != 1 else "")
        text += f"{left_out} {unchanged} left out (--all prints every row)\n"
    return text


def _row(pair: RowPair) -> tuple[str, ...]:
    lines = (pair.current, pair.proposed)
    cycles = [str(x.row.met + x.row.breached) if x else "-" for x in lines]
    breached = [str(x.row.breached) if x else "-" for x in lines]
    attainment = [percent(x.row.ratio) if x else "-" for x in lines]
    targets = [target_percent(x.target) if x.target is not None else "-" for x in lines if x]
    target = targets[0] if len(set(targets)) == 1 else ARROW.join(targets)  # the target moved
    points = pair.points_change
    return (
        pair.policy,
        pair.metric,
        pair.month,
        ARROW.join(cycles),
        ARROW.join(breached),
        signed(pair.breach_change),
        ARROW.join(attainment),
        signed_points(points) if points is not None else "-",
        target,
        ARROW.join(yes_no(meets(x)) for x in lines),
    )


def signed(number: int) -> str:
    return f"{number:+d}" if number else "0"


def signed_points(hundredths: int) -> str:
    if not hundredths:
        return "0"
    whole, part = divmod(abs(hundredths), 100)
    return f"{'+' if hundredths > 0 else '-'}{whole}.{part:02d}"


def yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def _flips(comparison: Comparison, labels: Labels, shown: int) -> str:
    flips = comparison.flips
    text = "no cycle flips between met and breached\n"
    if flips:
        text = (
            f"{len(flips)} cycles flip: {comparison.to_breached} met{ARROW}breached, "
            f"{comparison.to_met} breached{ARROW}met (newest first)\n"
        )
    if flips and shown > 0:
        header = ("ticket", "policy", "metric", "cycle", "current deadline", "proposed deadline")
        table = [(*header, "outcome")] + [_flip(flip, labels) for flip in flips[:shown]]
        text += _aligned(table, frozenset({3}))
    if len(flips) > shown:
        text += f"and {len(flips) - shown} more\n"
    only_current, only_proposed = comparison.only
    if only_current or only_proposed:
        text += (
            f"{only_current + only_proposed} cycles are counted under only one directory "
            f"({only_current} current, {only_proposed} proposed): cancelled, excluded or still "
            "open under the other\n"
        )
    return text


def _flip(flip: Flip, labels: Labels) -> tuple[str, ...]:
    tenant, ticket, metric, cycle = flip.cycle
    policies = dict.fromkeys((flip.current.policy, flip.proposed.policy))  # one when the same
    policy = ARROW.join(policies)
    outcome = ARROW.join(
        "met" if side.met else "breached" for side in (flip.current, flip.proposed)
    )
    return (
        f"{tenant}/{ticket}",
        policy,
        metric,
        str(cycle),
        deadline(flip.current, labels.zones[0]),
        deadline(flip.proposed, labels.zones[1]),
        outcome,
    )


def deadline(counted: Counted, zone_of: ZoneOf) -> str:
    if counted.deadline is None:
        return "(paused)"
    return local_time(counted.deadline, zone_of(counted.calendar))


def _matching(comparison: Comparison) -> str:
    matching = comparison.matching
    tickets = sum(current for current, _ in matching.tickets.values())
    moved = sum(count for _, _, count in matching.moves)
    counts = [("policy", "current", "proposed")] + [
        (name, str(current), str(proposed))
        for name, (current, proposed) in matching.tickets.items()
    ]
    moves = [("moved", "tickets")] + [
        (f"{old}{ARROW}{new}", str(count)) for old, new, count in matching.moves
    ]
    return (
        f"matching differs: {moved} of {tickets} tickets are governed by another policy "
        "under the proposed directory (the policy at the end of the replay)\n"
        + _aligned(counts, right=frozenset({1, 2}))
        + "\n"
        + _aligned(moves, right=frozenset({1}))
    )


def _aligned(rows: Sequence[tuple[str, ...]], right: frozenset[int]) -> str:
    """Columns padded to their widest cell; those in ``right`` (numbers) right-aligned, and
    the arrows of a column of "current → proposed" cells one above the other."""
    rows = [rows[0], *_arrows_aligned(rows[1:])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        + "\n"
        for row in rows
    )


def _arrows_aligned(rows: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    columns = [list(column) for column in zip(*rows, strict=True)]
    for column in columns:
        if not all(ARROW in cell for cell in column):
            continue
        parts = [cell.split(ARROW, 1) for cell in column]
        left = max(len(before) for before, _ in parts)
        column[:] = [f"{before.rjust(left)}{ARROW}{after}" for before, after in parts]
    return [tuple(row) for row in zip(*columns, strict=True)]
