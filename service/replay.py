"""``sla-timer replay``: the engine over a file of events, offline, in event time (docs/worker.md).

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

A bad line never costs another line's output: lines are read as bytes and decoded one by
one (a line that is not UTF-8 is reported like any invalid line), and any exception while
processing a line is reported as that line's "internal error". A worker process that dies
ends the run with ``ReplayFailed`` naming it and how it ended, never a hang.
"""

import gc
import heapq
import multiprocessing
import signal
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TextIO

import orjson
from tqdm import tqdm

from service.core.engine import Engine, ticket_key
from service.core.errors import InvalidEvent, SlaTimerError
from service.core.events import SlaEvent, TicketEvent
from service.core.instant import Instant, format_instant
from service.core.policy import PolicySet
from service.wire import decode, encode_json, parse_timestamp

Text = str | bytes
"""A line as read: bytes from a file or stdin (decoded by ``decode``), or text."""
InputLine = tuple[int, Text, Instant | None, Instant | None]
"""(line number, text, the clock before the line, the clock after reading it)"""
Read = tuple[int, Text, Instant | None, Instant | None, int]  # an InputLine and its ticket's hash
Output = tuple[Instant, str, str, int, str]  # sort key (occurred_at, tenant, ticket, n), JSON
_BATCH = 2_000
_CHUNK = 1_000  # lines decoded together in one process (Shard.read)
_BOM = "\ufeff"
_ERROR_CHARS = 300  # of an exception's text in an "internal error" reason


class ReplayFailed(SlaTimerError):
    """The replay could not finish (a worker process died); no SLA events were written."""


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
    lines: Iterable[Text],
    until: Instant | None,
    out: TextIO,
    err: TextIO,
    workers: int = 1,
) -> ReplaySummary:
    """Replay JSON lines; SLA events to ``out``, bad lines and the summary to ``err``.
    ``ReplayFailed`` if a worker process dies."""
    with _no_cycle_collection():
        if workers <= 1:
            summary, outputs = play(Shard(policies), lines, until, err)
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


def play(
    shard: "Shard",
    lines: Iterable[Text],
    until: Instant | None,
    err: TextIO,
    share: tuple[int, int] = (0, 1),
) -> tuple[ReplaySummary, list[Output]]:
    """Share ``i`` of ``n`` of the tickets through one shard in event time, then the final
    clock (``sla-timer whatif`` plays each of its processes this way). One share is the
    one-process replay (``Shard.read``); with several, every line moves the clock and the
    share's lines are taken as a worker of ``_run_forked`` takes them."""
    index, shares = share
    if shares == 1:
        number, clock = shard.read(_numbered(lines, err))
    else:
        clock, number = None, 0
        for number, text, before, clock, ticket_hash in _clocked(lines, err):
            if ticket_hash % shares == index:
                shard.take(number, text, before, clock)
    return shard.finish(_final_clock(clock, until, err), number)


class Shard:
    """The engine for a share of the tickets, collecting its output with sort keys.
    ``engine``: one of the caller's (whatif's, which counts the SLA events it makes)."""

    def __init__(self, policies: PolicySet, engine: Engine | None = None) -> None:
        self.engine = engine if engine is not None else Engine(policies)
        self.summary = ReplaySummary()
        self.outputs: list[Output] = []
        self.emitted: dict[tuple[str, str], int] = {}
        self.advanced: Instant | None = None  # the engine fired everything due up to it

    def read(self, lines: Iterable[tuple[int, Text]]) -> tuple[int, Instant | None]:
        """Every line in one process, which keeps the clock itself: a line is decoded
        first and, if valid, its own time moves the clock; only a line that is not is read
        again for a time. Returns the last line's number and the clock."""
        number, clock = 0, None
        lines = iter(lines)
        while chunk := list(islice(lines, _CHUNK)):
            # A chunk's lines are decoded first, then taken: the decoder and the engine
            # each run hot in the caches (a fifth less CPU than taking turns per line).
            for (number, text), line in zip(chunk, _decoded(chunk), strict=True):
                at = line.occurred_at if isinstance(line, TicketEvent) else _peek(text)[0]
                before, clock = clock, _moved(clock, at)
                self.take(number, line, before, clock)
        return number, clock

    def take(
        self,
        number: int,
        line: Text | TicketEvent | Exception,
        before: Instant | None,
        clock: Instant | None,
    ) -> None:
        """One line: its text, or what decoding it gave. Every ticket first sees the clock as it
        was before the line (in one process that already happened after the previous line;
        a worker catches up here), so a late event finds exactly what a single process
        would have published. Any exception is this line's internal error; the run goes on."""
        try:
            self._take(number, line, before, clock)
        except Exception as error:
            self._failed(number, error)

    def _take(
        self,
        number: int,
        line: Text | TicketEvent | Exception,
        before: Instant | None,
        clock: Instant | None,
    ) -> None:
        self._advance(number, before)
        if isinstance(line, str | bytes):
            try:
                line = decode(line)
            except InvalidEvent as error:
                line = error
        if isinstance(line, InvalidEvent):
            self.summary.invalid.append((number, line.reason))
            return
        if isinstance(line, Exception):
            raise line
        event = line
        # The reader reads times with a stricter parser; should it not have read this one,
        # the event's own time stands in, the same way in every shard.
        now = clock if clock is not None else event.occurred_at
        try:
            out = self.engine.receive(event, now)
        except InvalidEvent as error:  # too late, no ticket, attributes (docs/worker.md)
            self.summary.invalid.append((number, error.reason))
        else:
            self.summary.events += 1
            self._collect(number, out)
        self._advance(number, now)

    def _advance(self, number: int, clock: Instant | None) -> None:
        """Fire what is due up to ``clock``, unless that was done already."""
        if clock is not None and clock != self.advanced:
            self._collect(number, self.engine.advance(clock))
            self.advanced = clock

    def finish(self, clock: Instant | None, last: int = 0) -> tuple[ReplaySummary, list[Output]]:
        """Advance to the final clock (an exception is reported against ``last``, the
        number of the last line read) and return the summary and sorted outputs."""
        try:
            self._advance(last, clock)
        except Exception as error:
            self._failed(last, error)
        self.outputs.sort()
        self.summary.tickets, self.summary.clock = len(self.engine.tickets), clock
        return self.summary, self.outputs

    def _collect(self, number: int, events: list[SlaEvent]) -> None:
        if not events:
            return
        for event in events:
            key = (event.tenant, event.ticket_id)
            count = self.emitted.get(key, 0)
            self.emitted[key] = count + 1
            try:
                # Kept as text: orjson's bytes carry a large spare allocation (about 8 KB
                # each, measured with tracemalloc), which multiplied replay's peak memory
                # fivefold.
                body = encode_json(event, event.occurred_at).decode()
            except Exception as error:  # this event only: the others of the call still count
                self._failed(number, error)
                continue
            self.outputs.append((event.occurred_at, event.tenant, event.ticket_id, count, body))

    def _failed(self, number: int, error: Exception) -> None:
        """Report the line's internal error: its first only, so a line counts once."""
        if self.summary.invalid and self.summary.invalid[-1][0] == number:
            return
        text = str(error)
        if len(text) > _ERROR_CHARS:
            text = text[: _ERROR_CHARS - 3] + "..."
        self.summary.invalid.append((number, f"internal error: {type(error).__name__}: {text}"))


def _decoded(chunk: Sequence[tuple[int, Text]]) -> list[TicketEvent | Exception]:
    """Each line's event, or what decoding it raised (invalid, or its internal error)."""
    found: list[TicketEvent | Exception] = []
    for _, text in chunk:
        try:
            found.append(decode(text))
        except Exception as error:
            found.append(error)
    return found


def _run_forked(
    policies: PolicySet, lines: Iterable[Text], until: Instant | None, err: TextIO, workers: int
) -> tuple[ReplaySummary, list[list[Output]]]:
    context = multiprocessing.get_context("fork")  # workers inherit the loaded policies
    pipes = [context.Pipe() for _ in range(workers)]
    processes = [
        context.Process(target=_worker, args=(policies, child), daemon=True) for _, child in pipes
    ]
    for process in processes:
        process.start()
    for _, child in pipes:  # the worker holds its end: when it dies, the pipe says so
        child.close()
    parents = [parent for parent, _ in pipes]
    try:
        results = _share(parents, processes, lines, until, err)
    except BaseException:
        for process in processes:
            process.kill()
            process.join()
        raise
    for process in processes:
        process.join()
    summary = ReplaySummary(clock=results[0][0].clock)
    for part, _ in results:
        summary.events += part.events
        summary.tickets += part.tickets
        summary.invalid += part.invalid
    summary.invalid.sort()
    return summary, [outputs for _, outputs in results]


def _share(
    parents: list[Connection],
    processes: Sequence[BaseProcess],
    lines: Iterable[Text],
    until: Instant | None,
    err: TextIO,
) -> list[tuple[ReplaySummary, list[Output]]]:
    """Send each worker its lines, then the final clock and the last line's number, and
    collect the results; ``ReplayFailed`` as soon as a worker is found dead."""
    workers = len(parents)
    batches: list[list[InputLine]] = [[] for _ in range(workers)]
    clock, number = None, 0

    def send(shard: int, message: object) -> None:
        try:
            parents[shard].send(message)
        except OSError:  # BrokenPipeError, ConnectionResetError: the worker is gone
            raise _died(shard, processes) from None

    for number, text, before, clock, ticket_hash in _clocked(lines, err):
        shard = ticket_hash % workers
        batches[shard].append((number, text, before, clock))
        if len(batches[shard]) >= _BATCH:
            send(shard, batches[shard])
            batches[shard] = []
    final = _final_clock(clock, until, err)
    for shard, batch in enumerate(batches):
        send(shard, batch)
        send(shard, (final, number))
    results: dict[int, tuple[ReplaySummary, list[Output]]] = {}
    ends = {id(parent): shard for shard, parent in enumerate(parents)}
    ends |= {process.sentinel: shard for shard, process in enumerate(processes)}
    while len(results) < workers:
        waiting: list[Connection | int] = [p for i, p in enumerate(parents) if i not in results]
        waiting += [p.sentinel for i, p in enumerate(processes) if i not in results]
        for ready in wait(waiting):
            shard = ends[ready if isinstance(ready, int) else id(ready)]
            if shard in results:
                continue
            # A worker that exited has either sent its whole result or died without it.
            if ready is not parents[shard] and not parents[shard].poll():
                raise _died(shard, processes)
            try:
                results[shard] = parents[shard].recv()
            except (EOFError, OSError):
                raise _died(shard, processes) from None
    return [results[shard] for shard in range(workers)]


def _died(shard: int, processes: Sequence[BaseProcess]) -> ReplayFailed:
    process = processes[shard]
    process.join(timeout=5)
    code = process.exitcode
    if code is None:
        how = "stopped answering"
    elif code < 0:
        how = f"was killed by signal {signal.Signals(-code).name}"
    else:
        how = f"exited with status {code}"
    return ReplayFailed(
        f"replay worker {shard + 1} of {len(processes)} (pid {process.pid}) {how} before "
        "finishing; no SLA events were written"
    )


def _worker(policies: PolicySet, pipe: Connection) -> None:
    gc.disable()
    shard = Shard(policies)
    while isinstance(batch := pipe.recv(), list):
        for number, text, before, clock in batch:
            shard.take(number, text, before, clock)
    final, last = batch
    pipe.send(shard.finish(final, last))


def _numbered(lines: Iterable[Text], err: TextIO) -> Iterator[tuple[int, Text]]:
    """Non-blank lines with their numbers (a progress bar on a terminal)."""
    progress = tqdm(lines, unit=" lines", file=err, disable=not err.isatty(), mininterval=0.5)
    for number, text in enumerate(progress, start=1):
        if text.strip() and not _blank_after_bom(text):
            yield number, text


def _blank_after_bom(text: Text) -> bool:
    """Only a byte-order mark and whitespace: blank, as ``decode`` skips the mark."""
    if isinstance(text, bytes):
        return text.startswith(b"\xef\xbb\xbf") and not text[3:].strip()
    return text.startswith(_BOM) and not text[1:].strip()


def _clocked(lines: Iterable[Text], err: TextIO) -> Iterator[Read]:
    """Non-blank lines with their numbers, the clock after reading each, and a hash of the
    ticket (0 for a line too broken to name one: its shard reports it)."""
    clock: Instant | None = None
    for number, text in _numbered(lines, err):
        at, ticket_hash = _peek(text)
        before, clock = clock, _moved(clock, at)
        yield number, text, before, clock, ticket_hash


def _moved(clock: Instant | None, at: Instant | None) -> Instant | None:
    """The clock after reading a line of time ``at`` (None: no valid time): it never goes back."""
    return at if at is not None and (clock is None or at > clock) else clock


def _peek(text: Text) -> tuple[Instant | None, int]:
    """The line's occurred_at, if valid, and its ticket's hash; the shard validates the rest.
    A byte-order mark is skipped as ``decode`` skips it, so the line goes to its ticket's
    shard and moves the clock."""
    try:
        if isinstance(text, bytes):
            raw = orjson.loads(text[3:] if text.startswith(b"\xef\xbb\xbf") else text)
        else:
            raw = orjson.loads(text[1:] if text.startswith(_BOM) else text)
        value, ticket = raw.get("occurred_at"), raw.get("ticket_id")
    except (orjson.JSONDecodeError, AttributeError):  # not JSON, not UTF-8, not an object
        return None, 0
    ticket_hash = zlib.crc32(ticket_key(str(raw.get("tenant", "default")), str(ticket)).encode())
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
