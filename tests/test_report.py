"""``sla-timer report`` (docs/semantics.md, compliance): the real engine's output, counted per
policy, metric and calendar month against the seed contracts' targets (WeStock 99.2%,
iStockist 98%), from files and from a Kafka topic, as a table and as an HTML page rendered
by Chromium."""

import asyncio
import io
import json
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.cli import main
from service.core.engine import Engine
from service.core.events import SlaEvent, SlaEventType
from service.policyfile import load_policies
from service.report.read import Ledger
from service.wire import decode, encode_json, parse_timestamp
from tests.chromium import screenshot

from .core.test_compliance import sla

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "deploy" / "policies"
UNTIL = "2026-03-01T00:00:00Z"
HOSTILE_TICKET = 'IS-<img src=x onerror="alert(1)">&'
ZONES = {"westock-et": ZoneInfo("America/New_York"), "istockist-dublin": ZoneInfo("Europe/Dublin")}

Event = dict[str, Any]


# -- the input: tickets whose outcomes the contracts decide --------------------------------


def _ticket(tenant: str, ticket: str, at: str, **attributes: object) -> list[Event]:
    return [_event("ticket_created", tenant, ticket, at, 0, attributes=attributes)]


def _event(kind: str, tenant: str, ticket: str, at: str, n: int, **fields: object) -> Event:
    return {
        "event_id": f"{ticket}-{n}",
        "type": kind,
        "tenant": tenant,
        "ticket_id": ticket,
        "occurred_at": at,
        **fields,
    }


def _at(moment: str, *, minutes: int) -> str:
    return (datetime.fromisoformat(moment) + timedelta(minutes=minutes)).isoformat()


def _answered(
    tenant: str, ticket: str, created: str, answered: str, **attrs: object
) -> list[Event]:
    return [
        *_ticket(tenant, ticket, created, **attrs),
        _event("agent_reply", tenant, ticket, answered, 1),
    ]


def _westock() -> tuple[list[Event], Event]:
    """January: 124 first responses met, one breached (99.2%, exactly the target) if the
    month boundary and the late reply are counted right; February: resolution 1 of 2."""
    general = {"tier": "essential", "category": "general"}
    payment = {"tier": "essential", "category": "payment"}
    events: list[Event] = []
    for i in range(122):  # Tue 2026-01-13 from 10:00, answered an hour later
        created = _at("2026-01-13T10:00:00-05:00", minutes=i)
        events += _answered("westock", f"W-{i:03d}", created, _at(created, minutes=60), **general)
    # Answered Saturday 2026-01-31 23:30 New York time (2026-02-01 04:30 UTC): January there.
    events += _answered(
        "westock", "W-BOUNDARY", "2026-01-30T10:00:00-05:00", "2026-01-31T23:30:00-05:00", **general
    )
    # Due Thu 2026-01-22 10:00; answered the day before, but the reply arrives last.
    events += _ticket("westock", "W-LATE", "2026-01-20T10:00:00-05:00", **general)
    late_reply = _event("agent_reply", "westock", "W-LATE", "2026-01-21T11:00:00-05:00", 1)
    # Due Wed 2026-01-28 10:00, answered Thursday 10:00: 8 business hours late.
    events += _answered(
        "westock", "W-BREACH", "2026-01-26T10:00:00-05:00", "2026-01-29T10:00:00-05:00", **general
    )
    events += _ticket("westock", "W-CANCEL", "2026-01-14T10:00:00-05:00", **general)
    events.append(
        _event(
            "status_change", "westock", "W-CANCEL", "2026-01-14T11:00:00-05:00", 1, status="solved"
        )
    )
    for i in range(10):
        created = _at("2026-02-03T10:00:00-05:00", minutes=i)
        events += _answered("westock", f"W-F{i}", created, _at(created, minutes=60), **general)
    # Payment issues: resolution within 24 business hours. Met, then missed (due Thu 02-12
    # 10:00, solved on Presidents' Day, a holiday: 15 business hours late).
    for ticket, day, solved in (
        ("W-PAY-MET", "2026-02-02", "2026-02-03T12:00:00-05:00"),
        ("W-PAY-LATE", "2026-02-09", "2026-02-16T12:00:00-05:00"),
    ):
        created = f"{day}T10:00:00-05:00"
        events += _answered("westock", ticket, created, _at(created, minutes=60), **payment)
        events.append(_event("status_change", "westock", ticket, solved, 2, status="solved"))
    return events, late_reply


def _istockist() -> list[Event]:
    """January: 49 met, one breached (98%, exactly the target) if the Free Plan breach is
    excluded; February: 20 met, one breached and still open (95.23%, under)."""
    events: list[Event] = []
    for i in range(49):
        events += _answered(
            "istockist", f"I-{i:03d}", f"2026-01-13T10:{i:02d}:00Z", f"2026-01-13T11:{i:02d}:00Z"
        )
    # Due Tue 2026-01-20 12:00 (10 business hours), answered Wed 10:00: 6 hours late.
    events += _answered("istockist", HOSTILE_TICKET, "2026-01-19T10:00:00Z", "2026-01-21T10:00:00Z")
    events += _answered(
        "istockist", "I-FREE", "2026-01-19T10:00:00Z", "2026-01-21T10:00:00Z", plan="free"
    )
    for i in range(20):
        events += _answered(
            "istockist", f"I-F{i:02d}", f"2026-02-03T10:{i:02d}:00Z", f"2026-02-03T11:{i:02d}:00Z"
        )
    events += _ticket("istockist", "I-OPEN", "2026-02-09T10:00:00Z")  # due Tue 02-10 12:00
    return events


def input_lines() -> list[str]:
    westock, late_reply = _westock()
    events = sorted(westock + _istockist(), key=lambda e: parse_timestamp(e["occurred_at"]))
    return [json.dumps(e) for e in [*events, late_reply]]


DESIGNED = {  # (policy, metric, month): (met, breached, under target)
    ("westock-essential", "first_response", "2026-01"): (124, 1, False),
    ("westock-essential", "first_response", "2026-02"): (12, 0, False),
    ("westock-essential", "resolution", "2026-02"): (1, 1, True),
    ("istockist", "first_response", "2026-01"): (49, 1, False),
    ("istockist", "first_response", "2026-02"): (20, 1, True),
}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SLA events `sla-timer replay` writes for the input, as a file."""
    folder = tmp_path_factory.mktemp("report")
    events = folder / "events.jsonl"
    events.write_text("\n".join(input_lines()) + "\n")
    command = [sys.executable, "-m", "service.cli", "replay", "--policies", str(POLICIES)]
    result = subprocess.run(
        [*command, "--until", UNTIL, "--workers", "1", str(events)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    output = folder / "sla-events.jsonl"
    output.write_text(result.stdout)
    return output


# -- what a reader of the replay output counts, independently --------------------------------


def derived_counts(lines: list[str]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Net events (published more often than retracted); per cycle breached if a breach
    stands, else met if its latest met stands; months of the breach or met instant on the
    cycle calendar's clock; cycles whose newest event is excluded left out."""
    events = [json.loads(line) for line in lines]
    published = Counter(e["event_id"] for e in events if e["type"] != "sla.retracted")
    retracted = Counter(e["retracted_event_id"] for e in events if e["type"] == "sla.retracted")
    cycles: dict[tuple[str, ...], list[Event]] = defaultdict(list)
    for e in events:
        if e["type"] != "sla.retracted" and published[e["event_id"]] > retracted[e["event_id"]]:
            cycles[(e["tenant"], e["ticket_id"], e["metric"], str(e["cycle"]))].append(e)
    counts: Counter[tuple[str, str, str, bool]] = Counter()
    for standing in cycles.values():
        standing.sort(key=lambda e: e["occurred_at"])
        breaches = [e for e in standing if e["type"] == "sla.breach"]
        mets = [e for e in standing if e["type"] == "sla.met"]
        outcome = breaches[0] if breaches else mets[-1] if mets else None
        if outcome is None or standing[-1]["compliance_excluded"]:
            continue
        when = datetime.fromisoformat(outcome["occurred_at"]).astimezone(ZONES[outcome["calendar"]])
        key = (outcome["policy"], outcome["metric"], when.strftime("%Y-%m"))
        counts[(*key, outcome["type"] == "sla.met")] += 1
    keys = {key[:3] for key in counts}
    return {key: (counts[(*key, True)], counts[(*key, False)]) for key in keys}


def table(text: str) -> dict[tuple[str, str, str], list[str]]:
    """The report's rows: (policy, metric, month) -> [met, breached, attainment, target, mark]."""
    rows = text.split("\n\n", maxsplit=1)[0].splitlines()
    assert rows[0].split() == [
        "policy",
        "metric",
        "month",
        "met",
        "breached",
        "attainment",
        "target",
    ]
    found = {}
    for row in rows[1:]:
        policy, metric, month, *rest = row.split(maxsplit=7)
        found[(policy, metric, month)] = rest
    return found


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", "--policies", str(POLICIES), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the table ------------------------------------------------------------------------------


def test_report_counts_what_the_replay_output_says_per_policy_metric_and_month(
    replayed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = replayed.read_text().splitlines()
    assert any('"sla.retracted"' in line for line in lines)  # the late reply retracted a breach
    expected = derived_counts(lines)
    code, out, _ = report(capsys, str(replayed))
    rows = table(out)
    assert code == 0
    assert {key: (int(row[0]), int(row[1])) for key, row in rows.items()} == expected
    for key, (met, breached, under) in DESIGNED.items():
        assert expected[key] == (met, breached)
        assert (rows[key][-1] == "under target") is under


def test_report_shows_attainment_and_target_as_percentages(
    replayed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = report(capsys, str(replayed))
    rows = table(out)
    assert rows[("westock-essential", "first_response", "2026-01")][2:] == ["99.2%", "99.2%"]
    assert rows[("istockist", "first_response", "2026-01")][2:] == ["98%", "98%"]
    assert rows[("istockist", "first_response", "2026-02")][2:] == ["95.23%", "98%", "under target"]
    assert rows[("westock-essential", "resolution", "2026-02")][2:4] == ["50%", "99.2%"]


def test_a_policy_without_a_compliance_block_is_reported_without_a_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "events.jsonl").write_text(
        "\n".join(
            json.dumps(e)
            for e in _answered(
                "saleslayer",
                "S-1",
                "2026-01-13T10:00:00+01:00",
                "2026-01-13T10:05:00+01:00",
                account_type="premium",
            )
        )
    )
    replay = [sys.executable, "-m", "service.cli", "replay", "--policies", str(POLICIES)]
    out = subprocess.run(
        [*replay, "--workers", "1", str(tmp_path / "events.jsonl")],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    (tmp_path / "sla.jsonl").write_text(out)
    code, text, _ = report(capsys, str(tmp_path / "sla.jsonl"))
    [(key, row)] = table(text).items()
    assert code == 0
    assert key[0] == "saleslayer" and row == ["1", "0", "100%", "-"]


def test_reading_several_files_and_stdin_counts_them_together(
    replayed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = replayed.read_text().splitlines(keepends=True)
    half = len(lines) // 2
    (tmp_path / "a.jsonl").write_text("".join(lines[:half]))
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(lines[half:])))
    _, whole, _ = report(capsys, str(replayed))
    code, split, _ = report(capsys, str(tmp_path / "a.jsonl"), "-")
    assert code == 0 and split == whole


def test_an_invalid_line_is_named_by_number_and_no_report_is_made(
    replayed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = replayed.read_text().splitlines()
    broken = json.loads(lines[2])
    broken["occurred_at"] = "2026-01-13 10:00"
    lines[2] = json.dumps(broken)
    lines[4] = "not json"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    code, out, err = report(capsys, str(bad))
    assert code == 1
    assert out == ""
    assert f"{bad} line 3: occurred_at: '2026-01-13 10:00' is not an RFC 3339 UTC timestamp" in err
    assert f"{bad} line 5: not JSON" in err


def test_a_calendar_or_policy_the_policies_lack_is_noted_and_counted_in_utc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    met = {
        **json.loads((REPO / "schemas" / "examples" / "output" / "sla.met.json").read_text()),
        "policy": "retired",
        "calendar": "gone",
        "occurred_at": "2026-01-31T23:30:00Z",
        "compliance_excluded": False,
    }
    (tmp_path / "old.jsonl").write_text(json.dumps(met) + "\n")
    code, out, err = report(capsys, str(tmp_path / "old.jsonl"))
    assert code == 0
    assert table(out)[("retired", met["metric"], "2026-01")] == ["1", "0", "100%", "-"]
    assert "calendar 'gone' is not in the policies: its cycles are counted in UTC months" in err
    assert "policy 'retired' is not in the policies: reported without a target" in err


def test_a_file_counts_an_event_published_more_often_than_retracted_in_any_line_order() -> None:
    breach = sla("breach", "2026-01-13 16:00")
    retraction = replace(
        breach, event_id="r" * 32, type=SlaEventType.RETRACTED, retracted_event_id=breach.event_id
    )
    for lines, stands in (
        ([retraction, breach], False),  # replay orders by occurred_at: the retraction first
        ([breach, retraction, breach], True),  # published again by a later fold
        ([retraction, breach, retraction, breach, breach], True),
    ):
        ledger = Ledger()
        for event in lines:
            ledger.take(event)
        assert (ledger.standing() == [breach]) is stands


def test_a_topic_applies_retractions_in_offset_order_so_duplicates_change_nothing() -> None:
    breach = sla("breach", "2026-01-13 16:00")
    retraction = replace(
        breach, event_id="r" * 32, type=SlaEventType.RETRACTED, retracted_event_id=breach.event_id
    )
    for messages, stands in (
        ([breach, breach, retraction], False),  # a duplicate after a crash, then retracted
        ([breach, retraction, retraction, breach], True),
    ):
        ledger = Ledger(in_order=True)
        for event in messages:
            ledger.take(event)
        assert (ledger.standing() == [breach]) is stands


def test_files_and_topic_are_exclusive(replayed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report(capsys, str(replayed), "--topic", "sla-events")[0] == 2
    assert report(capsys)[0] == 2


# -- Kafka ----------------------------------------------------------------------------------


def published_in_order() -> list[SlaEvent]:
    """The input through the engine as the worker publishes: in arrival order, a retraction
    after what it retracts; the breach the late reply disproves is published twice, as
    at-least-once delivery can after a crash."""
    engine, clock, out = Engine(load_policies(POLICIES)), None, []
    for line in input_lines():
        event = decode(line)
        clock = event.occurred_at if clock is None else max(clock, event.occurred_at)
        out += engine.receive(event, clock)
        out += engine.advance(clock)
    out += engine.advance(parse_timestamp(UNTIL))
    [duplicate] = [e for e in out if e.ticket_id == "W-LATE" and e.type == "sla.breach"]
    out.insert(out.index(duplicate), duplicate)
    return out


async def _produce(bootstrap: str, topic: str, events: list[SlaEvent]) -> None:
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            value = encode_json(event, event.occurred_at)
            await producer.send(topic, value, key=event.ticket_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


@pytest.mark.integration
def test_report_reads_a_whole_topic_and_counts_as_the_replay_file(
    replayed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.integration.kafka_broker import (  # noqa: PLC0415
        adelete_topics,
        create_topics,
        ensure_broker,
    )

    bootstrap = ensure_broker()
    topic = f"report-test-{uuid.uuid4().hex[:12]}"
    create_topics(bootstrap, {topic: 3})
    events = published_in_order()
    assert any(e.type == "sla.retracted" for e in events)
    try:
        asyncio.run(_produce(bootstrap, topic, events))
        _, from_file, _ = report(capsys, str(replayed))
        code, from_topic, err = report(capsys, "--topic", topic, "--brokers", bootstrap)
    finally:
        asyncio.run(adelete_topics(bootstrap, [topic]))
    assert code == 0, err
    assert from_topic == from_file
    assert table(from_topic)[("westock-essential", "first_response", "2026-01")][:2] == ["124", "1"]


@pytest.mark.integration
def test_a_missing_topic_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.kafka_broker import ensure_broker  # noqa: PLC0415

    bootstrap = ensure_broker()
    topic = f"report-missing-{uuid.uuid4().hex[:12]}"
    code, out, err = report(capsys, "--topic", topic, "--brokers", bootstrap)
    assert (code, out) == (1, "")
    assert f"topic '{topic}' does not exist" in err


# -- HTML -----------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.links += [value or "" for name, value in attrs if name in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def page(replayed: Path) -> Path:
    out = replayed.parent / "report.html"
    assert main(["report", "--policies", str(POLICIES), "--html", str(out), str(replayed)]) == 0
    return out


def test_html_is_self_contained_escaped_and_carries_the_numbers(page: Path) -> None:
    html = page.read_text()
    parsed = _Page()
    parsed.feed(html)
    text = " ".join(parsed.text)
    assert parsed.tags["script"] == 0 and parsed.links == []
    assert parsed.tags["svg"] >= 3  # a chart per policy and metric (and legend swatches)
    assert HOSTILE_TICKET not in html and 'onerror="' not in html
    assert HOSTILE_TICKET in text  # shown, as text
    for needed in ("westock-essential", "istockist", "99.2%", "98%", "95.23%", "Below target"):
        assert needed in text
    # The breach behind iStockist's January: deadline and lateness on Dublin's clock.
    assert "2026-01-20 12:00 GMT" in text and "6h 00m business" in text
    assert "8h 00m business" in text  # W-BREACH, answered Thursday 10:00 New York time


@pytest.mark.tools
def test_html_renders_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    width, height, rows = screenshot(page, tmp_path)
    assert (width, height) == (1280, 2000)
    # A blank page is one distinct row; text, charts and tables make hundreds.
    assert len(set(rows)) > 300, f"{len(set(rows))} distinct rows: the page looks blank"
