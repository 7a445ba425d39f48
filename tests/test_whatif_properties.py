"""Properties of the comparison (docs/whatif.md): swapping the directories mirrors every row,
flip and move; a side compared with itself changes nothing."""

import io
import json
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.compliance import CycleKey, Outcome, Tally
from service.core.policy import PolicySet
from service.policyfile import load_policy_text
from service.replay import ReplaySummary
from service.report.build import Line
from service.whatif.compare import Comparison, compare
from service.whatif.play import Job, play_both
from service.whatif.side import Counted, Side

POLICIES = ("p", "q", "r")

cycle_keys = st.tuples(
    st.sampled_from(["acme", "globex"]),
    st.sampled_from([f"T{n}" for n in range(8)]),
    st.sampled_from(["first_response", "resolution"]),
    st.integers(1, 2),
)
counted = st.builds(
    Counted,
    policy=st.sampled_from(POLICIES),
    month=st.sampled_from(["2026-01", "2026-02", "2026-03"]),
    met=st.booleans(),
    deadline=st.none() | st.integers(0, 10**12),
    at=st.integers(0, 10**12),
    calendar=st.just("utc"),
)
targets = st.fixed_dictionaries(
    {name: st.sampled_from([None, 0.5, 0.9, 0.992]) for name in POLICIES}
)
governed = st.dictionaries(
    st.tuples(st.sampled_from(["acme", "globex"]), st.sampled_from([f"T{n}" for n in range(8)])),
    st.none() | st.sampled_from(POLICIES),
)


@st.composite
def sides(draw: st.DrawFn) -> Side:
    cycles: dict[CycleKey, Counted] = draw(st.dictionaries(cycle_keys, counted, max_size=30))
    tally = Tally()
    tally.add(Outcome(c.policy, key[2], c.month, c.met) for key, c in cycles.items())
    chosen = draw(targets)
    lines = [Line(row, chosen[row.policy]) for row in tally.rows()]
    return Side(ReplaySummary(), lines, cycles, draw(governed))


def mirrored(comparison: Comparison) -> tuple[object, ...]:
    """The comparison as the other direction would state it."""
    return (
        [(p.policy, p.metric, p.month, p.proposed, p.current) for p in comparison.rows],
        [(f.cycle, f.proposed, f.current) for f in comparison.flips],
        comparison.only[::-1],
        {name: counts[::-1] for name, counts in comparison.matching.tickets.items()},
        {(new, old): n for old, new, n in comparison.matching.moves},
        (comparison.to_met, comparison.to_breached),
    )


def stated(comparison: Comparison) -> tuple[object, ...]:
    return (
        [(p.policy, p.metric, p.month, p.current, p.proposed) for p in comparison.rows],
        [(f.cycle, f.current, f.proposed) for f in comparison.flips],
        comparison.only,
        comparison.matching.tickets,
        {(old, new): n for old, new, n in comparison.matching.moves},
        (comparison.to_breached, comparison.to_met),
    )


@given(sides(), sides())
def test_swapping_current_and_proposed_mirrors_the_comparison(a: Side, b: Side) -> None:
    forward, backward = compare(a, b), compare(b, a)
    assert stated(backward) == mirrored(forward)
    for there, back in zip(forward.rows, backward.rows, strict=True):
        assert there.breach_change == -back.breach_change
        assert there.points_change == (None if back.points_change is None else -back.points_change)
        assert there.is_changed == back.is_changed


@given(sides())
def test_a_side_compared_with_itself_changes_nothing(a: Side) -> None:
    comparison = compare(a, a)
    assert not any(pair.is_changed for pair in comparison.rows)
    assert comparison.flips == [] and comparison.only == (0, 0)
    assert not comparison.matching.is_different


@given(sides(), sides())
def test_flips_are_exactly_the_cycles_met_under_one_and_breached_under_the_other_newest_first(
    a: Side, b: Side
) -> None:
    flips = compare(a, b).flips
    expected = {
        key for key in a.cycles.keys() & b.cycles.keys() if a.cycles[key].met != b.cycles[key].met
    }
    assert {flip.cycle for flip in flips} == expected
    latest = [max(flip.current.at, flip.proposed.at) for flip in flips]
    assert latest == sorted(latest, reverse=True)


# -- the same, through the engine: random tickets under two random targets ---------------------

OFFICE = """
calendars:
  office:
    timezone: America/New_York
    hours: {{mon-fri: ["09:00-17:00"]}}
    holidays: {{country: US}}
policies:
  - name: support
    calendar: office
    compliance: {{target: 90%}}
    clocks:
      - {{metric: first_response, targets: [{{breach_after: {response}h}}]}}
      - {{metric: resolution, targets: [{{breach_after: {resolution}h}}]}}
"""
START = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("America/New_York"))  # a Monday


@lru_cache
def office(response: int, resolution: int) -> PolicySet:
    return load_policy_text(OFFICE.format(response=response, resolution=resolution))


def history(tickets: list[tuple[int, int, int]]) -> list[bytes]:
    """Tickets as (created, answered after, solved after), in minutes; lines in time order."""
    events = []
    for n, (created, answer, solve) in enumerate(tickets):
        at = START + timedelta(minutes=created)
        for kind, when, extra in (
            ("ticket_created", at, {}),
            ("agent_reply", at + timedelta(minutes=answer), {}),
            ("status_change", at + timedelta(minutes=answer + solve), {"status": "solved"}),
        ):
            body = {"event_id": f"T{n}-{kind}", "type": kind, "ticket_id": f"T{n}"}
            events.append((when, {**body, "occurred_at": when.isoformat(), **extra}))
    events.sort(key=lambda pair: pair[0])
    return [json.dumps(body).encode() + b"\n" for _, body in events]


targets_hours = st.sampled_from([2, 4, 8, 12, 16])
tickets = st.lists(
    st.tuples(
        st.integers(0, 20 * 24 * 60), st.integers(0, 3 * 24 * 60), st.integers(0, 5 * 24 * 60)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(tickets, targets_hours, targets_hours, targets_hours, targets_hours)
def test_swapping_the_directories_mirrors_what_the_engine_makes_of_a_history(
    made: list[tuple[int, int, int]], a1: int, a2: int, b1: int, b2: int
) -> None:
    lines = history(made)
    a, b = office(a1, a2), office(b1, b2)
    forward = compare(*play_both(Job(a, b, lines, None), io.StringIO(), processes=1))
    backward = compare(*play_both(Job(b, a, lines, None), io.StringIO(), processes=1))
    assert stated(backward) == mirrored(forward)
    if (a1, a2) == (b1, b2):
        assert forward.flips == [] and not any(pair.is_changed for pair in forward.rows)
    if a1 <= b1 and a2 <= b2:  # a looser promise only ever turns breached into met
        assert forward.to_breached == 0
