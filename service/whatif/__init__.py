"""``sla-timer whatif``: one history replayed under the current and a proposed policy
directory, compared per policy, metric and month, cycle by cycle and ticket by ticket
(docs/whatif.md)."""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from service.core.errors import InvalidPolicies
from service.core.instant import Instant
from service.core.policy import PolicySet
from service.policyfile import load_policies
from service.report.build import Zones

from .compare import compare
from .html import render_html
from .play import Events, Job, WhatifFailed, play_both
from .side import Side
from .text import Labels, render_text

DEFAULT_FLIPS = 20


@dataclass(frozen=True)
class WhatifRequest:
    policies: Path  # the current directory
    proposed: Path
    events: str  # a JSON-lines file of input events, "-" for stdin
    until: Instant | None = None
    html: Path | None = None
    flips: int = DEFAULT_FLIPS  # flipped cycles listed; the rest are counted
    every_row: bool = False  # list the rows that do not change too (--all)
    processes: int = 2  # sharing the tickets, as replay's workers do


def run_whatif(request: WhatifRequest, out: TextIO, err: TextIO) -> int:
    """Print the comparison (and write the page). 0; 1 when some input lines are invalid
    (each reported as replay reports it; the rest is compared); 2 for invalid policies or
    an unreadable events file; 3 when a replay's process died."""
    loaded = _load(request, err)
    if loaded is None:
        return 2
    try:
        events = _events(request.events)
    except OSError as error:
        print(f"sla-timer whatif: cannot read {request.events}: {error.strerror}", file=err)
        return 2
    job = Job(loaded[0], loaded[1], events, request.until)
    try:
        sides = play_both(job, err, processes=request.processes)
    except WhatifFailed as error:
        print(f"sla-timer whatif: {error}", file=err)
        return 3
    invalid = _report_lines(sides, err)
    comparison = compare(*sides)
    labels = Labels(
        str(request.policies), str(request.proposed), (Zones(loaded[0]), Zones(loaded[1]))
    )
    out.write(render_text(comparison, labels, request.flips, request.every_row))
    if request.html is not None:
        request.html.write_text(render_html(comparison, labels, request.flips), encoding="utf-8")
        print(f"wrote {request.html}", file=err)
    return 1 if invalid else 0


def _load(request: WhatifRequest, err: TextIO) -> tuple[PolicySet, PolicySet] | None:
    """Both directories, or None having printed every problem of each."""
    loaded: list[PolicySet] = []
    for flag, directory in (("--policies", request.policies), ("--proposed", request.proposed)):
        try:
            loaded.append(load_policies(directory))
        except InvalidPolicies as error:
            print(f"{flag} {directory}: {error}", file=err)
    if len(loaded) < 2:
        return None
    return loaded[0], loaded[1]


def _events(name: str) -> Events:
    """The file, checked readable before any replay starts; stdin is read whole, once, for
    both replays."""
    if name == "-":
        return sys.stdin.buffer.readlines()
    path = Path(name)
    with path.open("rb"):
        return path


def _report_lines(sides: list[Side], err: TextIO) -> int:
    """Print each invalid line once (naming the side when only one refused it, or refused
    it for another reason), then each replay's summary; return how many lines were invalid."""
    current, proposed = ({n: r for n, r in side.summary.invalid} for side in sides)
    for number in sorted(current.keys() | proposed.keys()):
        reasons = (current.get(number), proposed.get(number))
        if reasons[0] == reasons[1]:
            print(f"line {number}: {reasons[0]}", file=err)
            continue
        for side, reason in zip(("current", "proposed"), reasons, strict=True):
            if reason is not None:
                print(f"line {number} ({side}): {reason}", file=err)
    for side, played in zip(("current", "proposed"), sides, strict=True):
        print(f"{side}: {played.summary.describe()}", file=err)
    return len(current.keys() | proposed.keys())
