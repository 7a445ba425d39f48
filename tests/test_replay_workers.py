"""``sla-timer replay --workers N`` prints the same bytes as one process, on generated files
whose tickets span years and arrive out of order (docs/semantics.md: no answer depends on what was
computed before it; docs/semantics.md: late data)."""

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from service.policyfile import load_policies
from service.replay import run_replay

from .bench.generate import stream

POLICIES = load_policies(Path(__file__).parents[1] / "deploy" / "policies")
STARTS = [datetime(year, month, 20, tzinfo=UTC) for year in (2024, 2025, 2026) for month in (6, 12)]


def _lines(seed: int, starts: list[datetime]) -> list[str]:
    """Generated streams one after the other (so a later one may be years earlier), each
    with ticket ids of its own."""
    lines = []
    for number, start in enumerate(starts):
        for line in stream(tickets=40, events=300, late_share=0.2, seed=seed + number, start=start):
            event = json.loads(line)
            event["ticket_id"] = f"{number}-{event['ticket_id']}"
            lines.append(json.dumps(event) + "\n")
    return lines


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 2**16), st.lists(st.sampled_from(STARTS), min_size=2, max_size=3))
def test_one_or_three_workers_print_the_same_bytes(seed: int, starts: list[datetime]) -> None:
    lines = _lines(seed, starts)
    outputs = []
    for workers in (1, 3):
        out, err = io.StringIO(), io.StringIO()
        summary = run_replay(POLICIES, lines, None, out, err, workers=workers)
        outputs.append((out.getvalue(), err.getvalue(), summary.describe()))
    assert outputs[0] == outputs[1]
