"""One history under two policy directories at once (docs/whatif.md).

The tickets are shared between two processes (this one and a forked one) as ``sla-timer
replay --workers 2`` shares them; each process plays every line exactly as replay does
(``replay.play``: event time, ``--until``, bad lines reported, not lost), through an engine
under the current policies and, for the tickets whose tenant's policies differ
(``scope``), a second engine under the proposed ones. The SLA events of each are counted in
process as ``sla-timer report`` counts them (the report's ``Ledger``, ``verdicts`` and
``report_of``), never written out as JSON and read back.
"""

import gc
import io
import multiprocessing
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TextIO

from service.core.engine import Engine
from service.core.errors import SlaTimerError
from service.core.events import SlaEvent, TicketEvent
from service.core.instant import Instant
from service.core.policy import PolicySet
from service.replay import Shard, play
from service.report.read import Ledger

from .scope import Scope, differing_tenants
from .side import Side, governing, merge, side_of

Events = Path | list[bytes]
"""The history: a JSON-lines file, or its lines already read (stdin, read once for both)."""


class WhatifFailed(SlaTimerError):
    """A replay could not finish (its process died); nothing was compared."""


@dataclass(frozen=True)
class Job:
    current: PolicySet
    proposed: PolicySet
    events: Events
    until: Instant | None


def play_both(
    job: Job, err: TextIO, *, processes: int = 2, scope: Scope | None = None
) -> list[Side]:
    """The current and the proposed side, the tickets shared between ``processes`` (this
    one writes to ``err``: the progress, an ``--until`` before the last event). ``scope``
    (default: ``differing_tenants``) says which tenants' tickets need both engines.
    ``WhatifFailed`` when a forked process dies."""
    scope = scope or differing_tenants(job.current, job.proposed)
    with _no_cycle_collection():
        if processes <= 1:
            return list(play_share(job, scope, (0, 1), err))
        context = multiprocessing.get_context("fork")  # children inherit the loaded policies
        pipes = [context.Pipe(duplex=False) for _ in range(1, processes)]
        children = [
            context.Process(target=_child, args=(job, scope, (n, processes), end), daemon=True)
            for n, (_, end) in enumerate(pipes, start=1)
        ]
        for child in children:
            child.start()
        for _, end in pipes:
            end.close()  # the child holds its end: when it dies, the pipe says so
        try:
            shares = [play_share(job, scope, (0, processes), err)]
            shares += [
                _receive(ours, child) for (ours, _), child in zip(pipes, children, strict=True)
            ]
        except BaseException:
            for child in children:
                child.kill()
                child.join()
            raise
        for child in children:
            child.join()
        return [merge([share[side] for share in shares]) for side in (0, 1)]


def play_share(job: Job, scope: Scope, share: tuple[int, int], err: TextIO) -> tuple[Side, Side]:
    """Share ``i`` of ``n`` of the tickets under both directories."""
    twin = _Twin(job, scope)
    with _lines(job.events) as lines:
        summary, _ = play(Shard(job.current, twin), lines, job.until, err, share)
    unchanged = {  # governed alike under both: the proposed engine never saw them
        (ticket.tenant, ticket.ticket_id): governing(ticket)
        for ticket in twin.tickets.values()
        if not scope(ticket.tenant)
    }
    return (
        side_of(job.current, twin.ledgers[0], twin, summary, twin.counted[0], {}),
        side_of(job.proposed, twin.ledgers[1], twin.proposed, summary, twin.counted[1], unchanged),
    )


class _Twin(Engine):
    """The engine under the current policies, with a second one under the proposed policies
    for the tickets whose tenant's policies differ. Each one's SLA events go to its ledger;
    a ticket of an unchanged tenant gives its events to both (the proposed engine would make
    the same). The input checks that refuse an event (too late, no ticket, attributes) do
    not read policies, so an event the first engine takes, the second takes too."""

    def __init__(self, job: Job, scope: Scope) -> None:
        super().__init__(job.current)
        self.proposed = Engine(job.proposed)
        self.scope = scope
        self.ledgers = (Ledger(in_order=True), Ledger(in_order=True))  # the engine's order
        self.counted = [0, 0]

    def receive(self, event: TicketEvent, now: Instant, partition: int = 0) -> list[SlaEvent]:
        self._route(super().receive(event, now, partition))
        if self.scope(event.tenant):
            self._keep(self.proposed.receive(event, now, partition))
        return []

    def advance(self, now: Instant, partition: int | None = None) -> list[SlaEvent]:
        self._route(super().advance(now, partition))
        self._keep(self.proposed.advance(now, partition))
        return []

    def _route(self, events: list[SlaEvent]) -> None:
        current, proposed = self.ledgers
        for event in events:
            current.take(event)
            if not self.scope(event.tenant):
                proposed.take(event)
                self.counted[1] += 1
        self.counted[0] += len(events)

    def _keep(self, events: list[SlaEvent]) -> None:
        take = self.ledgers[1].take
        for event in events:
            take(event)
        self.counted[1] += len(events)


@contextmanager
def _lines(events: Events) -> Iterator[Iterable[bytes]]:
    if isinstance(events, Path):
        with events.open("rb") as lines:  # bytes: replay decodes each line on its own
            yield lines
    else:
        yield events


def _child(job: Job, scope: Scope, share: tuple[int, int], pipe: Connection) -> None:
    gc.disable()
    pipe.send(play_share(job, scope, share, io.StringIO()))  # this process says it all


def _receive(pipe: Connection, process: BaseProcess) -> tuple[Side, Side]:
    try:
        sides: tuple[Side, Side] = pipe.recv()
    except (EOFError, OSError):
        process.join(timeout=5)
        raise WhatifFailed(
            f"a replay process (pid {process.pid}) {_how(process)} before finishing; "
            "nothing was compared"
        ) from None
    return sides


def _how(process: BaseProcess) -> str:
    code = process.exitcode
    if code is None:
        return "stopped answering"
    if code < 0:
        return f"was killed by signal {signal.Signals(-code).name}"
    return f"exited with status {code}"


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """As replay: the engine makes no reference cycles, and the collector would rescan
    every ticket again and again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
