"""``sla-timer replay`` (docs/worker.md): JSON lines in, SLA events out in occurred_at order."""

import io
import json
from pathlib import Path

import pytest

from service.cli import main
from service.policyfile import load_policies
from service.replay import run_replay
from tests.bench.generate import stream

POLICY = """
calendars:
  office: {timezone: America/New_York, hours: {mon-fri: ["09:00-17:00"]}, holidays: {country: US}}
policies:
  - name: support
    calendar: office
    clocks:
      - {metric: first_response, targets: [{breach_after: 4h, warn_at: ["50%"]}]}
"""


def lines(*events: dict[str, object]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def created(ticket: str, at: str) -> dict[str, object]:
    return {
        "event_id": f"{ticket}-c",
        "type": "ticket_created",
        "ticket_id": ticket,
        "occurred_at": at,
    }


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "support.yaml").write_text(POLICY)
    return tmp_path / "policies"


def replay(
    policies: Path, tmp_path: Path, text: str, *extra: str
) -> tuple[int, list[dict[str, object]]]:
    events = tmp_path / "events.jsonl"
    events.write_text(text)
    return main(["replay", "--policies", str(policies), *extra, str(events)]), []


def test_replay_prints_sla_events_ordered_by_occurred_at(
    policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = lines(
        created("B", "2026-01-13T10:00:00-05:00"), created("A", "2026-01-13T09:00:00-05:00")
    )
    code, _ = replay(policies, tmp_path, text, "--until", "2026-01-14T00:00:00Z")
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(e["type"], e["ticket_id"], e["occurred_at"]) for e in out] == [
        ("sla.started", "A", "2026-01-13T14:00:00Z"),
        ("sla.started", "B", "2026-01-13T15:00:00Z"),
        ("sla.warning", "A", "2026-01-13T16:00:00Z"),
        ("sla.warning", "B", "2026-01-13T17:00:00Z"),
        ("sla.breach", "A", "2026-01-13T18:00:00Z"),
        ("sla.breach", "B", "2026-01-13T19:00:00Z"),
    ]
    assert all(e["emitted_at"] == e["occurred_at"] for e in out)
    breach = out[4]
    assert breach["deadline"] == "2026-01-13T18:00:00Z"
    assert breach["elapsed_business_seconds"] == breach["target_seconds"] == 4 * 3600


def test_without_until_the_clock_stops_at_the_last_event(
    policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay(policies, tmp_path, lines(created("A", "2026-01-13T09:00:00-05:00")))
    assert [json.loads(x)["type"] for x in capsys.readouterr().out.splitlines()] == ["sla.started"]


def test_bad_lines_are_reported_with_numbers_skipped_and_fail_the_run(
    policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "not json\n"
        + lines(created("A", "2026-01-13T09:00:00-05:00"))
        + "\n"
        + '{"type": "nope"}\n'
    )
    code, _ = replay(policies, tmp_path, text)
    captured = capsys.readouterr()
    assert code == 1
    assert "line 1: not JSON" in captured.err
    assert "line 4: type: 'nope' is not an event type" in captured.err
    assert "replayed 1 events (2 invalid) for 1 tickets" in captured.err
    assert len(captured.out.splitlines()) == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_line_of_only_a_byte_order_mark_is_blank(
    policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    text = "\ufeff\n" + lines(created("A", "2026-01-13T09:00:00-05:00")) + "\ufeff \t\n"
    code, _ = replay(policies, tmp_path, text, "--workers", workers)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "line" not in captured.err.replace("replayed", "")
    assert "replayed 1 events (0 invalid) for 1 tickets" in captured.err
    assert [json.loads(x)["type"] for x in captured.out.splitlines()] == ["sla.started"]


def test_invalid_policies_stop_replay_with_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "x.yaml").write_text("policies: [{name: x, calendar: gone, clocks: []}]")
    (tmp_path / "e.jsonl").write_text("")
    assert main(["replay", "--policies", str(tmp_path / "p"), str(tmp_path / "e.jsonl")]) == 2
    assert "invalid policies" in capsys.readouterr().err


def test_workers_share_tickets_and_print_the_same_bytes(tmp_path: Path) -> None:
    lines = [line + "\n" for line in stream(tickets=300, events=3000, late_share=0.05)]
    lines.insert(17, "broken line\n")
    policies = load_policies(Path(__file__).parents[1] / "deploy" / "policies")
    outputs = []
    for workers in (1, 3):
        out, err = io.StringIO(), io.StringIO()
        summary = run_replay(policies, lines, None, out, err, workers=workers)
        outputs.append((out.getvalue(), err.getvalue(), summary.describe()))
    assert outputs[0] == outputs[1]
    assert "line 18: not JSON" in outputs[0][1]
    assert "retracted" in outputs[0][0]  # the late arrivals were exercised


def test_non_finite_numbers_are_refused_not_fatal(policies: Path, tmp_path: Path) -> None:
    nan = '{"event_id": "n", "type": "ticket_created", "ticket_id": "N", '
    nan += '"occurred_at": "2026-01-13T09:00:00Z", "attributes": {"score": NaN}}\n'
    for workers in (1, 2):
        out, err = io.StringIO(), io.StringIO()
        lines = [nan, lines_text(created("A", "2026-01-13T09:00:00-05:00"))]
        summary = run_replay(load_policies(policies), lines, None, out, err, workers=workers)
        assert "line 1: attributes.score" in err.getvalue()
        assert summary.events == 1 and len(summary.invalid) == 1


def lines_text(event: dict[str, object]) -> str:
    return json.dumps(event) + "\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("workers", [1, 2])
def test_a_terminal_gets_a_progress_bar_and_the_same_output(policies: Path, workers: int) -> None:
    text = lines(*(created(f"T{n}", f"2026-01-13T{9 + n:02}:00:00-05:00") for n in range(3)))
    outputs, errors = [], []
    for err in (io.StringIO(), _Terminal()):
        out = io.StringIO()
        run_replay(load_policies(policies), io.StringIO(text), None, out, err, workers=workers)
        outputs.append(out.getvalue())
        errors.append(err.getvalue())
    assert outputs[0] == outputs[1] and outputs[0].count('"sla.started"') == 3
    assert errors[0] == ""
    assert "3 lines" in errors[1]  # tqdm's count, on the terminal only
