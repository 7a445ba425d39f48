"""What one ticket's history costs the worker's table (docs/worker.md: bounded, flat per event).

A mail loop (customer replies one second apart, as two auto-responders make) and a busy
conversation (agent and customer replies, status changes) are fed to one ticket; after
100, 1,000 and 25,000 events it prints the stored value's size, and the changelog bytes
written per event when every event is its own batch (the worker writes a changed ticket
once per batch), against the goal: flat as the ticket grows.

``python -m tests.bench.state_bench``
"""

import time
from collections.abc import Iterator
from pathlib import Path

from service.core.events import EventType, TicketEvent
from service.core.instant import SECOND
from service.core.ticket import Ticket
from service.policyfile import load_policies
from service.wire import parse_timestamp
from service.worker import state

POLICIES = load_policies(Path(__file__).parents[2] / "deploy" / "policies")
START = parse_timestamp("2026-03-02T09:00:00Z")
MARKS = (100, 1_000, 25_000)


def mail_loop() -> Iterator[TicketEvent]:
    for n in range(1, MARKS[-1] + 1):
        yield TicketEvent(
            f"loop-{n:06d}", EventType.CUSTOMER_REPLY, "T", START + n * SECOND, "westock"
        )


def conversation() -> Iterator[TicketEvent]:
    kinds = [
        (EventType.AGENT_REPLY, None),
        (EventType.CUSTOMER_REPLY, None),
        (EventType.STATUS_CHANGE, "pending"),
        (EventType.STATUS_CHANGE, "open"),
    ]
    for n in range(1, MARKS[-1] + 1):
        kind, status = kinds[n % len(kinds)]
        at = START + n * 60 * SECOND
        yield TicketEvent(f"talk-{n:06d}", kind, "T", at, "westock", status=status)


def measure(name: str, events: Iterator[TicketEvent]) -> None:
    ticket, cache = Ticket(POLICIES, "westock", "T"), state.LogJson()
    created = TicketEvent(
        "created",
        EventType.TICKET_CREATED,
        "T",
        START,
        "westock",
        {"tier": "essential", "category": "payment"},
    )
    ticket.receive(created, START)
    written, since, started = 0, 0, time.perf_counter()
    for number, event in enumerate(events, start=1):
        ticket.receive(event, event.occurred_at)
        value = state.dump(ticket, 0, log=cache)
        written += len(value)
        since += 1
        if number in MARKS:
            print(
                f"  {name:<14} {number:>6,} events: value {len(value):>7,} B, "
                f"changelog {written / since:>9,.0f} B/event over the last {since:,}"
            )
            written = since = 0
    took = time.perf_counter() - started
    print(f"  {name:<14} {MARKS[-1] / took:>9,.0f} events/s with a write per event")


def main() -> None:
    print("ticket state benchmark: one ticket, a table value written after every event")
    measure("mail loop", mail_loop())
    measure("conversation", conversation())


if __name__ == "__main__":
    main()
