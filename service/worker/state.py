"""A ticket's durable state in the Faust table, and back.

What is stored is what cannot be derived: the snapshot of the clocks (``base``) and the
events after it, what stands published since the snapshot (so a breach is published once,
across restarts), and the compliance outcomes of what was forgotten. Its size is bounded
whatever the ticket's history (``Ticket.KEPT_EVENTS``; docs/worker.md). The clocks are rebuilt
from the snapshot and the events when a ticket is first touched after a restart;
``next_due``, ``forget_at`` and ``partition`` are stored so the timer heaps can be rebuilt
at recovery without folding every ticket, and ``outcomes`` so the compliance tally can.

A snapshot's cycles name their policy, rule and target by name, metric and index, and are
read back under the policies of the day: a cycle whose policy, rule or target no longer
exists is dropped (its clock no longer runs, as for a ticket no policy matches).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from service.core.clocks import TicketClocks
from service.core.compliance import Outcome
from service.core.cycle import Cycle
from service.core.engine import TicketKey, ticket_key
from service.core.events import EventType, SlaEvent, SlaEventType, TicketEvent
from service.core.instant import Instant
from service.core.policy import PolicySet
from service.core.ticket import Ticket

FORMAT = 2  # the table value's layout; a value of another layout is read as a new ticket


@dataclass(frozen=True, slots=True)
class Stored:
    """The table value's index fields, readable without rebuilding the ticket."""

    tenant: str
    ticket_id: str
    partition: int
    next_due: Instant | None
    outcomes: list[Outcome]  # what the ticket counts for compliance
    forget_at: Instant | None = None  # when a settled ticket is forgotten (SLA_RETENTION)
    versions: tuple[str, ...] = ()  # policy versions of its open cycles


def dump(
    ticket: Ticket,
    partition: int,
    outcomes: Iterable[Outcome] = (),
    log: "LogJson | None" = None,
    forget_at: Instant | None = None,
) -> bytes:
    value = orjson.dumps(
        {
            "format": FORMAT,
            "tenant": ticket.tenant,
            "ticket": ticket.ticket_id,
            "partition": partition,
            "next_due": ticket.next_due,
            "forget_at": forget_at,
            "versions": _open_versions(ticket),
            "log": (log or LogJson()).of(ticket),
            "arrivals": ticket.arrivals,
            "base": _dump_clocks(ticket.base) if ticket.base is not None else None,
            "base_key": ticket.base_key,
            "folded_ids": ticket.folded_ids,
            "published": [[digest, *_dump_published(e)] for digest, e in ticket.standing],
            "retained": [_dump_published(e) for es in ticket.retained.values() for e in es],
            "settled": [[*_dump_outcome(o), n] for o, n in ticket.settled.items()],
            "generation": ticket.generation,
            "outcomes": _counted(outcomes),
        }
    )
    return right_sized(value)  # held in the batch in flight until acked


def right_sized(raw: bytes) -> bytes:
    """``raw`` in a bytes object of its own size. orjson (3.12 on) hands back its whole
    buffer, 4 KB and more for a few hundred bytes of JSON (``sys.getsizeof`` says the length,
    not the allocation): what outlives the call, a ticket's log text or a record of a batch
    in flight, is copied (4,089 B per open ticket kept, before; docs/benchmarks.md)."""
    return bytes(memoryview(raw))


def _open_versions(ticket: Ticket) -> list[str]:
    """The policy versions the ticket's open cycles run under: a restart under other
    versions plans their due instants again (docs/worker.md)."""
    if ticket.clocks is None:
        return []
    cycles = ticket.clocks.cycles.values()
    return sorted({cycle.policy.version for cycle in cycles if cycle.is_open})


def _dump_outcome(outcome: Outcome) -> list[Any]:
    return [outcome.policy, outcome.metric, outcome.month, outcome.met]


def _counted(outcomes: Iterable[Outcome]) -> list[list[Any]]:
    """Outcomes as counts: a ticket with a thousand periodic-update cycles stays small."""
    counts: dict[Outcome, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return [[*_dump_outcome(o), n] for o, n in counts.items()]


def _uncounted(rows: Iterable[list[Any]]) -> list[Outcome]:
    return [Outcome(*row[:4]) for row in rows for _ in range(row[4])]


class LogJson:
    """Each ticket's event log as JSON, extended as the log grows: a ticket's log only ever
    grows, so a write serializes the new entries, not the whole history again."""

    def __init__(self) -> None:
        self._done: dict[TicketKey, tuple[int, int, bytes]] = {}

    def of(self, ticket: Ticket) -> orjson.Fragment:
        key = ticket_key(ticket.tenant, ticket.ticket_id)
        trims, count, text = self._done.get(key, (ticket.trims, 0, b""))
        if trims != ticket.trims:  # the log lost its oldest entries: write it anew
            count, text = 0, b""
        entries = ticket.log
        if count < len(entries):
            more = b",".join(
                orjson.dumps([at, seq, dump_event(event)]) for at, seq, event in entries[count:]
            )
            text = text + b"," + more if text else right_sized(more)
            self._done[key] = (ticket.trims, len(entries), text)
        return orjson.Fragment(b"[" + text + b"]")

    def forget(self, key: TicketKey | None = None) -> None:
        """Drop the text of one ticket (it left memory), or of all."""
        if key is None:
            self._done.clear()
        else:
            self._done.pop(key, None)


def index(raw: bytes) -> Stored | None:
    """The index fields of a stored value; None for a value of another layout."""
    body = orjson.loads(raw)
    return _index_of(body) if body.get("format") == FORMAT else None


def read(raw: bytes, policies: PolicySet) -> tuple[Ticket, Stored] | None:
    """The ticket as stored and its index fields, the value parsed once (a ticket coming
    back into memory); None for a value of another layout."""
    body = orjson.loads(raw)
    if body.get("format") != FORMAT:
        return None
    return _ticket_of(body, policies), _index_of(body)


def _index_of(body: dict[str, Any]) -> Stored:
    return Stored(
        body["tenant"],
        body["ticket"],
        body["partition"],
        body["next_due"],
        _uncounted(body["outcomes"]),
        body["forget_at"],
        tuple(body["versions"]),
    )


def load(raw: bytes, policies: PolicySet) -> Ticket | None:
    """The ticket as stored (None for a value of another layout); its clocks are rebuilt
    by ``Ticket.restore``."""
    body = orjson.loads(raw)
    return _ticket_of(body, policies) if body.get("format") == FORMAT else None


def _ticket_of(body: dict[str, Any], policies: PolicySet) -> Ticket:
    tenant, ticket_id = body["tenant"], body["ticket"]
    ticket = Ticket(policies, tenant, ticket_id)
    for at, seq, fields in body["log"]:
        ticket.log.append((at, seq, _load_event(fields, tenant, ticket_id, at)))
    ticket.arrivals = body["arrivals"]
    if body["base"] is not None:
        ticket.base = _load_clocks(body["base"], policies, tenant, ticket_id)
        at, seq = body["base_key"]
        ticket.base_key = (at, seq)
    ticket.folded_ids = body["folded_ids"]
    for digest, *fields in body["published"]:
        ticket.standing.append((digest, _load_published(fields, tenant, ticket_id)))
    for fields in body["retained"]:
        event = _load_published(fields, tenant, ticket_id)
        ticket.retained.setdefault((event.metric, event.cycle), []).append(event)
    ticket.settled.update({Outcome(*row[:4]): row[4] for row in body["settled"]})
    ticket.generation = body["generation"]
    return ticket


# -- the snapshot of the clocks ----------------------------------------------------------


def _dump_clocks(clocks: TicketClocks) -> dict[str, Any]:
    return {
        "attributes": dict(clocks.attributes),
        "status": clocks.status,
        "policy": clocks.policy.name if clocks.policy is not None else None,
        "created_at": clocks.created_at,
        "first_responded": clocks.first_responded,
        "resolved": clocks.resolved,
        "statuses": clocks.statuses,
        "last_event_at": clocks.last_event_at,
        "last_fired_due": clocks.last_fired_due,
        "cycles": [_dump_cycle(cycle) for cycle in clocks.cycles.values()],
    }


def _dump_cycle(cycle: Cycle) -> list[Any]:
    return [
        cycle.policy.name,
        cycle.metric,
        cycle.target.index,
        cycle.number,
        cycle.started_at,
        cycle.since,
        cycle.counted,
        cycle.paused,
        cycle.breached_at,
        cycle.closed,
        cycle.closed_at,
        sorted(cycle.fired),
    ]


def _load_clocks(
    fields: dict[str, Any], policies: PolicySet, tenant: str, ticket_id: str
) -> TicketClocks:
    clocks = TicketClocks(policies, tenant, ticket_id)
    clocks.attributes = fields["attributes"]
    clocks.facts = {**clocks.attributes, "tenant": tenant}
    clocks.status = fields["status"]
    clocks.policy = policies.by_name(fields["policy"]) if fields["policy"] else None
    clocks.created_at = fields["created_at"]
    clocks.first_responded = fields["first_responded"]
    clocks.resolved = fields["resolved"]
    clocks.statuses = [(at, status) for at, status in fields["statuses"]]
    clocks.last_event_at = fields["last_event_at"]
    clocks.last_fired_due = fields["last_fired_due"]
    for row in fields["cycles"]:
        cycle = _load_cycle(row, policies)
        if cycle is not None:
            clocks.cycles[cycle.metric] = cycle
    return clocks


def _load_cycle(row: list[Any], policies: PolicySet) -> Cycle | None:
    name, metric, index, number, started, since, counted, paused, breached_at = row[:9]
    closed, closed_at, fired = row[9:]
    policy = policies.by_name(name)
    rule = policy.rule(metric) if policy is not None else None
    if policy is None or rule is None or index >= len(rule.targets):
        return None
    cycle = Cycle(rule, policy, number, rule.targets[index], started, since, counted, paused)
    cycle.breached_at, cycle.closed, cycle.closed_at = breached_at, closed, closed_at
    cycle.fired = frozenset(fired)
    cycle.refresh_due()
    return cycle


def dump_event(event: TicketEvent) -> dict[str, Any]:
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
    get = fields.get
    return TicketEvent(
        fields["id"],
        _EVENT_TYPES[fields["type"]],
        ticket_id,
        at,
        tenant,
        get("attributes", _NO_ATTRIBUTES),
        get("status"),
        get("reason"),
        get("public", True),
        get("automated", False),
    )


_EVENT_TYPES = {kind.value: kind for kind in EventType}
_NO_ATTRIBUTES: dict[str, Any] = {}  # shared: an event's attributes are never changed


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
    # In _dump_published's order, positional (a ticket coming back reads every one of them).
    event_id, kind, policy, version, metric, cycle, calendar, target, deadline = fields[:9]
    occurred_at, elapsed, threshold, caused_by = fields[9:]
    return SlaEvent(
        event_id,
        _SLA_TYPES[kind],
        tenant,
        ticket_id,
        policy,
        version,
        metric,
        cycle,
        calendar,
        target,
        deadline,
        occurred_at,
        elapsed,
        {},  # attributes: a retraction of it carries the ticket's attributes of the moment
        threshold,
        caused_by,
    )


_SLA_TYPES = {kind.value: kind for kind in SlaEventType}
