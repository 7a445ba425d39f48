"""Tickets in memory with a heap of due instants: the engine ``replay`` runs.

The streaming worker keeps tickets in a Faust table instead and its own heap per
partition, but moves them through the same ``Ticket`` methods.
"""

import heapq

from .events import SlaEvent, TicketEvent
from .instant import Instant
from .policy import PolicySet
from .ticket import Ticket

TicketKey = tuple[str, str]


class Engine:
    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.tickets: dict[TicketKey, Ticket] = {}
        self._due: list[tuple[Instant, TicketKey]] = []
        self._scheduled: dict[TicketKey, Instant] = {}  # the due each ticket has in the heap

    def receive(self, event: TicketEvent, now: Instant) -> list[SlaEvent]:
        """Apply one event; ``now`` is the engine's clock (event time in replay)."""
        key = (event.tenant, event.ticket_id)
        ticket = self.tickets.get(key)
        if ticket is None:
            ticket = self.tickets[key] = Ticket(self.policies, *key)
        out = ticket.receive(event, now)
        self._schedule(key, ticket)
        return out

    def advance(self, now: Instant) -> list[SlaEvent]:
        """Fire, ticket by ticket in due order, everything due up to ``now``."""
        out: list[SlaEvent] = []
        while self._due and self._due[0][0] <= now:
            due, key = heapq.heappop(self._due)
            if self._scheduled.get(key) != due:
                continue  # stale: the ticket moved on since this was scheduled
            del self._scheduled[key]
            ticket = self.tickets[key]
            out += ticket.advance(now)
            self._schedule(key, ticket)
        return out

    def _schedule(self, key: TicketKey, ticket: Ticket) -> None:
        due = ticket.next_due
        if due is not None and self._scheduled.get(key) != due:
            self._scheduled[key] = due
            heapq.heappush(self._due, (due, key))
