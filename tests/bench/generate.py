"""Generate helpdesk traffic for the seed tenants (benchmarks, tests, demos).

``python -m tests.bench.generate --tickets 100000 --events 1000000 out.jsonl`` writes exactly
``--events`` events of ``--tickets`` tickets created over a quarter (13 weeks from ``START``),
in ``occurred_at`` order but for a share of neighbours swapped (late arrivals). Seeded: the
same arguments give the same bytes.

The traffic is shaped like a real helpdesk's (``docs/benchmarks.md`` states the shape): agents
work in their team's business hours and answer most tickets within target; a few answers
and resolutions are late; tickets wait on the customer (pending), are re-prioritised,
get workarounds, are solved, closed, sometimes reopened, and a few threads run long. Each
ticket's times are placed against its own targets, read from the seed policies
(``deploy/policies``), so the compliance report of a generated quarter looks like a real
helpdesk's month: attainment mostly 85-99%.
"""

import argparse
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import orjson

from service.core.calendar import BusinessCalendar
from service.core.instant import DAY, HOUR, MINUTE, SECOND, Instant, from_datetime
from service.core.policy import PolicySet, Target
from service.policyfile import load_policies

POLICIES = Path(__file__).parents[2] / "deploy" / "policies"
START = datetime(2026, 1, 5, tzinfo=UTC)
SPAN_DAYS = 91  # a quarter: tickets are created over 13 weeks from the start

Weighted = tuple[tuple[str, float], ...]

# Tenants and how often each opens a ticket; attributes the seed policies read, with how
# often each value occurs (deploy/policies/*.yaml headers).
TENANT_SHARES: Weighted = (
    ("westock", 25),
    ("istockist", 20),
    ("saleslayer", 20),
    ("commerceup", 20),
    ("liveagent", 15),
)
TENANTS: dict[str, dict[str, Weighted]] = {
    "westock": {
        "tier": (("essential", 60), ("scale", 40)),
        "category": (
            ("general", 35),
            ("product", 25),
            ("payment", 12),
            ("dashboard_access", 10),
            ("technical", 12),
            ("sms_campaign", 4),
            ("buyer_ready_report", 2),
        ),
    },
    "istockist": {
        "priority": (("critical", 15), ("medium", 45), ("low", 40)),
        "priority_set_by": (("client", 1),),
    },
    "saleslayer": {
        "account_type": (
            ("enterprise", 15),
            ("premium", 30),
            ("starter", 35),
            ("connect", 15),
            ("solution_partner", 5),
        ),
        "channel": (("ticket", 50), ("email", 30), ("chat", 20)),
    },
    "commerceup": {
        "priority": (("C1", 5), ("C2", 20), ("C3", 55), ("C4", 20)),
        "subject": (
            ("Checkout broken", 30),
            ("Question about shipping rules", 30),
            ("C2: payment failures", 15),
            ("C4 theme question", 15),
            ("System Down", 5),
            ("C3 banner", 5),
        ),
    },
    "liveagent": {
        "support_plan": (("dedicated", 1),),
        "severity": (("1", 3), ("2", 10), ("3", 30), ("4", 32), ("5", 25)),
    },
}
LATE_SHARE: dict[str, float] = {  # of answers and resolutions that miss their target
    "westock": 0.05,
    "istockist": 0.06,
    "saleslayer": 0.07,
    "commerceup": 0.08,
    "liveagent": 0.08,
}
WAITING: dict[str, str] = {"istockist": "waiting_on_client"}  # the others say "pending"
FILL = 0.97  # of the events from conversations; notes make up the rest exactly


@dataclass(frozen=True)
class Shape:
    """The shares that make a ticket's story (``docs/benchmarks.md``)."""

    spam: float = 0.02  # closed unanswered within the hour
    acknowledged: float = 0.2  # an automated acknowledgement first
    pending: float = 0.6  # of exchanges: the agent asks and waits on the customer
    reopened: float = 0.05  # the customer writes back after the solve
    closed: float = 0.4  # closed a few days after the solve
    changed: float = 0.1  # priority, severity, category or plan changed once answered
    long_thread: float = 0.02  # 10-40 exchanges


@dataclass
class _Ticket:
    """One ticket's events as (instant, sequence, type, fields), built in time order."""

    number: int
    tenant: str
    at: Instant = 0
    events: list[tuple[Instant, int, str, dict[str, object]]] = field(default_factory=list)

    def add(self, at: Instant, kind: str, **fields: object) -> None:
        self.events.append((at, len(self.events), kind, fields))
        self.at = max(self.at, at)


class Generator:
    """Ticket stories placed against the seed policies' targets."""

    def __init__(self, rng: random.Random, start: datetime, shape: Shape = Shape()) -> None:
        self.rng = rng
        self.start = from_datetime(start)
        self.weekday = start.weekday()
        self.shape = shape
        self.policies = _seed_policies()
        self._targets: dict[tuple[object, ...], Target | None] = {}

    # -- the seed policies, looked up once per tenant and attributes ------------------------

    def target(self, tenant: str, attributes: dict[str, str], metric: str) -> Target | None:
        key = (tenant, metric, *sorted(attributes.items()))
        if key not in self._targets:
            facts = {**attributes, "tenant": tenant}
            policy = self.policies.select(facts)
            rule = policy.rule(metric) if policy is not None else None
            self._targets[key] = rule.select_target(facts) if rule is not None else None
        return self._targets[key]

    def calendar(self, tenant: str, attributes: dict[str, str]) -> BusinessCalendar:
        policy = self.policies.select({**attributes, "tenant": tenant})
        assert policy is not None
        return policy.calendar

    # -- drawing --------------------------------------------------------------------------

    def pick(self, options: Weighted) -> str:
        return _pick(self.rng, options)

    def share(self, tenant: str) -> float:
        """A fraction of a target used: mostly well inside it, a few past it."""
        if self.rng.random() < LATE_SHARE[tenant]:
            return self.rng.uniform(1.05, 1.8)
        return self.rng.betavariate(2.0, 3.0) * 0.97 + 0.02

    def wall(self, low: Instant, median: Instant) -> Instant:
        """A wall-clock wait: at least ``low``, lognormal around ``median``, at most a
        fortnight."""
        seconds = min(self.rng.lognormvariate(math.log(median / SECOND), 1.0), 14 * 86400)
        return low + _seconds(seconds)

    # -- a ticket -------------------------------------------------------------------------

    def ticket(self, number: int, exchanges: int) -> _Ticket:
        rng = self.rng
        tenant = self.pick(TENANT_SHARES)
        attributes = {key: self.pick(values) for key, values in TENANTS[tenant].items()}
        story = _Story(self, _Ticket(number, tenant), attributes)
        story.created(self._created_at(story))
        if rng.random() < self.shape.spam:
            story.status(story.ticket.at + self.wall(5 * MINUTE, 20 * MINUTE), "closed", "spam")
            return story.ticket
        story.answer_first()
        story.converse(exchanges)
        return story.ticket

    def _created_at(self, story: "_Story") -> Instant:
        """Weekdays mostly, in the customer's daytime mostly (the team's time zone)."""
        rng = self.rng
        while True:
            day = rng.randrange(SPAN_DAYS)
            if (self.weekday + day) % 7 < 5 or rng.random() < 0.25:
                break
        date = datetime.fromtimestamp((self.start + day * DAY) // SECOND, UTC)
        midnight = datetime(date.year, date.month, date.day, tzinfo=story.calendar.zone)
        hour = rng.uniform(8, 19) if rng.random() < 0.8 else rng.uniform(0, 24)
        return max(self.start, from_datetime(midnight) + _seconds(hour * 3600))


class _Story:
    """The events of one ticket: its first answer, its exchanges, its solve."""

    def __init__(self, gen: Generator, ticket: _Ticket, attributes: dict[str, str]) -> None:
        self.gen, self.rng, self.ticket = gen, gen.rng, ticket
        self.tenant = ticket.tenant
        self.attributes = attributes
        self.initial: dict[str, str] = {}
        self.created_at: Instant = 0
        self.answered: Instant = 0  # the last public answer of an agent
        self.waiting = WAITING.get(self.tenant, "pending")
        self._prepare()

    # -- what the ticket is -------------------------------------------------------------

    def _prepare(self) -> None:
        """Attributes at creation, and those support sets later (triage)."""
        rng, tenant, attributes = self.rng, self.tenant, self.attributes
        self.initial = dict(attributes)
        if tenant == "istockist" and rng.random() < 0.5:  # qualified by support after
            self.initial = {}
            attributes["priority_set_by"] = "support"
        if tenant == "commerceup" and rng.random() < 0.3:  # no priority: the subject decides
            del self.initial["priority"], attributes["priority"]
        if tenant == "westock" and rng.random() < 0.1:  # categorised on triage
            self.initial["category"] = "general"

    def target(self, metric: str, attributes: dict[str, str] | None = None) -> Target | None:
        """The target of the ticket's clock of ``metric`` for these (its current) attributes."""
        facts = attributes if attributes is not None else self.attributes
        return self.gen.target(self.tenant, facts, metric)

    @property
    def calendar(self) -> BusinessCalendar:
        """The team's calendar: the tenant's policy's."""
        return self.gen.calendar(self.tenant, self.attributes)

    # -- events ---------------------------------------------------------------------------

    def created(self, at: Instant) -> None:
        self.created_at = at
        self.ticket.add(at, "ticket_created", attributes=self.initial)

    def status(self, at: Instant, status: str, reason: str | None = None) -> None:
        if reason is None:
            self.ticket.add(at, "status_change", status=status)
        else:
            self.ticket.add(at, "status_change", status=status, reason=reason)

    def answer_first(self) -> None:
        """Acknowledgement, triage, and the first human answer against its target."""
        rng, ticket, start = self.rng, self.ticket, self.created_at
        if rng.random() < self.gen.shape.acknowledged:
            ticket.add(start + _seconds(rng.uniform(5, 90)), "agent_reply", automated=True)
        target = self.target("first_response")
        if target is not None:
            delay = int(self.gen.share(self.tenant) * target.breach_after)
            answered = target.calendar.add(start, delay)
        else:
            answered = self.calendar.add(start, _seconds(rng.uniform(1, 8) * 3600))
        answered = max(answered, start + MINUTE)
        if self.initial != self.attributes:  # triage before the answer
            triaged = start + (answered - start) * rng.uniform(0.2, 0.8)
            changes = {k: v for k, v in self.attributes.items() if self.initial.get(k) != v}
            ticket.add(triaged, "attribute_change", attributes=changes)
        self.answer(answered, "first_response" if rng.random() < 0.5 else "agent_reply")
        self.workaround(start)

    def workaround(self, since: Instant) -> None:
        """A Commerceup C1 gets its workaround (priority reduced to C2) against its clock."""
        target = self.target("c1_workaround")
        if self.tenant != "commerceup" or target is None:
            return
        if not self._is_c1() or self.rng.random() < 0.03:
            return
        delay = int(self.gen.share(self.tenant) * target.breach_after)
        at = target.calendar.add(since, delay)
        self.ticket.add(at, "attribute_change", attributes={"priority": "C2"})
        self.attributes["priority"] = "C2"

    def _is_c1(self) -> bool:
        priority = self.attributes.get("priority")
        subject = self.attributes.get("subject", "")
        return priority == "C1" or (priority is None and subject == "System Down")

    def converse(self, exchanges: int) -> None:
        """Exchanges until the solve, maybe a change, a reopen, and a close."""
        rng, shape = self.rng, self.gen.shape
        self.change()
        reopen = rng.random() < shape.reopened
        resolution = self.target("resolution")
        work = self._work_budget(resolution, exchanges + 1 + reopen)
        for _ in range(exchanges):
            self.exchange(work.pop())
        solved = self.solve(work.pop())
        if reopen:
            self.ticket.add(solved + self.gen.wall(HOUR, 20 * HOUR), "customer_reply")
            self.status(self.ticket.at + MINUTE, "open")
            self.answered = self.ticket.at  # no follow-up is owed while solved
            solved = self.solve(work.pop())
        if rng.random() < shape.closed:
            self.status(solved + _seconds(rng.uniform(2, 4) * 86400), "closed")

    def change(self) -> None:
        """Once answered, some tickets are re-prioritised, re-categorised or upgraded."""
        rng, tenant, attributes = self.rng, self.tenant, self.attributes
        if rng.random() >= self.gen.shape.changed:
            return
        new: dict[str, str] = {}
        if tenant == "istockist" and attributes.get("priority") in ("critical", "medium"):
            new["priority"] = "medium" if attributes["priority"] == "critical" else "low"
        elif tenant == "commerceup" and attributes.get("priority") == "C2":
            new["priority"] = "C1"  # raised: the workaround clock starts
        elif tenant == "liveagent" and attributes["severity"] in ("2", "3"):
            new["severity"] = rng.choice(["2", "4"] if attributes["severity"] == "3" else ["3"])
        elif tenant == "westock" and attributes["category"] == "payment":
            new["category"] = "general"  # no resolution promise: its clock is cancelled
        elif tenant == "saleslayer" and attributes["account_type"] == "starter":
            new["account_type"] = "premium"
        if new:
            at = self.ticket.at + self.gen.wall(MINUTE, 30 * MINUTE)
            self.ticket.add(at, "attribute_change", attributes=new)
            attributes.update(new)
            if new.get("priority") == "C1":
                self.workaround(at)

    def _work_budget(self, resolution: Target | None, phases: int) -> list[int]:
        """Business time the team works in each phase (counted by a resolution clock),
        so the resolution lands at its share of the target, or after a usual while."""
        if resolution is not None:
            total = int(self.gen.share(self.tenant) * resolution.breach_after)
            spent = resolution.calendar.between(self.created_at, self.ticket.at)
            left = max(total - spent, phases * 10 * MINUTE)
        else:
            left = _seconds(self.rng.uniform(1, 16) * 3600)
        weights = [self.rng.random() + 0.2 for _ in range(phases)]
        scale = left / sum(weights)
        return [max(MINUTE, int(w * scale) // SECOND * SECOND) for w in weights]

    def working(self, since: Instant, amount: int) -> Instant:
        """The instant the team is done with ``amount`` business time from ``since``."""
        done = self.work_calendar().add(since, amount)
        self.updates_until(done)
        return done

    def work_calendar(self) -> BusinessCalendar:
        """Resolution work runs on the resolution clock's calendar; else, as urgent as the
        first answer was (around the clock for a LiveAgent Severity 1-2)."""
        for metric in ("resolution", "first_response"):
            target = self.target(metric)
            if target is not None:
                return target.calendar
        return self.calendar

    def updates_until(self, until: Instant) -> None:
        """A follow-up clock (LiveAgent) runs between public answers, waiting or not: the
        agent posts updates on its cadence until ``until``."""
        follow_up = self.target("periodic_update")
        while follow_up is not None:
            step = int(self.gen.share(self.tenant) * follow_up.breach_after)
            update = follow_up.calendar.add(self.answered, max(step, MINUTE))
            if update >= until:
                return
            self.answer(update)

    def answer(self, at: Instant, kind: str = "agent_reply") -> None:
        self.ticket.add(at, kind)
        self.answered = at

    def exchange(self, work: int) -> None:
        """The agent asked and waits (pending) until the customer writes, or the customer
        writes while the agent works; then the agent answers."""
        rng, ticket = self.rng, self.ticket
        if rng.random() < self.gen.shape.pending:
            asked = ticket.at
            self.status(asked + MINUTE, self.waiting)
            reply = asked + self.gen.wall(2 * MINUTE, 5 * HOUR)
            self.updates_until(reply)
            ticket.add(reply, "customer_reply")
            self.status(reply + MINUTE, "open")
            self.answer(self.working(reply + MINUTE, work))
        else:
            since = ticket.at
            done = self.working(since, work)
            ticket.add(since + int((done - since) * rng.random()), "customer_reply")
            self.answer(done)

    def solve(self, work: int) -> Instant:
        """The agent posts the fix and solves the ticket."""
        done = self.working(self.ticket.at, work)
        self.answer(done)
        self.status(done + _seconds(self.rng.uniform(10, 120)), "solved")
        return self.ticket.at


@cache
def _seed_policies() -> PolicySet:
    return load_policies(POLICIES)


def _pick(rng: random.Random, options: Weighted) -> str:
    total = sum(weight for _, weight in options)
    point = rng.random() * total
    for value, weight in options:
        point -= weight
        if point < 0:
            return value
    return options[-1][0]


def _seconds(seconds: float) -> int:
    return int(seconds) * SECOND


def _exchanges(rng: random.Random, mean: float, shape: Shape) -> int:
    """Exchanges of one ticket: most have a few, a long thread has 10-40."""
    if rng.random() < shape.long_thread:
        return rng.randint(10, 40)
    if mean <= 0:
        return 0
    return int(rng.expovariate(1 / mean) + 0.5)


def stories(
    count: int, events: int, seed: int = 7, start: datetime = START, shape: Shape = Shape()
) -> list[_Ticket]:
    """``count`` ticket stories whose events number about ``FILL`` of ``events``: the
    exchanges per ticket are steered by what the tickets so far used."""
    rng = random.Random(seed)
    gen = Generator(rng, start, shape)
    made: list[_Ticket] = []
    used, skeleton = 0, 0.0
    for number in range(count):
        per_ticket = (events * FILL - used) / (count - number)
        base = skeleton / number if number else 6.0
        long = shape.long_thread * 25 * 3
        mean = max(0.0, (per_ticket - base - long) / 3 / (1 - shape.long_thread))
        exchanges = _exchanges(rng, mean, shape)
        ticket = gen.ticket(number, exchanges)
        made.append(ticket)
        used += len(ticket.events)
        skeleton += len(ticket.events) - 3 * exchanges
    _fill(rng, made, events - used)
    return made


def _fill(rng: random.Random, made: list[_Ticket], missing: int) -> None:
    """Internal notes (no clock reads them) on random tickets, to make the count exact."""
    for _ in range(max(0, missing)):
        ticket = made[rng.randrange(len(made))]
        first = ticket.events[0][0]
        at = first + int(rng.random() * max(ticket.at - first, HOUR)) // SECOND * SECOND
        ticket.add(at, "agent_reply", public=False)


def stream(
    tickets: int, events: int, late_share: float, seed: int = 7, start: datetime = START
) -> Iterator[str]:
    """Exactly ``events`` events (as JSON lines) of ``tickets`` tickets created over a quarter
    from ``start``, in time order but for a ``late_share`` of neighbours swapped (late
    arrivals). Should the tickets' stories need more than ``events``, the latest events are
    left out, as at the end of a recording."""
    made = stories(tickets, events, seed, start)
    rng = random.Random(seed + 1)
    everything = [
        (at, ticket.number, sequence, ticket.tenant, kind, fields)
        for ticket in made
        for at, sequence, kind, fields in _in_order(ticket)
    ]
    everything.sort(key=lambda entry: entry[0])
    del everything[events:]
    for index in range(len(everything) - 1):  # swap a few neighbours: late arrivals
        if rng.random() < late_share:
            everything[index], everything[index + 1] = everything[index + 1], everything[index]
    for at, number, sequence, tenant, kind, fields in everything:
        body = {
            "event_id": f"T-{number}-{sequence}",
            "type": kind,
            "ticket_id": f"T-{number}",
            "tenant": tenant,
            "occurred_at": _timestamp(at),
            **fields,
        }
        yield orjson.dumps(body).decode()


def _in_order(ticket: _Ticket) -> list[tuple[Instant, int, str, dict[str, object]]]:
    """A ticket's events by time; the creation first, the sequence number as written."""
    return sorted(ticket.events, key=lambda event: (event[0], event[1]))


def _timestamp(at: Instant) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at // SECOND))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--late-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    with args.output.open("w", encoding="utf-8") as out:
        for line in stream(args.tickets, args.events, args.late_share, args.seed):
            out.write(line + "\n")


if __name__ == "__main__":
    main()
