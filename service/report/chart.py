"""Inline SVG charts of monthly attainment against a target: no script, nothing to fetch.
A second series (``sla-timer whatif``'s proposed policies) is drawn dashed, with squares."""

from dataclasses import dataclass
from fractions import Fraction
from html import escape

from .units import month_name, percent, target_percent

WIDTH, HEIGHT = 440, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 24, 44
_PAD = 20  # between the axes and the first and last months
_FLOORS = (98.0, 95.0, 90.0, 80.0, 50.0, 0.0)  # the y axis starts at the first that fits
_STEPS = {2.0: 0.5, 5.0: 1.0, 10.0: 2.0, 20.0: 5.0, 50.0: 10.0, 100.0: 20.0}
_MAX_VALUE_LABELS = 8  # above this many months only the points under target are labelled


@dataclass(frozen=True, slots=True)
class Series:
    """One metric's attainment per month (months without counted cycles are absent)."""

    chart_id: str
    title: str
    months: list[str]  # the x axis: consecutive months, oldest first
    values: dict[str, Fraction]
    under: frozenset[str]  # months whose attainment is under the target
    target: float | None


def attainment_chart(series: Series, proposed: Series | None = None) -> str:
    """One metric's chart; ``proposed``, on the same months, is drawn over it."""
    floor = _axis_floor(series, proposed)
    scale = _Scale(series.months, floor)
    description = _describe(series)
    if proposed is not None:
        description = f"Current: {description} Proposed: {_describe(proposed)}"
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{series.chart_id}-t {series.chart_id}-d">',
        f'<title id="{series.chart_id}-t">{escape(series.title)}</title>',
        f'<desc id="{series.chart_id}-d">{escape(description)}</desc>',
        *_grid(scale, floor, series.target if series.target is not None else _target(proposed)),
        *_months(scale, series.months),
        *_line(scale, series),
        *_points(scale, series),
    ]
    if proposed is not None:
        if series.target is not None and proposed.target not in (None, series.target):
            parts.append(_rule("target proposed", scale.y(proposed.target * 100)))
        parts += [*_line(scale, proposed, " proposed"), *_points(scale, proposed, proposed=True)]
    parts.append("</svg>")
    return "\n".join(parts)


def _target(series: Series | None) -> float | None:
    return series.target if series is not None else None


class _Scale:
    def __init__(self, months: list[str], floor: float) -> None:
        self.months = months
        self.floor = floor

    def x(self, month: str) -> float:
        inner = WIDTH - LEFT - RIGHT
        if len(self.months) == 1:
            return LEFT + inner / 2
        step = (inner - 2 * _PAD) / (len(self.months) - 1)
        return LEFT + _PAD + self.months.index(month) * step

    def y(self, value: float) -> float:
        """A percentage's height: 100% at the top of the plot."""
        return TOP + (100.0 - value) / (100.0 - self.floor) * (HEIGHT - TOP - BOTTOM)


def _axis_floor(*drawn: Series | None) -> float:
    values = []
    for series in drawn:
        if series is not None:
            values += [float(v) * 100 for v in series.values.values()]
            if series.target is not None:
                values.append(series.target * 100)
    lowest = min(values, default=100.0)
    return next((f for f in _FLOORS if f <= lowest - 0.5), 0.0)


def _grid(scale: _Scale, floor: float, target: float | None) -> list[str]:
    step = _STEPS[100.0 - floor]
    target_y = scale.y(target * 100) if target is not None else None
    parts = []
    tick = floor
    while tick <= 100.0:
        y = scale.y(tick)
        parts.append(_rule("grid", y))
        if target_y is None or abs(target_y - y) > 10:  # the target's own label wins
            parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}">{tick:g}%</text>')
        tick += step
    if target is not None and target_y is not None:
        label = escape(target_percent(target))
        parts += [
            _rule("target", target_y),
            f'<text class="target-tick" x="{LEFT - 6}" y="{target_y + 4:.1f}">{label}</text>',
        ]
    return parts


def _rule(kind: str, y: float) -> str:
    return f'<line class="{kind}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'


def _months(scale: _Scale, months: list[str]) -> list[str]:
    every = max(1, -(-len(months) // 12))  # at most 12 labels
    parts = []
    previous_year = ""
    for index, month in enumerate(months):
        if index % every:
            continue
        name, year = month_name(month, short=True).split(" ")
        x, y = scale.x(month), HEIGHT - BOTTOM + 18
        year_label = f'<tspan x="{x:.1f}" dy="14">{year}</tspan>' if year != previous_year else ""
        previous_year = year
        parts.append(f'<text class="month" x="{x:.1f}" y="{y}">{name}{year_label}</text>')
    return parts


def _line(scale: _Scale, series: Series, kind: str = "") -> list[str]:
    """The attainment line, broken where a month has no counted cycle."""
    runs: list[list[str]] = [[]]
    for month in series.months:
        value = series.values.get(month)
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{scale.x(month):.1f},{scale.y(float(value) * 100):.1f}")
    return [
        f'<polyline class="series{kind}" points="{" ".join(run)}"/>' for run in runs if len(run) > 1
    ]


def _points(scale: _Scale, series: Series, *, proposed: bool = False) -> list[str]:
    """A dot per month (a square for the proposed series, its value written below it)."""
    labelled = len(series.values) <= _MAX_VALUE_LABELS
    parts = []
    for month in series.months:
        value = series.values.get(month)
        if value is None:
            continue
        x, y = scale.x(month), scale.y(float(value) * 100)
        under = month in series.under
        kind = "under" if under else "ok"
        if proposed:
            kind = f"proposed {kind}"
            parts.append(
                f'<rect class="point {kind}" x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8"/>'
            )
        else:
            parts.append(f'<circle class="point {kind}" cx="{x:.1f}" cy="{y:.1f}" r="4.5"/>')
        if labelled or under:
            label_y = y + 20 if proposed else y - 10
            parts.append(
                f'<text class="value {kind}" x="{x:.1f}" y="{label_y:.1f}">{percent(value)}</text>'
            )
    return parts


def _describe(series: Series) -> str:
    values = "; ".join(
        f"{month_name(month)}: {percent(series.values[month])}"
        for month in series.months
        if month in series.values
    )
    target = f" Target {target_percent(series.target)}." if series.target is not None else ""
    return f"Monthly attainment. {values or 'No counted cycles'}.{target}"
