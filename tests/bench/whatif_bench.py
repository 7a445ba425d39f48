"""A whole ``sla-timer whatif`` process on generated traffic (docs/benchmarks.md).

Two proposals against the seed policies, each as its own process, start-up and policy
loading included; goal: 1,000,000 events compared in under a minute on 2 cores.

- *one tenant*: WeStock's essential-tier product questions promised 12 business hours
  instead of 16 (the worked example of docs/whatif.md): only WeStock's tickets (a quarter
  of the traffic) are replayed under both directories, the others once.
- *every tenant*: a catch-all policy added after the seed ones, so every tenant could match
  another policy and every ticket is replayed under both (the worst case).

Wall time, CPU time of the command and its forked process (``getrusage``), and the load
average around each run (the machine is shared) are printed.

``python -m tests.bench.whatif_bench [--events 1000000 --tickets 100000] [--file EVENTS]``
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .generate import POLICIES

ROOT = Path(__file__).parents[2]
SLA_TIMER = ROOT / ".venv" / "bin" / "sla-timer"
PRODUCT_16H = """          - match: {category: product}        # §3.1 "8-16 business hours"
            warn_at: [8h]
            breach_after: 16h"""
CATCH_ALL = """policies:
  - name: everyone-else
    calendar: westock-et
    clocks: [{metric: first_response, targets: [{breach_after: 2d}]}]
"""


def proposals(folder: Path) -> dict[str, Path]:
    one = folder / "one-tenant"
    shutil.copytree(POLICIES, one)
    westock = one / "westock.yaml"
    text = westock.read_text()
    assert PRODUCT_16H in text, "deploy/policies/westock.yaml changed: update the benchmark"
    westock.write_text(text.replace(PRODUCT_16H, PRODUCT_16H.replace("16h", "12h")))
    every = folder / "every-tenant"
    shutil.copytree(POLICIES, every)
    (every / "zz-everyone-else.yaml").write_text(CATCH_ALL)
    return {"one tenant (WeStock 16h -> 12h)": one, "every tenant (catch-all added)": every}


def run(command: list[str | Path]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the command and its children), its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, done.stdout


def report(name: str, count: int, command: list[str | Path]) -> str:
    load = os.getloadavg()[0]
    elapsed, cpu, out = run(command)
    print(
        f"  {name:<38} {elapsed:6.1f} s wall, {cpu:6.1f} s CPU, "
        f"{count / elapsed:>8,.0f} events/s (load {load:.1f} -> {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--file", type=Path, help="use this events file instead of generating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        events = args.file
        if events is None:
            events = Path(folder) / "events.jsonl"
            size = ["--tickets", str(args.tickets), "--events", str(args.events)]
            generate = [sys.executable, "-m", "tests.bench.generate", *size, str(events)]
            subprocess.run(generate, check=True, cwd=ROOT)
        count = sum(1 for _ in events.open("rb"))
        print(f"whatif benchmark: {count:,} events, {os.cpu_count()} CPUs")
        # The machine's pace now, for scale: one replay of the same file, output discarded.
        replay = [SLA_TIMER, "replay", "--workers", "2", "--policies", POLICIES, events]
        report("replay --workers 2 (for scale)", count, replay)
        for name, proposed in proposals(Path(folder)).items():
            whatif = [SLA_TIMER, "whatif", "--policies", POLICIES, "--proposed", proposed, events]
            out = report(f"whatif, {name}", count, whatif)
            print(f"    {next(line for line in out.splitlines() if 'flip' in line)}")
        print("  goal: 1,000,000 events in under 60 s")


if __name__ == "__main__":
    main()
