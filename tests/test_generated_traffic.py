"""The benchmark traffic (``tests.bench.generate``) looks like a real helpdesk's: a generated
quarter's compliance report (``sla-timer report``) shows attainment mostly within 85-99% for
every policy and metric, and tickets are answered, wait, change, solve, close and reopen."""

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from service.cli import main
from tests.bench.generate import stream

POLICIES = str(Path(__file__).parents[1] / "deploy" / "policies")
ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\d{4}-\d\d)\s+(\d+)\s+(\d+)\s", re.MULTILINE)


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    folder = tmp_path_factory.mktemp("quarter")
    lines = list(stream(tickets=3000, events=30_000, late_share=0.01))
    (folder / "events.jsonl").write_text("".join(line + "\n" for line in lines))
    return lines, folder


def test_exactly_the_events_asked_for_the_same_each_time() -> None:
    first = list(stream(tickets=200, events=1_700, late_share=0.05, seed=3))
    assert len(first) == 1_700
    assert first == list(stream(tickets=200, events=1_700, late_share=0.05, seed=3))


def test_tickets_wait_change_solve_close_and_reopen(quarter: tuple[list[str], Path]) -> None:
    events = [json.loads(line) for line in quarter[0]]
    types = Counter(event["type"] for event in events)
    statuses = Counter(e["status"] for e in events if e["type"] == "status_change")
    assert set(types) == {
        "ticket_created",
        "first_response",
        "agent_reply",
        "customer_reply",
        "status_change",
        "attribute_change",
    }
    assert {"pending", "waiting_on_client", "open", "solved", "closed"} <= set(statuses)
    history: dict[str, list[str]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e["occurred_at"]):
        if event["type"] == "status_change":
            history[event["ticket_id"]].append(event["status"])
    reopened = [t for t, s in history.items() if "solved" in s and "open" in s[s.index("solved") :]]
    solved = [t for t, s in history.items() if "solved" in s]
    assert len(solved) > 0.85 * 3000
    assert 0.02 * 3000 < len(reopened) < 0.1 * 3000
    threads = Counter(event["ticket_id"] for event in events)
    assert max(threads.values()) > 40  # a few long threads


def test_a_quarter_reports_like_a_real_helpdesk_month(
    quarter: tuple[list[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = quarter[1]
    assert (
        main(["replay", "--workers", "1", "--policies", POLICIES, str(folder / "events.jsonl")])
        == 0
    )
    output = capsys.readouterr().out
    (folder / "sla.jsonl").write_text(output)
    kinds = Counter(json.loads(line)["type"] for line in output.splitlines())
    assert {"sla.met", "sla.breach", "sla.warning", "sla.paused", "sla.resumed"} <= set(kinds)
    assert {"sla.cancelled", "sla.stopped"} <= set(kinds)
    assert main(["report", "--policies", POLICIES, str(folder / "sla.jsonl")]) == 0
    rows = ROW.findall(capsys.readouterr().out)
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    months_in_range, months = 0, 0
    for policy, metric, _, met, breached in rows:
        met_n, breached_n = int(met), int(breached)
        totals[policy, metric][0] += met_n
        totals[policy, metric][1] += breached_n
        if met_n + breached_n >= 30:
            months += 1
            months_in_range += 85 <= 100 * met_n / (met_n + breached_n) <= 99
    assert len(totals) == 14  # every policy and clock of the seed contracts
    for (policy, metric), (met_n, breached_n) in totals.items():
        # A subject-matched C1's workaround is met under commerceup-priority (setting the
        # priority moves the ticket there); only the few never reduced count here.
        if met_n + breached_n >= 30:
            attainment = 100 * met_n / (met_n + breached_n)
            assert 85 <= attainment <= 99, (policy, metric, attainment)
    assert months_in_range >= 0.8 * months
