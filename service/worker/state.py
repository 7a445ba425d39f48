"""A ticket's durable state in the Faust table, and back.

What is stored is what cannot be derived: the event log and what was published (so a
breach is published once, across restarts). The clocks are a fold of the log and are
rebuilt when a ticket is first touched after a restart; ``next_due`` and ``partition``
are stored so the timer heaps can be rebuilt at recovery without folding every ticket, and
``outcomes`` so the compliance tally can.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from service.core.compliance import Outcome
from service.core.events import EventType, SlaEvent, SlaEventType, TicketEvent
from service.core.instant import Instant
from service.core.policy import PolicySet
from service.core.ticket import Ticket


@dataclass(frozen=True, slots=True)
class Stored:
    """The table value's index fields, readable without rebuilding the ticket."""

    tenant: str
    ticket_id: str
    partition: int
    next_due: Instant | None
    outcomes: list[Outcome]  # what the ticket counts for compliance


def table_key(tenant: str, ticket_id: str) -> str:
    return f"{tenant}\x1f{ticket_id}"


def dump(
    ticket: Ticket,
    partition: int,
    outcomes: Iterable[Outcome] = (),
    log: "LogJson | None" = None,
) -> bytes:
    return orjson.dumps(
        {
            "tenant": ticket.tenant,
            "ticket": ticket.ticket_id,
            "partition": partition,
            "next_due": ticket.next_due,
            "log": (log or LogJson()).of(ticket),
            "published": [[digest, *_dump_published(e)] for digest, e in ticket.standing],
            "generation": ticket.generation,
            "outcomes": [[o.policy, o.metric, o.month, o.met] for o in outcomes],
        }
    )


class LogJson:
    """Each ticket's event log as JSON, extended as the log grows: a ticket's log only ever
    grows, so a write serializes the new entries, not the whole history again."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str], tuple[int, bytes]] = {}

    def of(self, ticket: Ticket) -> orjson.Fragment:
        key = (ticket.tenant, ticket.ticket_id)
        count, text = self._done.get(key, (0, b""))
        entries = ticket.log
        if count < len(entries):
            more = b",".join(
                orjson.dumps([at, seq, _dump_event(event)]) for at, seq, event in entries[count:]
            )
            text = text + b"," + more if text else more
            self._done[key] = (len(entries), text)
        return orjson.Fragment(b"[" + text + b"]")

    def forget(self) -> None:
        self._done.clear()


def index(raw: bytes) -> Stored:
    body = orjson.loads(raw)
    found = [Outcome(*fields) for fields in body.get("outcomes", ())]
    return Stored(body["tenant"], body["ticket"], body["partition"], body["next_due"], found)


def load(raw: bytes, policies: PolicySet) -> Ticket:
    """The ticket as stored; its clocks are rebuilt by ``Ticket.restore``."""
    body = orjson.loads(raw)
    ticket = Ticket(policies, body["tenant"], body["ticket"])
    for at, seq, fields in body["log"]:
        event = _load_event(fields, ticket.tenant, ticket.ticket_id, at)
        ticket.log.append((at, seq, event))
        ticket.seen.add(event.event_id)
    for digest, *fields in body["published"]:
        ticket.standing.append((digest, _load_published(fields, ticket.tenant, ticket.ticket_id)))
    ticket.generation = body["generation"]
    return ticket


def _dump_event(event: TicketEvent) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": event.event_id, "type": event.type.value}
    if event.attributes:
        fields["attributes"] = dict(event.attributes)
    if event.status is not None:
        fields["status"] = event.status
    if event.reason is not None:
        fields["reason"] = event.reason
    if not event.public:
        fields["public"] = False
    if event.automated:
        fields["automated"] = True
    return fields


def _load_event(fields: dict[str, Any], tenant: str, ticket_id: str, at: Instant) -> TicketEvent:
    return TicketEvent(
        fields["id"],
        EventType(fields["type"]),
        ticket_id,
        at,
        tenant,
        fields.get("attributes", {}),
        fields.get("status"),
        fields.get("reason"),
        fields.get("public", True),
        fields.get("automated", False),
    )


_PUBLISHED = (
    "event_id",
    "type",
    "policy",
    "policy_version",
    "metric",
    "cycle",
    "calendar",
    "target",
    "deadline",
    "occurred_at",
    "elapsed",
    "threshold",
    "caused_by",
)


def _dump_published(event: SlaEvent) -> list[Any]:
    return [
        event.event_id,
        event.type.value,
        event.policy,
        event.policy_version,
        event.metric,
        event.cycle,
        event.calendar,
        event.target,
        event.deadline,
        event.occurred_at,
        event.elapsed,
        event.threshold,
        event.caused_by,
    ]


def _load_published(fields: list[Any], tenant: str, ticket_id: str) -> SlaEvent:
    named = dict(zip(_PUBLISHED, fields, strict=True))
    return SlaEvent(
        event_id=named["event_id"],
        type=SlaEventType(named["type"]),
        tenant=tenant,
        ticket_id=ticket_id,
        policy=named["policy"],
        policy_version=named["policy_version"],
        metric=named["metric"],
        cycle=named["cycle"],
        calendar=named["calendar"],
        target=named["target"],
        deadline=named["deadline"],
        occurred_at=named["occurred_at"],
        elapsed=named["elapsed"],
        attributes={},  # a retraction of it carries the ticket's attributes of the moment
        threshold=named["threshold"],
        caused_by=named["caused_by"],
    )
