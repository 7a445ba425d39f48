"""Tickets in memory with a heap of due instants: the engine ``replay`` runs.

The streaming worker keeps tickets in a Faust table instead and its own heap per
partition, but moves them through the same ``Ticket`` methods.
"""

from .due import DueHeap
from .events import SlaEvent, TicketEvent
from .instant import Instant
from .policy import PolicySet
from .ticket import Ticket

TicketKey = tuple[str, str]


class Engine:
    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.tickets: dict[TicketKey, Ticket] = {}
        self._due: DueHeap[TicketKey] = DueHeap()

    def receive(self, event: TicketEvent, now: Instant) -> list[SlaEvent]:
        """Apply one event; ``now`` is the engine's clock (event time in replay)."""
        key = (event.tenant, event.ticket_id)
        ticket = self.tickets.get(key)
        if ticket is None:
            ticket = self.tickets[key] = Ticket(self.policies, *key)
        out = ticket.receive(event, now)
        self._due.schedule(key, ticket.next_due)
        return out

    def advance(self, now: Instant) -> list[SlaEvent]:
        """Fire, ticket by ticket in due order, everything due up to ``now``."""
        out: list[SlaEvent] = []
        for key in self._due.pop_due(now):
            ticket = self.tickets[key]
            out += ticket.advance(now)
            self._due.schedule(key, ticket.next_due)
        return out
