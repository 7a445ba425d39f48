"""The floor under ``sla-timer replay``: what the stack around the engine costs on a file.

Two loops over the file's lines, with no engine at all:

- ``decode``: read each line (bytes, as ``replay`` reads them) and decode it with the
  project's codec (``service.wire.decode``), as every replay does once a line;
- ``decode+encode``: that, plus one SLA event a line encoded as ``replay`` encodes each of
  its outputs (``encode_json(event, event.occurred_at).decode()``): one representative
  ``sla.started``, built once from the file's first line (a ticket's creation, with its
  attributes); the benchmark files give about 0.4 SLA events a line, so this is more
  encoding than a replay does.

Each runs in one process, then in two forked processes that split the file in two halves
by bytes (each reads only its own). Each prints events/s (wall, from the first process's
start to the last one's end) and µs of CPU per event (user + system, all processes). No
replay of the same file on as many processes can beat ``decode``: every replay decodes
every line; ``decode+encode`` is nearer what a replay does besides its engine.

A third, ``replay, no engine``, is the whole of ``run_replay`` with 1 and 2 workers (the
reader's clock and routing, the pipes, decoding, encoding, merging, writing) around an
engine that does nothing but answer two events in five with the representative SLA event,
at the event's time for its ticket (about what the benchmark files give): what a replay
would reach if the engine cost nothing.
``python -m tests.bench.floor_bench [--file F]`` (without ``--file``: the 1M events of
``replay_bench``, generated); ``--repeat N`` keeps the best of N runs of each.
"""

import argparse
import gc
import io
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from service import replay
from service.core.events import SlaEvent, SlaEventType, TicketEvent
from service.core.instant import SECOND, Instant
from service.core.policy import PolicySet
from service.wire import decode
from service.wire.codec import encode_json

from .generate import stream

Step = Callable[[bytes], object]


def decoded(line: bytes) -> object:
    try:
        return decode(line)
    except Exception as error:  # an invalid line costs what it costs: replay reports it
        return error


def representative(line: bytes) -> SlaEvent:
    """An ``sla.started`` of the line's ticket, as its creation makes: the shape and size of
    a replay's typical output (its attributes are the ticket's)."""
    event = decode(line)
    return SlaEvent(
        event_id="358bb1ceff0ca44dd21e61ea80e93a02",
        type=SlaEventType.STARTED,
        tenant=event.tenant,
        ticket_id=event.ticket_id,
        policy=f"{event.tenant}-priority",
        policy_version="f4901dc038d9",
        metric="first_response",
        cycle=1,
        calendar=f"{event.tenant}-ist",
        target=8 * 3600 * SECOND,
        deadline=event.occurred_at + 8 * 3600 * SECOND,
        occurred_at=event.occurred_at,
        elapsed=0,
        attributes=event.attributes,
        caused_by=event.event_id,
    )


SLA_EVENT: list[SlaEvent] = []  # set by main from the file's first line, before any fork


def encoded(line: bytes) -> object:
    decoded(line)
    sla = SLA_EVENT[0]
    return encode_json(sla, sla.occurred_at).decode()


STEPS: dict[str, Step] = {"decode": decoded, "decode+encode": encoded}


class NullEngine:
    """An engine that keeps nothing and answers two events in five with ``SLA_EVENT`` for
    the event's ticket, at its time (``replay``'s engine is swapped for it in ``shell``)."""

    def __init__(self, policies: PolicySet) -> None:
        self.tickets: dict[str, object] = {}
        self.received = 0

    def receive(self, event: TicketEvent, now: Instant) -> list[SlaEvent]:
        self.received += 1
        if self.received % 5 >= 2:
            return []
        sla = replace(
            SLA_EVENT[0],
            tenant=event.tenant,
            ticket_id=event.ticket_id,
            occurred_at=event.occurred_at,
        )
        return [sla]

    def advance(self, clock: Instant) -> list[SlaEvent]:
        return []


def shell(path: Path, workers: int) -> tuple[float, float]:
    """(wall, CPU seconds) of ``run_replay`` over the file with ``NullEngine``, in a forked
    process (its children's CPU counted too), the output thrown away."""
    context = multiprocessing.get_context("fork")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = context.Process(target=_shell, args=(path, workers))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"the measuring process ended with {child.exitcode}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _shell(path: Path, workers: int) -> None:
    replay.Engine = NullEngine  # type: ignore[assignment, misc]  # this process and its forks
    with path.open("rb") as lines, open(os.devnull, "w") as sink:
        replay.run_replay(PolicySet((), {}), lines, None, sink, io.StringIO(), workers=workers)


def run_range(path: Path, start: int, end: int, step: Step) -> int:
    """``step`` over the lines that start in bytes [start, end); returns how many."""
    count = 0
    with path.open("rb") as lines:
        at = start
        if start:
            lines.seek(start - 1)
            at += len(lines.readline()) - 1  # to the first line starting at or after start
        for line in lines:
            if at >= end:
                break
            at += len(line)
            if line.strip():
                step(line)
                count += 1
    return count


def _child(path: Path, start: int, end: int, step: Step) -> None:
    gc.disable()
    run_range(path, start, end, step)


def measure(path: Path, processes: int, step: Step) -> tuple[float, float]:
    """(seconds of wall time, seconds of CPU) of ``step`` over the file in ``processes``
    forked processes, each a share of the file's bytes."""
    size = path.stat().st_size
    bounds = [size * n // processes for n in range(processes + 1)]
    context = multiprocessing.get_context("fork")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    children = [
        context.Process(target=_child, args=(path, bounds[n], bounds[n + 1], step))
        for n in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"a measuring process ended with {child.exitcode}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--file", type=Path, help="JSON lines of input events (default: the replay benchmark's)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="keep the best of this many runs")
    args = parser.parse_args()
    if args.file is not None:
        run(args.file, args.repeat)
        return
    with tempfile.TemporaryDirectory() as folder:  # replay_bench's 1M events
        path = Path(folder) / "events.jsonl"
        with path.open("w") as out:
            out.writelines(line + "\n" for line in stream(100_000, 1_000_000, 0.01))
        run(path, args.repeat)


def run(file: Path, repeat: int) -> None:
    lines = run_range(file, 0, file.stat().st_size, lambda line: None)
    with file.open("rb") as first:
        SLA_EVENT.append(representative(first.readline()))
    print(f"floor benchmark: {lines:,} lines, {file.stat().st_size / 1e6:,.0f} MB")
    for name, step in STEPS.items():
        for processes in (1, 2):
            runs = [measure(file, processes, step) for _ in range(repeat)]
            wall = min(wall for wall, _ in runs)
            cpu = min(cpu for _, cpu in runs)
            print(
                f"  {name:<14} {processes} process{'es' if processes > 1 else '  '}: "
                f"{lines / wall:>9,.0f} events/s ({wall:.1f} s), "
                f"{cpu / lines * 1e6:5.1f} µs CPU per event"
            )
    for workers in (1, 2):
        runs = [shell(file, workers) for _ in range(repeat)]
        wall, cpu = min(wall for wall, _ in runs), min(cpu for _, cpu in runs)
        name = "replay, no engine"
        print(
            f"  {name:<14} {workers} worker{'s' if workers > 1 else ' '}   : "
            f"{lines / wall:>9,.0f} events/s ({wall:.1f} s), "
            f"{cpu / lines * 1e6:5.1f} µs CPU per event"
        )


if __name__ == "__main__":
    main()
