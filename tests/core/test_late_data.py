"""Late data (docs/semantics.md): net of retractions, a late event leaves exactly what
in-order delivery publishes, field by field; an id never names two contents and never comes
back once retracted."""

from zoneinfo import ZoneInfo

from service.core.engine import Engine
from service.core.events import SlaEvent, SlaEventType
from service.core.instant import HOUR
from service.policyfile import load_policy_text

from ..scenario import History, local, run
from .streams import assert_consistent_ids, content, net

UTC = ZoneInfo("UTC")
POLICIES = load_policy_text(
    """
calendars:
  always: {timezone: UTC, hours: 24x7}
policies:
  - name: desk
    calendar: always
    pause_statuses: [pending]
    resolved_statuses: [solved]
    clocks:
      - metric: resolution
        targets:
          - {match: {plan: gold}, breach_after: 3h}
          - {breach_after: 2h}
"""
)


def conversation() -> History:
    history = History(tenant="acme", zone=UTC)
    history.add("2026-03-02 00:00", "ticket_created", attributes={"plan": "silver"})
    history.add("2026-03-02 00:10", "agent_reply")
    history.add("2026-03-02 02:00", "status_change", status="open")
    history.add("2026-03-02 05:00", "customer_reply")
    return history


def deliver(events: list, until: str) -> list[SlaEvent]:  # type: ignore[type-arg]
    return run(POLICIES, events, until=until, zone=UTC)


def test_late_pause_moves_a_published_breach_and_the_old_one_is_retracted() -> None:
    history = conversation()
    pending = history.add("2026-03-02 01:00", "status_change", status="pending")
    in_order = deliver(sorted(history.events, key=lambda e: e.occurred_at), "2026-03-02 06:00")
    late = deliver(history.events, "2026-03-02 06:00")  # the pause arrives after 05:00
    assert net(late) == net(in_order)
    breaches = [e for e in net(late) if e["type"] == "sla.breach"]
    assert [(b["occurred_at"], b["deadline"]) for b in breaches] == [
        (local("2026-03-02 03:00", UTC), local("2026-03-02 03:00", UTC))
    ]
    retracted = [e for e in late if e.type is SlaEventType.RETRACTED]
    assert [e.occurred_at for e in retracted] == [pending.occurred_at]
    assert_consistent_ids(late)


def test_late_target_change_republishes_the_breach_with_the_new_target() -> None:
    history = conversation()
    history.add("2026-03-02 00:30", "attribute_change", attributes={"plan": "gold"})
    in_order = deliver(sorted(history.events, key=lambda e: e.occurred_at), "2026-03-02 06:00")
    late = deliver(history.events, "2026-03-02 06:00")
    assert net(late) == net(in_order)
    (breach,) = [e for e in net(late) if e["type"] == "sla.breach"]
    assert breach["target"] == 3 * HOUR
    assert_consistent_ids(late)


def test_breach_retracted_then_due_again_comes_back_under_a_new_id() -> None:
    history = History(tenant="acme", zone=UTC)
    created = history.add("2026-03-02 00:00", "ticket_created", attributes={"plan": "silver"})
    pending = history.add("2026-03-02 01:00", "status_change", status="pending")
    engine = Engine(POLICIES)
    out = engine.receive(created, created.occurred_at)
    out += engine.advance(local("2026-03-02 04:00", UTC))  # breach at 02:00
    out += engine.receive(pending, local("2026-03-02 04:00", UTC))  # paused since 01:00
    out += engine.advance(local("2026-03-02 05:00", UTC))
    assert [e.type for e in out if e.type is SlaEventType.BREACH] == [SlaEventType.BREACH]
    opened = history.add("2026-03-02 04:30", "status_change", status="open")
    out += engine.receive(opened, local("2026-03-02 07:00", UTC))  # due again at 05:30
    breaches = [e for e in out if e.type is SlaEventType.BREACH]
    assert len(breaches) == 2 and breaches[0].event_id != breaches[1].event_id
    assert [e for e in net(out) if e["type"] == "sla.breach"] == [content(breaches[1])]
    assert_consistent_ids(out)


def test_content_that_comes_back_after_its_retraction_gets_a_new_id() -> None:
    history = History(tenant="acme", zone=UTC)
    created = history.add("2026-03-02 00:00", "ticket_created", attributes={"plan": "silver"})
    gold = history.add("2026-03-02 00:30", "attribute_change", attributes={"plan": "gold"})
    silver = history.add("2026-03-02 00:40", "attribute_change", attributes={"plan": "silver"})
    engine = Engine(POLICIES)
    now = local("2026-03-02 06:00", UTC)
    out = engine.receive(created, now)  # breach at 02:00 on the 2 h target
    out += engine.receive(gold, now)  # 3 h: the 02:00 breach is retracted, 03:00 published
    out += engine.receive(silver, now)  # 2 h again: the same content as the first breach
    breaches = [e for e in out if e.type is SlaEventType.BREACH]
    assert len({e.event_id for e in breaches}) == len(breaches) == 3
    assert_consistent_ids(out)
