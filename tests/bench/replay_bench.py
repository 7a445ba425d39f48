"""``replay`` throughput on generated events with the seed policies, and its peak memory.

Default: one million events over 100,000 tickets (goal: 50,000 events/s). Smaller runs:
``python -m tests.bench.replay_bench --tickets 10000 --events 100000``.
"""

import argparse
import cProfile
import io
import os
import pstats
import resource
import tempfile
import time
from pathlib import Path

from service.policyfile import load_policies
from service.replay import run_replay

from .generate import stream

POLICIES = Path(__file__).parents[2] / "deploy" / "policies"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    parser.add_argument("--policies", type=Path, default=POLICIES)
    args = parser.parse_args()
    policies = load_policies(args.policies)
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.jsonl"
        started = time.perf_counter()
        with events.open("w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in stream(args.tickets, args.events, 0.01))
        print(
            f"replay benchmark: generated {events.stat().st_size / 1e6:,.0f} MB "
            f"in {time.perf_counter() - started:.1f} s"
        )
        profile = cProfile.Profile() if args.profile else None
        with events.open(encoding="utf-8") as lines, open(os.devnull, "w") as sink:
            started = time.perf_counter()
            if profile:
                profile.enable()
            summary = run_replay(policies, lines, None, sink, io.StringIO())
            if profile:
                profile.disable()
            elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {summary.describe()}")
    print(
        f"  {summary.events / elapsed:,.0f} events/s ({elapsed:.1f} s), "
        f"{summary.emitted / elapsed:,.0f} SLA events/s written (goal: 50,000 events/s)"
    )
    print(f"  peak memory (max RSS of the process): {peak:,.0f} MiB")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
