"""The report as one self-contained HTML page for a customer: per policy, a chart of each
metric's monthly attainment against the target, the monthly figures and the breaches behind
them. No script, no external resource; every value is escaped (attributes come from
customers' tickets)."""

from fractions import Fraction
from html import escape

from .build import Breach, Line, Report
from .chart import Series, attainment_chart
from .units import (
    business_duration,
    local_time,
    metric_name,
    month_name,
    month_range,
    percent,
    target_percent,
)

STYLE = """
:root { --ink: #18202b; --muted: #556070; --rule: #d8dde4; --soft: #f3f5f8;
  --ok: #0b6e65; --bad: #b42318; --target: #8a4b00; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Liberation Sans", sans-serif; }
.page { max-width: 1040px; margin: 0 auto; padding: 40px 32px 56px; }
.report-head { border-bottom: 2px solid var(--ink); padding-bottom: 22px; margin-bottom: 32px; }
.eyebrow { margin: 0 0 4px; font-size: 12px; font-weight: 600; letter-spacing: .08em;
  text-transform: uppercase; color: var(--muted); }
h1 { margin: 0 0 8px; font-size: 30px; line-height: 1.2; font-weight: 700; }
h2 { margin: 0; font-size: 22px; line-height: 1.25; }
h3 { margin: 0; font-size: 16px; }
.lede { margin: 0; max-width: 72ch; color: var(--muted); }
.facts { display: flex; flex-wrap: wrap; gap: 12px 40px; margin: 22px 0 0; }
.facts dt { font-size: 12px; letter-spacing: .04em; text-transform: uppercase;
  color: var(--muted); }
.facts dd { margin: 0; font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.policy { margin: 0 0 56px; }
.policy-head { display: flex; flex-wrap: wrap; justify-content: space-between;
  align-items: baseline; gap: 4px 24px; padding-bottom: 10px; margin-bottom: 18px;
  border-bottom: 1px solid var(--rule); }
.policy-head p { margin: 0; color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr));
  gap: 18px; margin: 0 0 10px; }
figure { margin: 0; padding: 14px 16px 8px; border: 1px solid var(--rule); border-radius: 8px;
  break-inside: avoid; }
figcaption p { margin: 2px 0 0; font-size: 13px; color: var(--muted); }
figcaption .under, td.under { color: var(--bad); font-weight: 600; }
td.ok { color: var(--ok); }
svg { display: block; width: 100%; height: auto; margin-top: 6px; }
svg text { font-size: 12.5px; fill: var(--muted); font-variant-numeric: tabular-nums; }
svg .tick, svg .target-tick { text-anchor: end; }
svg .target-tick { fill: var(--target); font-weight: 700; }
svg .month { text-anchor: middle; }
svg .grid { stroke: var(--rule); stroke-width: 1; }
svg .target { stroke: var(--target); stroke-width: 1.5; stroke-dasharray: 5 4; }
svg .series { fill: none; stroke: var(--ok); stroke-width: 2; }
svg .point.ok { fill: var(--ok); }
svg .point.under { fill: #fff; stroke: var(--bad); stroke-width: 2.5; }
svg .value { text-anchor: middle; font-weight: 600; fill: var(--ink); }
svg .value.under { fill: var(--bad); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 0 0 26px; padding: 0;
  list-style: none; font-size: 13px; color: var(--muted); }
.legend svg { display: inline-block; width: 26px; height: 12px; margin: 0 6px 0 0;
  vertical-align: -1px; }
table { width: 100%; margin: 0 0 26px; border-collapse: collapse; font-size: 13.5px;
  font-variant-numeric: tabular-nums; }
caption { padding: 0 0 8px; text-align: left; font-size: 16px; font-weight: 650; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; }
thead th { font-size: 12px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase;
  color: var(--muted); border-bottom: 1.5px solid var(--ink); }
tbody tr:nth-child(even) { background: var(--soft); }
.num { text-align: right; }
.none { color: var(--muted); margin: 0 0 26px; }
tr { break-inside: avoid; }
footer { padding-top: 12px; border-top: 1px solid var(--rule); font-size: 12.5px;
  color: var(--muted); }
footer p { margin: 0 0 6px; max-width: 90ch; }
@page { size: A4; margin: 14mm; }
@media print {
  body { font-size: 10.5pt; }
  .page { max-width: none; padding: 0; }
  .policy + .policy { break-before: page; }
  .charts { grid-template-columns: repeat(2, 1fr); }
}
"""

LEGEND = """<ul class="legend">
<li><svg viewBox="0 0 26 12" aria-hidden="true"><line x1="1" x2="25" y1="6" y2="6"
 stroke="#8a4b00" stroke-width="1.5" stroke-dasharray="5 4"/></svg>Target</li>
<li><svg viewBox="0 0 26 12" aria-hidden="true"><circle cx="13" cy="6" r="4.5"
 fill="#0b6e65"/></svg>Month at or above target</li>
<li><svg viewBox="0 0 26 12" aria-hidden="true"><circle cx="13" cy="6" r="4"
 fill="#fff" stroke="#b42318" stroke-width="2.5"/></svg>Month below target</li>
</ul>"""

DEFINITIONS = (
    "Attainment is the share of SLA cycles met: met / (met + breached). A cycle counts once, "
    "in the calendar month of its outcome on the support calendar's clock: the month of the "
    "response for a met cycle, the month of the missed deadline for a breached one. Cycles "
    "that were cancelled, are still running, or fall under the contract's exclusions are not "
    "counted. Late by: business time counted past the target when the cycle was stopped."
)


def render_html(report: Report) -> str:
    months = report.months
    period = (
        f"{month_name(months[0])} to {month_name(months[-1])}"
        if months and months[0] != months[-1]
        else month_name(months[0])
        if months
        else "no counted cycles"
    )
    sections = [_policy(index, name, report) for index, name in enumerate(report.policies, 1)]
    body = "\n".join(
        [
            '<div class="page">',
            _head(report, period),
            "<main>",
            *sections,
            "</main>",
            f"<footer><p>{escape(DEFINITIONS)}</p><p>Generated by sla-timer report.</p></footer>",
            "</div>",
        ]
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Service level report: {escape(period)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _head(report: Report, period: str) -> str:
    cycles = sum(line.row.met + line.row.breached for line in report.lines)
    met = sum(line.row.met for line in report.lines)
    facts = [
        ("Policies", str(len(report.policies))),
        ("Cycles counted", f"{cycles:,}"),
        ("Met", f"{met:,}"),
        ("Breached", f"{cycles - met:,}"),
    ]
    items = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return (
        '<header class="report-head">\n<p class="eyebrow">Service level report</p>\n'
        f"<h1>SLA attainment, {escape(period)}</h1>\n"
        '<p class="lede">How many support cycles (first responses, resolutions and the other '
        "clocks of each policy) were completed within their business-hours targets, month by "
        "month, against the target the contract sets.</p>\n"
        f'<dl class="facts">{items}</dl>\n</header>'
    )


def _policy(index: int, policy: str, report: Report) -> str:
    lines = report.lines_of(policy)
    target = report.targets.get(policy)
    promise = (
        f"Target: {target_percent(target)} of cycles met in each calendar month"
        if target is not None
        else "No compliance target in this policy"
    )
    months = [line.row.month for line in lines]
    axis = month_range(min(months), max(months))
    metrics = sorted({line.row.metric for line in lines})
    figures = [
        _figure(f"c{index}-{n}", metric, [x for x in lines if x.row.metric == metric], axis, target)
        for n, metric in enumerate(metrics, 1)
    ]
    return policy_section(
        index,
        policy,
        promise,
        figures,
        LEGEND if target is not None else "",
        _monthly_table(lines),
        _breach_table(report.breaches_of(policy)),
    )


def policy_section(index: int, policy: str, promise: str, figures: list[str], *after: str) -> str:
    """One policy's section of a page in ``STYLE`` (the report's, whatif's): its heading and
    promise, its charts side by side, then ``after`` (the legend, the tables)."""
    return "\n".join(
        [
            f'<section class="policy" aria-labelledby="p{index}">',
            f'<div class="policy-head"><h2 id="p{index}">{escape(policy)}</h2>'
            f"<p>{escape(promise)}</p></div>",
            '<div class="charts">',
            *figures,
            "</div>",
            *after,
            "</section>",
        ]
    )


def _figure(
    chart_id: str, metric: str, lines: list[Line], axis: list[str], target: float | None
) -> str:
    met = sum(line.row.met for line in lines)
    total = met + sum(line.row.breached for line in lines)
    under = frozenset(line.row.month for line in lines if line.is_under_target)
    series = Series(
        chart_id=chart_id,
        title=f"{metric_name(metric)}: monthly attainment",
        months=axis,
        values={line.row.month: line.row.ratio for line in lines},
        under=under,
        target=target,
    )
    summary = f"{percent(Fraction(met, total))} over the period: {met:,} met of {total:,}"
    missed = ""
    if under:
        count = f"{len(under)} month" + ("s" if len(under) != 1 else "")
        missed = f'<p class="under">{count} below target</p>'
    return (
        f"<figure>\n<figcaption><h3>{escape(metric_name(metric))}</h3>"
        f"<p>{escape(summary)}</p>{missed}</figcaption>\n"
        f"{attainment_chart(series)}\n</figure>"
    )


def _monthly_table(lines: list[Line]) -> str:
    rows = []
    for line in sorted(lines, key=lambda x: (x.row.month, x.row.metric)):
        row = line.row
        target = target_percent(line.target) if line.target is not None else "none"
        status, kind = ("Below target", "under") if line.is_under_target else ("On target", "ok")
        if line.target is None:
            status, kind = "", ""
        rows.append(
            "<tr>"
            f'<th scope="row">{escape(month_name(row.month))}</th>'
            f"<td>{escape(metric_name(row.metric))}</td>"
            f'<td class="num">{row.met:,}</td><td class="num">{row.breached:,}</td>'
            f'<td class="num">{escape(percent(row.ratio))}</td>'
            f'<td class="num">{escape(target)}</td><td class="{kind}">{status}</td>'
            "</tr>"
        )
    return (
        "<table>\n<caption>Monthly attainment</caption>\n<thead><tr>"
        '<th scope="col">Month</th><th scope="col">Metric</th>'
        '<th scope="col" class="num">Met</th><th scope="col" class="num">Breached</th>'
        '<th scope="col" class="num">Attainment</th><th scope="col" class="num">Target</th>'
        '<th scope="col">Status</th></tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>"
    )


def _breach_table(breaches: list[Breach]) -> str:
    if not breaches:
        return '<p class="none">No breaches in this period.</p>'
    tenants = {breach.tenant for breach in breaches}
    rows = [_breach_row(breach, show_tenant=len(tenants) > 1) for breach in breaches]
    return (
        f"<table>\n<caption>Breaches ({len(breaches):,})</caption>\n<thead><tr>"
        '<th scope="col">Ticket</th><th scope="col">Metric</th><th scope="col">Deadline</th>'
        '<th scope="col">Stopped</th><th scope="col" class="num">Late by</th>'
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _breach_row(breach: Breach, *, show_tenant: bool) -> str:
    ticket = f"{breach.tenant} / {breach.ticket_id}" if show_tenant else breach.ticket_id
    metric = metric_name(breach.metric)
    if breach.cycle > 1:
        metric += f" (cycle {breach.cycle})"
    stopped = (
        local_time(breach.stopped_at, breach.zone)
        if breach.stopped_at is not None
        else "Still open"
    )
    late = f"{business_duration(breach.late)} business" if breach.late is not None else "-"
    return (
        f'<tr><th scope="row">{escape(ticket)}</th><td>{escape(metric)}</td>'
        f"<td>{escape(local_time(breach.deadline, breach.zone))}</td>"
        f'<td>{escape(stopped)}</td><td class="num">{escape(late)}</td></tr>'
    )
