"""A whole ``sla-timer replay`` process against ``businesstimedelta`` in process, same deadlines.

50,000 one-event tickets (a ``ticket_created`` each) on the 9-5 America/New_York calendar
with US holidays of ``calendar_bench``, starts and targets as there (random starts over five
years, targets from 1 hour to 5 business days, here whole hours so a policy can name them).
``sla-timer replay --workers 1`` runs as its own process, start-up, policy loading and JSON
out included; its rate is tickets per second of wall time. ``businesstimedelta`` computes
the same deadlines in this process. Goal: the replay at 15x businesstimedelta's rate.

Each ticket's deadline is read back from the replay's ``sla.started`` and compared with
businesstimedelta's. The replay's clock is event time, so it also fires the breaches (and
the 75% warnings) of every ticket whose deadline a later ticket's creation has passed:
work businesstimedelta does not do.

``python -m tests.bench.deadline_bench [--tickets 50000]``
"""

import argparse
import datetime as dt
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path

import businesstimedelta

from .calendar_bench import YEARS, theirs

ROOT = Path(__file__).parents[2]
SLA_TIMER = ROOT / ".venv" / "bin" / "sla-timer"
HOURS = (1, 2, 4, 8, 16, 24, 40)  # 40 business hours: five 9-5 days
POLICY = """\
calendars:
  us-office:
    timezone: America/New_York
    hours: {mon-fri: ["09:00-17:00"]}
    holidays: {country: US}
policies:
  - name: office
    match: {tenant: bench}
    calendar: us-office
    clocks:
      - metric: resolution
        targets:
"""


def inputs(count: int) -> list[tuple[dt.datetime, int]]:
    """(start, target hours), ordered by start: the replay's input is in event time."""
    rng = random.Random(20261122)
    low = dt.datetime(YEARS[0], 1, 1, tzinfo=dt.UTC).timestamp()
    high = dt.datetime(YEARS[-1], 12, 1, tzinfo=dt.UTC).timestamp()
    starts = sorted(rng.randint(int(low), int(high)) for _ in range(count))
    return [(dt.datetime.fromtimestamp(s, dt.UTC), rng.choice(HOURS)) for s in starts]


def write_inputs(folder: Path, work: list[tuple[dt.datetime, int]]) -> tuple[Path, Path]:
    policies = folder / "policies"
    policies.mkdir()
    targets = "".join(
        f"          - {{match: {{hours: {h}}}, breach_after: {h}h, warn_at: [75%]}}\n"
        for h in HOURS
    )
    (policies / "office.yaml").write_text(POLICY + targets)
    events = folder / "events.jsonl"
    with events.open("w") as out:
        for number, (start, hours) in enumerate(work):
            event = {
                "event_id": f"e{number}",
                "type": "ticket_created",
                "ticket_id": f"T{number}",
                "tenant": "bench",
                "occurred_at": start.isoformat().replace("+00:00", "Z"),
                "attributes": {"hours": hours},
            }
            out.write(json.dumps(event) + "\n")
    return policies, events


def replay(policies: Path, events: Path) -> tuple[float, dict[str, str], int]:
    """Wall time of the whole process, each ticket's deadline, SLA events written."""
    started = time.perf_counter()
    done = subprocess.run(
        [SLA_TIMER, "replay", "--workers", "1", "--policies", policies, events],
        capture_output=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    deadlines, written = {}, 0
    for line in done.stdout.splitlines():
        written += 1
        event = json.loads(line)
        if event["type"] == "sla.started":
            deadlines[event["ticket_id"]] = event["deadline"]
    return elapsed, deadlines, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=50_000)
    args = parser.parse_args()
    work = inputs(args.tickets)
    rules = theirs()
    with tempfile.TemporaryDirectory() as folder:
        policies, events = write_inputs(Path(folder), work)
        elapsed, deadlines, written = replay(policies, events)
    started = time.perf_counter()
    expected = [
        start + businesstimedelta.BusinessTimeDelta(rules, timedelta=dt.timedelta(hours=hours))
        for start, hours in work
    ]
    theirs_elapsed = time.perf_counter() - started
    agree = sum(
        deadlines.get(f"T{n}") == deadline.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        for n, deadline in enumerate(expected)
    )
    ours_rate, theirs_rate = len(work) / elapsed, len(work) / theirs_elapsed
    print(f"deadline benchmark: {len(work):,} one-event tickets, 9-5 America/New_York, US holidays")
    print(
        f"  sla-timer replay, whole process          {ours_rate:>10,.0f} tickets/s  "
        f"({elapsed:.2f} s, {written:,} SLA events written)"
    )
    print(
        f"  businesstimedelta 1.0.1, in process      {theirs_rate:>10,.0f} deadlines/s  "
        f"({theirs_elapsed:.2f} s)"
    )
    print(f"  ratio: {ours_rate / theirs_rate:,.1f}x (goal: 15x)")
    print(f"  same deadline from both: {agree:,} of {len(work):,}")


if __name__ == "__main__":
    main()
