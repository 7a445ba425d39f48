"""The engine: tickets in memory, a heap of due instants per partition, and what a batch
changed. ``replay`` runs it over a file, the streaming worker over Kafka batches.

A ticket is keyed by ``ticket_key(tenant, ticket_id)``. Replay keeps every ticket in
memory in one partition (0) and holds events of a ticket never created for ever. The
worker gives a ``Lifecycle`` and a ``load`` hook (docs/worker.md): a ticket not in memory is read
back from storage (its clocks rebuilt, what it owes published); a ticket with nothing left
to count leaves memory once written, and is forgotten ``retention`` after; events held for
a ticket never created are given up ``hold`` after their time. ``take_changes`` says what
to write, delete and dead-letter since it was last called.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .due import DueHeap
from .events import SlaEvent, TicketEvent
from .instant import Instant
from .policy import PolicySet
from .ticket import Ticket

TicketKey = str
Load = Callable[[TicketKey, int], Ticket | None]
"""Reads a stored ticket back, by key and partition (None: not stored)."""


def ticket_key(tenant: str, ticket_id: str) -> TicketKey:
    """Tenant and ticket id, joined by a unit separator: ids never hold control characters
    (the wire codec refuses them), so the key is unambiguous and sorts as the pair does."""
    return f"{tenant}\x1f{ticket_id}"


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """How long a settled ticket is kept, and events of a ticket never created held."""

    retention: Instant  # microseconds after the write that settled it
    hold: Instant  # microseconds after the held event's occurred_at
    # Settled tickets kept in memory, the most recently written: a ticket with nothing to
    # count for now (answered, waiting on the customer) often gets its next event soon.
    keep_settled: int = 0


@dataclass(frozen=True, slots=True)
class Written:
    """A ticket whose stored value must be written; ``forget_at`` is set for a settled one,
    which has left memory."""

    key: TicketKey
    partition: int
    ticket: Ticket
    forget_at: Instant | None


@dataclass(slots=True)
class Changes:
    """What the engine changed since the last ``take_changes``, in the order to apply it."""

    owed: list[SlaEvent] = field(default_factory=list)  # restored but not yet returned
    written: list[Written] = field(default_factory=list)
    forgotten: list[tuple[TicketKey, int]] = field(default_factory=list)  # key, partition
    expired: list[TicketEvent] = field(default_factory=list)  # held events given up
    evicted: list[TicketKey] = field(default_factory=list)  # left memory (written or forgotten)


def _never(key: TicketKey, partition: int) -> Ticket | None:
    return None


class Engine:
    def __init__(
        self, policies: PolicySet, lifecycle: Lifecycle | None = None, load: Load = _never
    ) -> None:
        self.policies = policies
        self.lifecycle = lifecycle
        self.load = load
        self.tickets: dict[TicketKey, Ticket] = {}
        self.heaps: dict[int, DueHeap[TicketKey]] = {}
        self._changed: dict[TicketKey, int] = {}  # key -> partition, since take_changes
        self._forgotten: dict[TicketKey, int] = {}
        self._expired: list[TicketEvent] = []
        self._owed: list[SlaEvent] = []
        self._evicted: list[TicketKey] = []
        self._settled: dict[TicketKey, None] = {}  # kept in memory, oldest write first

    def receive(self, event: TicketEvent, now: Instant, partition: int = 0) -> list[SlaEvent]:
        """Apply one event; ``now`` is the engine's clock (event time in replay).
        ``InvalidEvent`` refuses it (the ticket is as it was)."""
        key = ticket_key(event.tenant, event.ticket_id)
        ticket = self._ticket(key, now, partition)
        if ticket is None:
            ticket = Ticket(self.policies, event.tenant, event.ticket_id)
        out = ticket.receive(event, now)
        self.tickets[key] = ticket
        self._forgotten.pop(key, None)
        self._touch(key, partition, ticket)
        return self._with_owed(out)

    def advance(self, now: Instant, partition: int | None = None) -> list[SlaEvent]:
        """Take, ticket by ticket in due order, every ticket of ``partition`` (None: of
        every partition) whose instant has come: fire its warnings and deadlines, give up
        its held events, or forget it."""
        out: list[SlaEvent] = []
        partitions = list(self.heaps) if partition is None else [partition]
        for number in partitions:
            heap = self.heaps.get(number)
            if heap is not None and heap.is_due(now):  # most calls: nothing due
                for key in heap.pop_due(now):
                    out += self._due(key, number, now)
        return self._with_owed(out)

    def schedule(self, partition: int, key: TicketKey, due: Instant | None) -> None:
        self.heaps.setdefault(partition, DueHeap()).schedule(key, due)

    def earliest(self, partition: int) -> Instant | None:
        heap = self.heaps.get(partition)
        return heap.earliest() if heap is not None else None

    def reset(self, partitions: Iterable[int] = ()) -> None:
        """Forget everything held (a rebalance); empty heaps for ``partitions``."""
        self.tickets.clear()
        self.heaps = {partition: DueHeap() for partition in partitions}
        self._changed.clear()
        self._forgotten.clear()
        self._expired.clear()
        self._owed.clear()
        self._evicted.clear()
        self._settled.clear()

    def take_changes(self, now: Instant) -> Changes:
        """What to write, delete and dead-letter since the last call. A settled ticket
        written now is forgotten ``retention`` after ``now``, and leaves memory once more
        than ``keep_settled`` settled tickets were written after it."""
        changes = Changes(owed=self._owed, expired=self._expired, evicted=self._evicted)
        self._owed, self._expired, self._evicted = [], [], []
        settled = self._settled
        for key, partition in self._changed.items():
            ticket = self.tickets[key]
            forget_at = None
            settled.pop(key, None)
            if self.lifecycle is not None and ticket.is_settled:
                forget_at = now + self.lifecycle.retention
                settled[key] = None  # the most recent last
            self.schedule(partition, key, forget_at or self._due_of(ticket))
            changes.written.append(Written(key, partition, ticket, forget_at))
        if self.lifecycle is not None:
            while len(settled) > self.lifecycle.keep_settled:
                oldest = next(iter(settled))
                del settled[oldest], self.tickets[oldest]
                changes.evicted.append(oldest)
        changes.forgotten = list(self._forgotten.items())
        self._changed.clear()
        self._forgotten.clear()
        return changes

    # -- inside ---------------------------------------------------------------------------

    def _with_owed(self, out: list[SlaEvent]) -> list[SlaEvent]:
        if not self._owed:
            return out
        owed, self._owed = self._owed, []
        return owed + out

    def _touch(self, key: TicketKey, partition: int, ticket: Ticket) -> None:
        if self.lifecycle is None:
            self.schedule(partition, key, ticket.next_due)  # nothing else to write
        else:
            self._changed[key] = partition

    def _ticket(self, key: TicketKey, now: Instant, partition: int) -> Ticket | None:
        """The ticket from memory, or loaded (its clocks restored; what it owes is owed)."""
        ticket = self.tickets.get(key)
        if ticket is not None or key in self._forgotten:
            return ticket
        ticket = self.load(key, partition)
        if ticket is None:
            return None
        self.tickets[key] = ticket
        owed = ticket.restore(now)
        if owed:  # restored under changed policies, or fell due unwatched: written
            self._owed += owed
            self._touch(key, partition, ticket)
        return ticket

    def _due_of(self, ticket: Ticket) -> Instant | None:
        """The next instant the ticket needs the engine: a warning or deadline, or the end
        of the hold of its events when its ticket_created has not come."""
        if ticket.is_created or self.lifecycle is None:
            return ticket.next_due
        since = ticket.held_since
        return since + self.lifecycle.hold if since is not None else None

    def _due(self, key: TicketKey, partition: int, now: Instant) -> list[SlaEvent]:
        ticket = self._ticket(key, now, partition)
        if ticket is None:
            return []
        if self.lifecycle is None:
            out = ticket.advance(now)
            self.schedule(partition, key, ticket.next_due)
            return out
        if ticket.is_created and not ticket.is_settled:
            self._changed[key] = partition
            return ticket.advance(now)
        if key in self._changed:
            return []  # changed since: written, and its retention starts again
        if not ticket.is_created:
            due = self._due_of(ticket)
            if due is not None and due > now:
                self.schedule(partition, key, due)
                return []
            self._expired += ticket.expire_held()
        # Held too long, or its retention ended: an event for it now is for a new ticket.
        self._forgotten[key] = partition
        self._settled.pop(key, None)
        if self.tickets.pop(key, None) is not None:
            self._evicted.append(key)
        return []
