"""``sla-timer report``: compliance per policy, metric and calendar month (docs/semantics.md), from
SLA events in JSON-lines files or a whole SLA events topic, as a terminal table and
optionally a self-contained HTML page."""

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from service.connection import Connection
from service.core.errors import InvalidPolicies, SlaTimerError
from service.policyfile import load_policies

from .build import build_report
from .html import render_html
from .read import Ledger, read_lines
from .text import render_text

MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class ReportRequest:
    policies: Path
    files: Sequence[str]  # JSON-lines files, "-" for stdin; empty when reading a topic
    topic: str | None = None
    kafka: Connection = field(default_factory=Connection)
    html: Path | None = None


def run_report(request: ReportRequest, out: TextIO, err: TextIO) -> int:
    """Print the table (and write the page); 1 when some input is not an SLA event or the
    topic cannot be read, 2 for invalid policies."""
    try:
        policies = load_policies(request.policies)
    except InvalidPolicies as error:
        print(error, file=err)
        return 2
    ledger = Ledger(in_order=request.topic is not None)
    try:
        problems = _read(request, ledger)
    except (OSError, SlaTimerError, UnicodeDecodeError) as error:
        print(f"sla-timer report: {error}", file=err)
        return 1
    if problems:
        for problem in problems[:MAX_PROBLEMS_SHOWN]:
            print(problem, file=err)
        if len(problems) > MAX_PROBLEMS_SHOWN:
            print(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more", file=err)
        print(f"no report: {len(problems)} of the inputs are not SLA events", file=err)
        return 1
    report = build_report(ledger.standing(), policies)
    for note in report.notes:
        print(f"note: {note}", file=err)
    out.write(render_text(report))
    if request.html is not None:
        request.html.write_text(render_html(report), encoding="utf-8")
        print(f"wrote {request.html}", file=err)
    return 0


def _read(request: ReportRequest, ledger: Ledger) -> list[str]:
    if request.topic is not None:
        from .kafka import read_topic  # noqa: PLC0415 (Kafka clients: load them here only)

        return read_topic(request.topic, request.kafka, ledger)
    problems = []
    for name in request.files:
        if name == "-":
            problems += read_lines("stdin", sys.stdin, ledger)
        else:
            with Path(name).open(encoding="utf-8") as lines:
                problems += read_lines(name, lines, ledger)
    return problems
