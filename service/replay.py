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
The reader sends a worker its lines as bytes in batches; a worker sends its SLA events back
in order once every line is read, a message at a time, and the reader merges them as they
come but writes none before it has them all.

A bad line never costs another line's output: lines are read as bytes and decoded one by
one (a line that is not UTF-8 is reported like any invalid line), and any exception while
processing a line is reported as that line's "internal error". A worker process that dies
ends the run with ``ReplayFailed`` naming it and how it ended, never a hang.
"""

import fcntl
import gc
import multiprocessing
import signal
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import chain, islice
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TextIO, cast

import orjson
from tqdm import tqdm

from service.core.engine import Engine, ticket_key
from service.core.errors import InvalidEvent, SlaTimerError
from service.core.events import SlaEvent, TicketEvent
from service.core.instant import Instant, format_instant
from service.core.policy import PolicySet
from service.wire import decoded as wire_decoded
from service.wire import encode_json, parse_timestamp

Text = str | bytes
"""A line as read: bytes from a file or stdin (decoded by ``decode``), or text."""
InputLine = tuple[int, Text, Instant | None, Instant | None]
"""(line number, text, the clock before the line, the clock after reading it)"""
Read = tuple[int, Text, Instant | None, Instant | None, int]  # an InputLine and its ticket's hash
Output = tuple[Instant, str, str, int, str]  # sort key (occurred_at, tenant, ticket, n), JSON
_BATCH = 2_000  # lines a message to a worker
_CHUNK = 1_000  # lines decoded together in one process (Shard.read)
_OUTPUTS = 1_000  # SLA events a message from a worker (about 500 KB)
_PIPE_BYTES = 1 << 20  # a pipe's buffer: Linux's most for a user (/proc/sys/fs/pipe-max-size)
_PIECE = 4_096  # SLA events a write
_END = -1  # the first number of the message that ends a worker's lines (a line's is >= 1)
_NO_CLOCK = -(1 << 63)  # no clock yet, in a batch's header: before every instant
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
    text: Iterable[str]
    with _no_cycle_collection():
        if workers <= 1:
            summary, outputs = play(Shard(policies), lines, until, err)
            text = _pieces(outputs, summary)
        else:
            summary, text = _run_forked(policies, lines, until, err, workers)
    for number, reason in summary.invalid:
        err.write(f"line {number}: {reason}\n")
    for piece in text:
        out.write(piece)
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
        mine: list[InputLine] = []
        for number, text, before, clock, ticket_hash in _clocked(lines, err):
            if ticket_hash % shares == index:
                mine.append((number, text, before, clock))
                if len(mine) == _CHUNK:
                    shard.take_lines(mine)
                    mine = []
        shard.take_lines(mine)
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
            decoded = [wire_decoded(text) for _, text in chunk]
            for (number, text), line in zip(chunk, decoded, strict=True):
                at = line.occurred_at if isinstance(line, TicketEvent) else _peek(text)[0]
                before, clock = clock, _moved(clock, at)
                self.take(number, line, before, clock)
        return number, clock

    def take_lines(self, lines: Sequence[InputLine]) -> None:
        """Lines of a share, each with the clocks the reader saw before and after it:
        decoded first, then taken (the decoder, then the engine, hot in the caches)."""
        decoded = [wire_decoded(text) for _, text, _, _ in lines]
        for (number, _, before, clock), line in zip(lines, decoded, strict=True):
            self.take(number, line, before, clock)

    def take(
        self,
        number: int,
        line: TicketEvent | Exception,
        before: Instant | None,
        clock: Instant | None,
    ) -> None:
        """One line: what decoding it gave. Every ticket first sees the clock as it
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
        line: TicketEvent | Exception,
        before: Instant | None,
        clock: Instant | None,
    ) -> None:
        self._advance(number, before)
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


def _run_forked(
    policies: PolicySet, lines: Iterable[Text], until: Instant | None, err: TextIO, workers: int
) -> tuple[ReplaySummary, list[str]]:
    """The tickets shared between ``workers`` forked processes: the summary and the SLA
    events as text, every worker's merged in order, all in before any is written."""
    context = multiprocessing.get_context("fork")  # workers inherit the loaded policies
    feeds = [_widened(context.Pipe(duplex=False)) for _ in range(workers)]  # (theirs, ours)
    backs = [_widened(context.Pipe(duplex=False)) for _ in range(workers)]  # (ours, theirs)
    ends = [end for pair in feeds + backs for end in pair]
    processes: list[BaseProcess] = []
    for shard in range(workers):
        theirs = (feeds[shard][0], backs[shard][1])
        others = [end for end in ends if end not in theirs]
        args = (policies, *theirs, others)
        processes.append(context.Process(target=_worker, args=args, daemon=True))
        processes[-1].start()
    for (feed, _), (_, back) in zip(feeds, backs, strict=True):
        feed.close()  # the worker holds its ends: when it dies, the pipes say so
        back.close()
    links = [
        _Link(shard, feed, back, processes)
        for shard, ((_, feed), (back, _)) in enumerate(zip(feeds, backs, strict=True))
    ]
    try:
        result = _share(links, lines, until, err)
    except BaseException:
        for process in processes:
            process.kill()
            process.join()
        raise
    for process in processes:
        process.join()
    return result


def _widened(pipe: tuple[Connection, Connection]) -> tuple[Connection, Connection]:
    """The pipe with room for a batch (Linux): writer and reader then take turns far less
    often than with the 64 KiB a pipe has by default; as it was where it cannot."""
    with suppress(AttributeError, OSError):  # not Linux, or over the user's pipe memory
        fcntl.fcntl(pipe[0].fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    return pipe


class _Link:
    """The parent's side of one worker: the pipe its lines go down, the pipe its results
    come back up; ``ReplayFailed`` as soon as either finds the worker dead."""

    def __init__(
        self, shard: int, feed: Connection, back: Connection, processes: Sequence[BaseProcess]
    ) -> None:
        self.shard, self.feed, self.back, self.processes = shard, feed, back, processes

    def send(self, *messages: bytes) -> None:
        try:
            for message in messages:
                self.feed.send_bytes(message)
        except OSError:  # BrokenPipeError, ConnectionResetError: the worker is gone
            raise _died(self.shard, self.processes) from None

    def receive(self) -> object:
        """The worker's next message: it either sends it whole or dies without it."""
        process = self.processes[self.shard]
        if self.back not in wait([self.back, process.sentinel]) and not self.back.poll():
            raise _died(self.shard, self.processes)
        try:
            return self.back.recv()
        except (EOFError, OSError):
            raise _died(self.shard, self.processes) from None

    def summary(self) -> ReplaySummary:
        return cast(ReplaySummary, self.receive())

    def outputs(self) -> list[Output]:
        """The worker's next SLA events in order (none: it sent them all)."""
        return cast(list[Output], self.receive())


def _merged(links: list[_Link]) -> Iterator[list[Output]]:
    """The workers' SLA events in order, a block at a time: everything up to the least of
    the last sort keys received from the workers still sending is sorted and given (each
    worker's part is already in order: runs, which ``list.sort`` merges in C)."""
    pending = [link.outputs() for link in links]
    sending = [bool(part) for part in pending]
    while any(pending):
        bound = min(
            (part[-1] for part, more in zip(pending, sending, strict=True) if more), default=None
        )
        block: list[Output] = []
        for index, part in enumerate(pending):
            cut = len(part) if bound is None else bisect_right(part, bound)
            block += part[:cut]
            pending[index] = part[cut:]
            if not pending[index] and sending[index]:
                pending[index] = links[index].outputs()
                sending[index] = bool(pending[index])
        block.sort()
        yield block


def _share(
    links: list[_Link], lines: Iterable[Text], until: Instant | None, err: TextIO
) -> tuple[ReplaySummary, list[str]]:
    """Send each worker its lines in batches, then the final clock and the last line's
    number; then take their summaries and merge their SLA events as they send them.

    A batch is two messages of bytes, not a pickle of objects: a header of four numbers a
    line (its number, the clock before it and after it, ``_NO_CLOCK`` for none, and its
    length: ``~length`` for a line given as text, sent as UTF-8 with its lone surrogates kept)
    and the lines joined."""
    workers = len(links)
    headers: list[list[int]] = [[] for _ in links]
    texts: list[list[bytes]] = [[] for _ in links]
    clock: Instant | None = None
    number = 0
    for number, text, before, clock, ticket_hash in _clocked(lines, err):
        shard = ticket_hash % workers
        if isinstance(text, bytes):
            data, size = text, len(text)
        else:
            data = text.encode("utf-8", "surrogatepass")
            size = ~len(data)
        header = headers[shard]
        header += (
            number,
            _NO_CLOCK if before is None else before,
            _NO_CLOCK if clock is None else clock,
            size,
        )
        texts[shard].append(data)
        if len(header) >= 4 * _BATCH:
            links[shard].send(array("q", header).tobytes(), b"".join(texts[shard]))
            headers[shard], texts[shard] = [], []
    final = _final_clock(clock, until, err)
    end = array("q", (_END, _NO_CLOCK if final is None else final, number)).tobytes()
    for link, header, batch in zip(links, headers, texts, strict=True):
        if header:
            link.send(array("q", header).tobytes(), b"".join(batch))
        link.send(end)
    parts = [link.summary() for link in links]
    summary = ReplaySummary(clock=parts[0].clock)
    for part in parts:
        summary.events += part.events
        summary.tickets += part.tickets
        summary.invalid += part.invalid
    summary.invalid.sort()
    # The whole text before any is written: a worker may still die while sending its part.
    pieces = list(_pieces(chain.from_iterable(_merged(links)), summary))
    return summary, pieces


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


def _worker(
    policies: PolicySet, feed: Connection, back: Connection, inherited: list[Connection]
) -> None:
    """Replay the batches read from ``feed`` (see ``_share``), then send back the summary
    and the SLA events in order, a few thousand a message."""
    for end in inherited:  # the other workers' ends and the parent's: theirs to close
        end.close()
    gc.disable()
    shard = Shard(policies)
    while (header := array("q", feed.recv_bytes()))[0] != _END:
        batch = feed.recv_bytes()
        at = 0
        fields = iter(header)
        lines: list[InputLine] = []
        for number, before, clock, size in zip(fields, fields, fields, fields, strict=True):
            text: Text
            if size >= 0:
                text = batch[at : at + size]
                at += size
            else:
                text = batch[at : at - size - 1].decode("utf-8", "surrogatepass")
                at += ~size
            lines.append(
                (
                    number,
                    text,
                    None if before == _NO_CLOCK else before,
                    None if clock == _NO_CLOCK else clock,
                )
            )
        shard.take_lines(lines)
    _, final, last = header
    summary, outputs = shard.finish(None if final == _NO_CLOCK else final, last)
    back.send(summary)
    for start in range(0, len(outputs), _OUTPUTS):
        back.send(outputs[start : start + _OUTPUTS])
    back.send([])  # the end


def _pieces(outputs: Iterable[Output], summary: ReplaySummary) -> Iterator[str]:
    """The SLA events as text, a line each, in pieces of a few thousand lines; counted
    into ``summary.emitted``."""
    piece: list[str] = []
    for output in outputs:
        piece.append(output[4])
        if len(piece) == _PIECE:
            summary.emitted += len(piece)
            piece.append("")
            yield "\n".join(piece)
            piece = []
    if piece:
        summary.emitted += len(piece)
        piece.append("")
        yield "\n".join(piece)


def _numbered(lines: Iterable[Text], err: TextIO) -> Iterator[tuple[int, Text]]:
    """Non-blank lines with their numbers (a progress bar on a terminal)."""
    if err.isatty():  # tqdm's iterator costs a replay's reader 7% even when disabled
        lines = tqdm(lines, unit=" lines", file=err, mininterval=0.5)
    for number, text in enumerate(lines, start=1):
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
    return (_instant(value) if isinstance(value, str) else None), ticket_hash


def _instant(text: str) -> Instant | None:
    """``parse_timestamp(text)``, or None where it raises ``ValueError``."""
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


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
