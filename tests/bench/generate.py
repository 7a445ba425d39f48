"""Generate realistic ticket event streams for the seed tenants (benchmarks, demos).

``python -m tests.bench.generate --tickets 100000 --events 1000000 out.jsonl`` writes
events in occurred_at order with a small share delivered late, as a stream would.
"""

import argparse
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Attributes the seed policies read (deploy/policies/*.yaml headers).
TENANTS: dict[str, dict[str, list[str]]] = {
    "westock": {
        "tier": ["essential", "scale"],
        "category": ["general", "product", "payment", "dashboard_access", "technical"],
    },
    "istockist": {
        "priority": ["critical", "medium", "low"],
        "priority_set_by": ["support", "client"],
    },
    "saleslayer": {"account_type": ["enterprise", "premium", "starter", "connect"]},
    "commerceup": {
        "priority": ["C1", "C2", "C3", "C4"],
        "subject": ["Checkout broken", "System Down", "C3 banner"],
    },
    "liveagent": {"support_plan": ["dedicated"], "severity": ["1", "2", "3", "4", "5"]},
}
START = datetime(2026, 1, 5, tzinfo=UTC)


def ticket_events(
    rng: random.Random, number: int, per_ticket: int, start: datetime = START
) -> list[dict[str, object]]:
    tenant = rng.choice(list(TENANTS))
    attributes = {key: rng.choice(values) for key, values in TENANTS[tenant].items()}
    ticket = f"T-{number}"
    at = start + timedelta(seconds=rng.randint(0, 60 * 86400))
    events: list[dict[str, object]] = []

    def add(kind: str, **fields: object) -> None:
        events.append(
            {
                "event_id": f"{ticket}-{len(events)}",
                "type": kind,
                "ticket_id": ticket,
                "tenant": tenant,
                "occurred_at": at.isoformat(),
                **fields,
            }
        )

    add("ticket_created", attributes=attributes)
    script = [
        "agent_reply",
        "customer_reply",
        "pending",
        "open",
        "agent_reply",
        "customer_reply",
        "attribute_change",
        "agent_reply",
        "customer_reply",
        "agent_reply",
        "solved",
    ]
    for step in script[: per_ticket - 1]:
        at += timedelta(minutes=rng.randint(5, 600))
        if step in ("pending", "open", "solved"):
            add("status_change", status=step)
        elif step == "attribute_change":
            key = rng.choice(list(TENANTS[tenant]))
            add("attribute_change", attributes={key: rng.choice(TENANTS[tenant][key])})
        else:
            add(step)
    return events


def stream(
    tickets: int, events: int, late_share: float, seed: int = 7, start: datetime = START
) -> Iterator[str]:
    """Events of ``tickets`` tickets over 60 days from ``start``, in time order but for a
    ``late_share`` of neighbours swapped (late arrivals)."""
    rng = random.Random(seed)
    per_ticket = max(2, events // tickets)
    everything = [e for n in range(tickets) for e in ticket_events(rng, n, per_ticket, start)]
    everything.sort(key=lambda e: str(e["occurred_at"]))
    for index in range(len(everything) - 1):  # swap a few neighbours: late arrivals
        if rng.random() < late_share:
            everything[index], everything[index + 1] = everything[index + 1], everything[index]
    for event in everything:
        yield json.dumps(event, separators=(",", ":"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--late-share", type=float, default=0.01)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    with args.output.open("w", encoding="utf-8") as out:
        for line in stream(args.tickets, args.events, args.late_share):
            out.write(line + "\n")


if __name__ == "__main__":
    main()
