"""The tickets table as the engine and the HTTP views read it: the one place a stored
ticket is read back (``state.load``) and its clocks rebuilt."""

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from service.core.engine import Engine, TicketKey, ticket_key
from service.core.instant import Instant
from service.core.policy import PolicySet
from service.core.ticket import Ticket
from service.worker import state
from service.worker.compliance import LiveCompliance

PartitionReader = Callable[[bytes, int], bytes | None]
"""Reads a key from one partition's store: a new ticket's key is looked for there only,
not in every partition's database."""


class StoredTickets:
    """Reads ``table`` (a Faust table of bytes, or any mapping with ``get``)."""

    def __init__(
        self,
        table: Mapping[bytes, bytes],
        policies: PolicySet,
        compliance: LiveCompliance,
        in_partition: PartitionReader | None = None,
    ) -> None:
        self.table = table
        self.in_partition = in_partition
        self.policies = policies
        self.compliance = compliance
        # Values of batches not yet acked, by table key (None: deleted): what the table
        # will hold once they are, read first.
        self.pending: dict[bytes, bytes | None] = {}

    def read(
        self, key: TicketKey, partition: int | None = None
    ) -> tuple[Ticket, state.Stored] | None:
        """The stored ticket (clocks not yet rebuilt) and its index fields; None for a
        ticket never stored, forgotten, or stored in another layout."""
        raw_key = key.encode()
        if raw_key in self.pending:
            raw = self.pending[raw_key]
        elif partition is not None and self.in_partition is not None:
            raw = self.in_partition(raw_key, partition)
        else:
            raw = self.table.get(raw_key)
        return state.read(raw, self.policies) if raw is not None else None

    def load(self, key: TicketKey, partition: int) -> Ticket | None:
        """The engine's load hook: the ticket comes back into memory, and with it its
        outcomes (already in the compliance tally)."""
        found = self.read(key, partition)
        if found is None:
            return None
        ticket, stored = found
        self.compliance.recall(key, stored.outcomes)
        return ticket

    def index(self) -> Iterator[tuple[TicketKey, state.Stored]]:
        """Every stored ticket's index fields (at recovery)."""
        items: Iterator[tuple[Any, bytes]] = iter(self.table.items())
        for raw_key, raw in items:
            stored = state.index(raw)
            if stored is not None:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                yield key, stored


def recover(engine: Engine, tickets: StoredTickets, owned: Iterable[int]) -> None:
    """The table is complete (a start or rebalance): rebuild the engine's due heaps of
    the ``owned`` partitions and the compliance tally from the stored index fields."""
    owned = set(owned)
    engine.reset(owned)
    tickets.compliance.clear()
    versions = {policy.version for policy in tickets.policies.policies}
    for key, stored in tickets.index():
        if stored.partition in owned:
            due = stored.next_due if stored.forget_at is None else stored.forget_at
            if not versions.issuperset(stored.versions):
                due = 0  # its open cycles' policies changed: planned again at once
            engine.schedule(stored.partition, key, due)
            tickets.compliance.count(stored.outcomes)


def ticket_finder(
    engine: Engine, tickets: StoredTickets, horizon: Callable[[], Instant]
) -> Callable[[str, str], Ticket | None]:
    """What ``GET /tickets/{tenant}/{ticket_id}`` shows: the ticket in memory, or a copy
    read from the table with its clocks rebuilt at ``horizon()`` (nothing is published)."""

    def find(tenant: str, ticket_id: str) -> Ticket | None:
        key = ticket_key(tenant, ticket_id)
        ticket = engine.tickets.get(key)
        if ticket is None:
            found = tickets.read(key)
            ticket = found[0] if found is not None else None
            if ticket is not None:
                ticket.restore(horizon())
        if ticket is None or (ticket.tenant, ticket.ticket_id) != (tenant, ticket_id):
            return None
        return ticket

    return find
