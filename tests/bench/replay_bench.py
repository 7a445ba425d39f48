"""``replay`` throughput on generated events with the seed policies, and its peak memory.

Default: one million events over 100,000 tickets (goal: 50,000 events/s). Smaller runs:
``python -m tests.bench.replay_bench --tickets 10000 --events 100000``.
"""

import argparse
import cProfile
import io
import multiprocessing
import os
import pstats
import resource
import tempfile
import time
from pathlib import Path

from service.core.policy import PolicySet
from service.policyfile import load_policies
from service.replay import run_replay

from .generate import stream

POLICIES = Path(__file__).parents[2] / "deploy" / "policies"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    parser.add_argument("--policies", type=Path, default=POLICIES)
    args = parser.parse_args()
    policies = load_policies(args.policies)
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.jsonl"
        started = time.perf_counter()
        with events.open("w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in stream(args.tickets, args.events, 0.01))
        size, took = events.stat().st_size / 1e6, time.perf_counter() - started
        print(
            f"replay benchmark: {args.events:,} events over {args.tickets:,} tickets, "
            f"{size:,.0f} MB, generated in {took:.1f} s"
        )
        for workers in dict.fromkeys(args.workers):
            measure(policies, events, workers, args.profile)


def measure(policies: PolicySet, events: Path, workers: int, profile: bool) -> None:
    """One replay in a fresh process, so its peak memory is its own."""
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_measure, args=(policies, events, workers, profile))
    child.start()
    child.join()


def _measure(policies: PolicySet, events: Path, workers: int, profile: bool) -> None:
    profiler = cProfile.Profile() if profile else None
    with events.open(encoding="utf-8") as lines, open(os.devnull, "w") as sink:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        summary = run_replay(policies, lines, None, sink, io.StringIO(), workers=workers)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(f"  workers={workers}: {summary.describe()}")
    print(
        f"    {summary.events / elapsed:,.0f} events/s ({elapsed:.1f} s), "
        f"{summary.emitted / elapsed:,.0f} SLA events/s written (goal: 50,000 events/s); "
        f"peak memory of the largest process {peak / 1024:,.0f} MiB"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
