"""``sla-timer replay``: the engine over a file of events, offline, in event time (SPEC §7).

The clock is the latest ``occurred_at`` read so far, so a file replays as the stream it
records would have played: a breach fires when a later event shows its deadline has
passed, and an event that arrives late retracts what it disproves. A line whose
``occurred_at`` is a valid timestamp moves the clock even if the rest of it is invalid:
its time is still evidence that time has passed. After the last line the clock moves on
to ``--until`` when that is later.

Output is ordered by ``occurred_at``, then tenant and ticket, then the order the engine
produced a ticket's events in; ``emitted_at`` equals ``occurred_at``. Tickets are
independent, so with several workers each forked process runs the engine for a share of
the tickets, given every line's clock by the reader; the output is the same byte for byte.
"""

import gc
import heapq
import multiprocessing
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TextIO

import orjson
from tqdm import tqdm

from service.core.engine import Engine
from service.core.errors import InvalidEvent
from service.core.events import SlaEvent
from service.core.instant import Instant, format_instant
from service.core.policy import PolicySet
from service.wire import decode, encode_json, parse_timestamp

Line = tuple[int, str, Instant | None, Instant | None]
"""(line number, text, the clock before the line, the clock after reading it)"""
Read = tuple[int, str, Instant | None, Instant | None, int]  # a Line and its ticket's hash
Output = tuple[Instant, str, str, int, str]  # sort key (occurred_at, tenant, ticket, n), JSON
_BATCH = 2_000


@dataclass
class ReplaySummary:
    events: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    emitted: int = 0
    tickets: int = 0
    clock: Instant | None = None

    def describe(self) -> str:
        clock = format_instant(self.clock) if self.clock is not None else "never set"
        return (
            f"replayed {self.events} events ({len(self.invalid)} invalid) for {self.tickets} "
            f"tickets; {self.emitted} SLA events; clock at {clock}"
        )


def run_replay(
    policies: PolicySet,
    lines: Iterable[str],
    until: Instant | None,
    out: TextIO,
    err: TextIO,
    workers: int = 1,
) -> ReplaySummary:
    """Replay JSON lines; SLA events to ``out``, bad lines and the summary to ``err``."""
    with _no_cycle_collection():
        if workers <= 1:
            shard = Shard(policies)
            clock = None
            for number, text, before, clock, _ in _clocked(lines, err):
                shard.take(number, text, before, clock)
            final = _final_clock(clock, until, err)
            summary, outputs = shard.finish(final)
            streams = [outputs]
        else:
            summary, streams = _run_forked(policies, lines, until, err, workers)
    for number, reason in summary.invalid:
        err.write(f"line {number}: {reason}\n")
    for _, _, _, _, body in heapq.merge(*streams):
        out.write(body)
        out.write("\n")
        summary.emitted += 1
    return summary


class Shard:
    """The engine for a share of the tickets, collecting its output with sort keys."""

    def __init__(self, policies: PolicySet) -> None:
        self.engine = Engine(policies)
        self.summary = ReplaySummary()
        self.outputs: list[Output] = []
        self.emitted: dict[tuple[str, str], int] = {}

    def take(self, number: int, text: str, before: Instant | None, clock: Instant | None) -> None:
        """One line. Every ticket first sees the clock as it was before the line (in one
        process that already happened after the previous line; a worker catches up here),
        so a late event finds exactly what a single process would have published."""
        if before is not None:
            self._collect(self.engine.advance(before))
        try:
            event = decode(text)
        except InvalidEvent as error:
            self.summary.invalid.append((number, error.reason))
            return
        # The reader reads times with a stricter parser; should it not have read this one,
        # the event's own time stands in, the same way in every shard.
        now = clock if clock is not None else event.occurred_at
        self.summary.events += 1
        self._collect(self.engine.receive(event, now))
        self._collect(self.engine.advance(now))

    def finish(self, clock: Instant | None) -> tuple[ReplaySummary, list[Output]]:
        if clock is not None:
            self._collect(self.engine.advance(clock))
        self.outputs.sort()
        self.summary.tickets, self.summary.clock = len(self.engine.tickets), clock
        return self.summary, self.outputs

    def _collect(self, events: list[SlaEvent]) -> None:
        if not events:
            return
        for event in events:
            key = (event.tenant, event.ticket_id)
            count = self.emitted.get(key, 0)
            self.emitted[key] = count + 1
            # Kept as text: orjson's bytes carry a large spare allocation (about 8 KB each,
            # measured with tracemalloc), which multiplied replay's peak memory fivefold.
            body = encode_json(event, event.occurred_at).decode()
            self.outputs.append((event.occurred_at, event.tenant, event.ticket_id, count, body))


def _run_forked(
    policies: PolicySet, lines: Iterable[str], until: Instant | None, err: TextIO, workers: int
) -> tuple[ReplaySummary, list[list[Output]]]:
    context = multiprocessing.get_context("fork")  # workers inherit the loaded policies
    pipes = [context.Pipe() for _ in range(workers)]
    processes = [
        context.Process(target=_worker, args=(policies, child), daemon=True) for _, child in pipes
    ]
    for process in processes:
        process.start()
    batches: list[list[Line]] = [[] for _ in range(workers)]
    clock = None
    for number, text, before, clock, ticket_hash in _clocked(lines, err):
        shard = ticket_hash % workers
        batches[shard].append((number, text, before, clock))
        if len(batches[shard]) >= _BATCH:
            pipes[shard][0].send(batches[shard])
            batches[shard] = []
    final = _final_clock(clock, until, err)
    for (parent, _), batch in zip(pipes, batches, strict=True):
        parent.send(batch)
        parent.send(final)
    results = [parent.recv() for parent, _ in pipes]
    for process in processes:
        process.join()
    summary = ReplaySummary(clock=final)
    for part, _ in results:
        summary.events += part.events
        summary.tickets += part.tickets
        summary.invalid += part.invalid
    summary.invalid.sort()
    return summary, [outputs for _, outputs in results]


def _worker(policies: PolicySet, pipe: Connection) -> None:
    gc.disable()
    shard = Shard(policies)
    while isinstance(batch := pipe.recv(), list):
        for number, text, before, clock in batch:
            shard.take(number, text, before, clock)
    pipe.send(shard.finish(batch))


def _clocked(lines: Iterable[str], err: TextIO) -> Iterator[Read]:
    """Non-blank lines with their numbers, the clock after reading each, and a hash of the
    ticket (0 for a line too broken to name one: its shard reports it)."""
    clock: Instant | None = None
    progress = tqdm(lines, unit=" lines", file=err, disable=not err.isatty(), mininterval=0.5)
    for number, text in enumerate(progress, start=1):
        if not text.strip():
            continue
        at, ticket_hash = _peek(text)
        before = clock
        if at is not None and (clock is None or at > clock):
            clock = at
        yield number, text, before, clock, ticket_hash


def _peek(text: str) -> tuple[Instant | None, int]:
    """The line's occurred_at, if valid, and its ticket's hash; the shard validates the rest."""
    try:
        raw = orjson.loads(text)
        value, ticket = raw.get("occurred_at"), raw.get("ticket_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None, 0
    ticket_hash = zlib.crc32(f"{raw.get('tenant', 'default')}\x1f{ticket}".encode())
    try:
        return (parse_timestamp(value) if isinstance(value, str) else None), ticket_hash
    except ValueError:
        return None, ticket_hash


def _final_clock(clock: Instant | None, until: Instant | None, err: TextIO) -> Instant | None:
    if until is None:
        return clock
    if clock is not None and until < clock:
        err.write(f"--until {format_instant(until)} is before the last event; the clock stays\n")
        return clock
    return until


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The engine makes no reference cycles, and a replay holds every ticket: the cycle
    collector would rescan them all again and again for nothing (10-25% of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
