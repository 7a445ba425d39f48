"""The report as a terminal table: one row per policy, metric and month."""

from .build import Report
from .units import percent, target_percent

HEADER = ("policy", "metric", "month", "met", "breached", "attainment", "target", "")
_RIGHT = frozenset({3, 4, 5, 6})  # the numbers


def render_text(report: Report) -> str:
    if not report.lines:
        return "no counted cycles (no standing sla.met, sla.breach or sla.stopped)\n"
    rows = [HEADER] + [
        (
            line.row.policy,
            line.row.metric,
            line.row.month,
            str(line.row.met),
            str(line.row.breached),
            percent(line.row.ratio),
            target_percent(line.target) if line.target is not None else "-",
            "under target" if line.is_under_target else "",
        )
        for line in report.lines
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    text = "".join(_line(row, widths) for row in rows)
    under = sum(line.is_under_target for line in report.lines)
    cycles = sum(line.row.met + line.row.breached for line in report.lines)
    return text + (
        f"\n{cycles} cycles counted, {len(report.breaches)} breached; "
        f"{under} of {len(report.lines)} rows under target\n"
    )


def _line(row: tuple[str, ...], widths: list[int]) -> str:
    cells = [
        cell.rjust(width) if i in _RIGHT else cell.ljust(width)
        for i, (cell, width) in enumerate(zip(row, widths, strict=True))
    ]
    return "  ".join(cells).rstrip() + "\n"
