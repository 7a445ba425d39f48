"""``sla-timer whatif`` (docs/whatif.md): one history replayed under the current and a proposed
policy directory, compared per policy, metric and month, cycle by cycle and ticket by ticket.
The proposal is the worked example's: WeStock's essential-tier product questions promised 12
business hours instead of 16."""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from service.cli import main
from service.policyfile import load_policies
from service.whatif import play as play_module
from service.whatif.compare import compare, meets
from service.whatif.play import Job, WhatifFailed, play_both
from service.whatif.scope import differing_tenants, every_tenant
from service.whatif.side import Side
from service.whatif.text import ARROW
from tests.bench.generate import stream
from tests.chromium import screenshot

from .test_report import HOSTILE_TICKET, _Page, table

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "deploy" / "policies"
PRODUCT_16H = """          - match: {category: product}        # §3.1 "8-16 business hours"
            warn_at: [8h]
            breach_after: 16h"""

Event = dict[str, object]


# -- policy directories: the seed contracts, and copies with one thing changed --------------


def edited(tmp_path: Path, name: str, edit: Callable[[str], str]) -> Path:
    """A copy of the seed policies whose westock.yaml is edited."""
    folder = tmp_path / name
    shutil.copytree(POLICIES, folder)
    westock = folder / "westock.yaml"
    westock.write_text(edit(westock.read_text()))
    return folder


def promise_12h(text: str) -> str:
    assert PRODUCT_16H in text
    return text.replace(PRODUCT_16H, PRODUCT_16H.replace("breach_after: 16h", "breach_after: 12h"))


def rename_essential(text: str) -> str:
    assert text.count("- name: westock-essential\n") == 1
    return text.replace("- name: westock-essential\n", "- name: westock-basic\n")


@pytest.fixture(scope="module")
def proposed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edited(tmp_path_factory.mktemp("whatif"), "proposed", promise_12h)


# -- the history: WeStock essential-tier product questions, times on New York's clock --------


def event(kind: str, ticket: str, at: str, n: int, **fields: object) -> Event:
    return {
        "event_id": f"{ticket}-{n}",
        "type": kind,
        "tenant": "westock",
        "ticket_id": ticket,
        "occurred_at": at,
        **fields,
    }


def question(ticket: str, created: str, answered: str | None) -> list[Event]:
    attributes = {"tier": "essential", "category": "product"}
    events = [event("ticket_created", ticket, created, 0, attributes=attributes)]
    if answered is not None:
        events.append(event("agent_reply", ticket, answered, 1))
    return events


FLIP = "W-FLIP"
"""Created Monday 2026-01-12 10:00, answered Tuesday 15:00: 7 + 6 = 13 business hours. Under
16 hours it is met (due Wednesday 10:00: 7 + 8 + 1); under 12 it is breached (due Tuesday
14:00: 7 + 5)."""


def history() -> list[Event]:
    """123 questions answered within the hour (met under both), two answered after 13
    business hours (met, and breached at 12), and one unanswered, created last."""
    events: list[Event] = []
    for i in range(123):  # Thursday 2026-01-15 from 10:00
        created = f"2026-01-15T{10 + i // 60:02d}:{i % 60:02d}:00-05:00"
        answered = f"2026-01-15T{11 + i // 60:02d}:{i % 60:02d}:00-05:00"
        events += question(f"W-{i:03d}", created, answered)
    events += question(FLIP, "2026-01-12T10:00:00-05:00", "2026-01-13T15:00:00-05:00")
    events += question(HOSTILE_TICKET, "2026-01-13T10:00:00-05:00", "2026-01-14T15:00:00-05:00")
    # Friday 10:00: due Tuesday 10:00 under 16 hours, Monday 14:00 under 12.
    events += question("W-OPEN", "2026-01-30T10:00:00-05:00", None)
    return sorted(events, key=lambda e: str(e["occurred_at"]))  # one offset: text order is time


def write(folder: Path, events: list[Event], name: str = "events.jsonl") -> Path:
    path = folder / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("history"), history())


def whatif(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["whatif", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(out: str) -> dict[tuple[str, str, str], list[str]]:
    """The comparison's rows: (policy, metric, month) -> the other cells, split on two spaces."""
    lines = out.split("\n\n")[1].splitlines()
    assert lines[0].split() == [
        "policy",
        "metric",
        "month",
        "cycles",
        "breached",
        "Δ",
        "breached",
        "attainment",
        "Δ",
        "points",
        "target",
        "meets",
        "target",
    ]
    found = {}
    for line in lines[1:]:
        policy, metric, month, rest = line.split(maxsplit=3)
        found[(policy, metric, month)] = [cell.strip() for cell in rest.split("  ") if cell]
    return found


def section(out: str, starting: str) -> list[str]:
    """The lines of the paragraph that starts with ``starting``."""
    [found] = [part for part in out.split("\n\n") if part.startswith(starting)]
    return found.splitlines()


def matching(out: str) -> list[str]:
    """The matching section: the last of the output, when there is one."""
    return out[out.index("matching differs") :].splitlines()


# -- the hand-checked case --------------------------------------------------------------------


def test_a_12_hour_promise_breaches_the_question_answered_after_13_business_hours(
    events: Path, proposed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = whatif(
        capsys, "--policies", str(POLICIES), "--proposed", str(proposed), str(events)
    )
    assert code == 0, err
    assert out.startswith(f"current: {POLICIES}\nproposed: {proposed}\n")
    assert rows(out) == {
        ("westock-essential", "first_response", "2026-01"): [
            "125 → 125",
            "0 → 2",
            "+2",
            "100% → 98.4%",
            "-1.60",
            "99.2%",
            "yes → no",
        ]
    }
    flips = section(out, "2 cycles flip")
    assert flips[0] == "2 cycles flip: 2 met → breached, 0 breached → met (newest first)"
    assert flips[1].split() == [
        "ticket", "policy", "metric", "cycle", "current", "deadline", "proposed", "deadline",
        "outcome",
    ]  # fmt: skip
    assert flips[2].split("  ")[0] == f"westock/{HOSTILE_TICKET}"  # the newer flip first
    assert " ".join(flips[3].split()) == (
        f"westock/{FLIP} westock-essential first_response 1 "
        "2026-01-14 10:00 EST 2026-01-13 14:00 EST met → breached"
    )
    assert "matching differs" not in out
    assert "current: replayed 251 events (0 invalid) for 126 tickets" in err
    assert "proposed: replayed 251 events (0 invalid) for 126 tickets" in err


def test_until_moves_both_clocks_and_a_cycle_counted_under_only_one_is_said(
    events: Path, proposed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """W-OPEN at Monday 2026-02-02 15:00: past its 12-hour deadline (Monday 14:00), not yet
    at its 16-hour one (Tuesday 10:00)."""
    code, out, _ = whatif(
        capsys,
        *("--policies", str(POLICIES), "--proposed", str(proposed)),
        *("--until", "2026-02-02T20:00:00Z", str(events)),
    )
    assert code == 0
    assert rows(out)[("westock-essential", "first_response", "2026-02")][:4] == [
        "- → 1",
        "- → 1",
        "+1",
        "- → 0%",
    ]
    assert "1 cycles are counted under only one directory (0 current, 1 proposed)" in out


# -- metamorphic and mirrored ---------------------------------------------------------------


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated quarter, small: every seed tenant, late arrivals, reopens."""
    path = tmp_path_factory.mktemp("traffic") / "traffic.jsonl"
    path.write_text(
        "".join(line + "\n" for line in stream(tickets=400, events=4000, late_share=0.05))
    )
    return path


def sides(current: Path, proposed: Path, events: Path, **how: object) -> list[Side]:
    job = Job(load_policies(current), load_policies(proposed), events, None)
    return play_both(job, io.StringIO(), **how)  # type: ignore[arg-type]


def test_identical_directories_give_no_difference_and_no_flip(
    traffic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(POLICIES, copy)
    # Both engines on every ticket, so the engine itself is run twice and compared.
    comparison = compare(*sides(POLICIES, copy, traffic, processes=1, scope=every_tenant))
    assert comparison.rows and not any(pair.is_changed for pair in comparison.rows)
    assert all(pair.breach_change == 0 and pair.points_change == 0 for pair in comparison.rows)
    assert comparison.flips == [] and comparison.only == (0, 0)
    assert not comparison.matching.is_different
    code, out, _ = whatif(
        capsys, "--policies", str(POLICIES), "--proposed", str(copy), str(traffic)
    )
    assert code == 0
    assert section(out, "0 of") == [
        f"0 of {len(comparison.rows)} rows change; rows under target: "
        + ARROW.join([str(sum(meets(pair.current) is False for pair in comparison.rows))] * 2),
        f"{len(comparison.rows)} unchanged rows left out (--all prints every row)",
    ]  # no table: no row changes
    assert "no cycle flips between met and breached" in out
    assert "matching differs" not in out


def test_only_the_rows_that_change_are_printed_unless_all_is_asked_for(
    traffic: Path, proposed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    comparison = compare(*sides(POLICIES, proposed, traffic))
    changed = {(p.policy, p.metric, p.month) for p in comparison.rows if p.is_changed}
    unchanged = len(comparison.rows) - len(changed)
    assert changed and unchanged > 1
    args = ("--policies", str(POLICIES), "--proposed", str(proposed), str(traffic))
    code, out, _ = whatif(capsys, *args)
    assert code == 0
    assert set(rows(out)) == changed
    summary = out.split("\n\n")[2].splitlines()
    assert summary[0].startswith(f"{len(changed)} of {len(comparison.rows)} rows change; ")
    assert summary[1:] == [f"{unchanged} unchanged rows left out (--all prints every row)"]
    code, every, _ = whatif(capsys, "--all", *args)
    assert code == 0
    assert set(rows(every)) == {(p.policy, p.metric, p.month) for p in comparison.rows}
    assert every.split("\n\n")[2].splitlines() == summary[:1]  # nothing left out
    assert every.split("\n\n")[3:] == out.split("\n\n")[3:]  # the flips and the rest alike


def test_a_row_whose_only_change_is_its_target_is_printed(
    events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """99.2% to 99.5% for the essential tier: 100% meets both, and the same cycles count."""
    essential = "- name: westock-essential\n"

    def stricter(text: str) -> str:
        start = text.index(essential)
        old = "compliance: {target: 99.2%, period: month}"
        at = text.index(old, start)
        return text[:at] + old.replace("99.2%", "99.5%") + text[at + len(old) :]

    code, out, _ = whatif(
        capsys,
        *("--policies", str(POLICIES), "--proposed", str(edited(tmp_path, "target", stricter))),
        str(events),
    )
    assert code == 0
    assert rows(out) == {
        ("westock-essential", "first_response", "2026-01"): [
            "125 → 125",
            "0 → 0",
            "0",
            "100% → 100%",
            "0",
            "99.2% → 99.5%",
            "yes → yes",
        ]
    }
    assert "1 of 1 rows change" in out and "left out" not in out


def test_swapping_the_directories_mirrors_rows_flips_and_moves(
    traffic: Path, events: Path, proposed: Path, tmp_path: Path
) -> None:
    renamed = edited(tmp_path, "renamed", lambda text: rename_essential(promise_12h(text)))
    for history_file, other in ((events, proposed), (traffic, proposed), (traffic, renamed)):
        forward = compare(*sides(POLICIES, other, history_file, processes=1))
        backward = compare(*sides(other, POLICIES, history_file, processes=1))
        assert [(p.policy, p.metric, p.month, p.current, p.proposed) for p in forward.rows] == [
            (p.policy, p.metric, p.month, p.proposed, p.current) for p in backward.rows
        ]
        assert [(f.cycle, f.current, f.proposed) for f in forward.flips] == [
            (f.cycle, f.proposed, f.current) for f in backward.flips
        ]
        assert (forward.to_breached, forward.to_met) == (backward.to_met, backward.to_breached)
        assert forward.only == backward.only[::-1]
        assert {(a, b): n for a, b, n in forward.matching.moves} == {
            (b, a): n for a, b, n in backward.matching.moves
        }
    assert forward.flips and forward.matching.is_different


def test_the_tickets_are_shared_between_processes_and_unchanged_tenants_replayed_once_exactly(
    traffic: Path, proposed: Path, tmp_path: Path
) -> None:
    """Differential: one process with both engines on every ticket is the reference."""
    catch_all = tmp_path / "catch-all"  # a policy every tenant could match: all replayed twice
    shutil.copytree(proposed, catch_all)
    (catch_all / "zz-default.yaml").write_text(
        "policies:\n  - name: default\n    calendar: westock-et\n"
        "    clocks: [{metric: first_response, targets: [{breach_after: 1h}]}]\n"
    )
    for other in (proposed, catch_all):
        reference = sides(POLICIES, other, traffic, processes=1, scope=every_tenant)
        for how in ({"processes": 1}, {"processes": 2}, {"processes": 3}):
            assert sides(POLICIES, other, traffic, **how) == reference, how
    differs = differing_tenants(load_policies(POLICIES), load_policies(proposed))
    assert [differs(t) for t in ("westock", "istockist", "liveagent")] == [True, False, False]
    assert differing_tenants(load_policies(POLICIES), load_policies(catch_all))("istockist")


def test_the_current_side_counts_what_replay_then_report_count(
    traffic: Path, proposed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replayed = subprocess.run(
        [sys.executable, "-m", "service.cli", "replay", "--policies", str(POLICIES), str(traffic)],
        capture_output=True,
        check=True,
        cwd=REPO,
    ).stdout
    (tmp_path / "sla.jsonl").write_bytes(replayed)
    assert main(["report", "--policies", str(POLICIES), str(tmp_path / "sla.jsonl")]) == 0
    report = table(capsys.readouterr().out)
    current, _ = sides(POLICIES, proposed, traffic)
    assert {
        (line.row.policy, line.row.metric, line.row.month): [
            str(line.row.met),
            str(line.row.breached),
        ]
        for line in current.lines
    } == {key: cells[:2] for key, cells in report.items()}


# -- policies that match differently ----------------------------------------------------------

SUPPORT = """
calendars:
  office: {timezone: America/New_York, hours: {mon-fri: ["09:00-17:00"]}, holidays: {country: US}}
policies:
"""
POLICY = """  - name: {name}
    calendar: office
    {match}
    clocks: [{{metric: first_response, targets: [{{breach_after: {target}}}]}}]
"""


def support_policies(folder: Path, *policies: tuple[str, str, str]) -> Path:
    folder.mkdir()
    text = SUPPORT + "".join(
        POLICY.format(name=name, match=match, target=target) for name, match, target in policies
    )
    (folder / "support.yaml").write_text(text)
    return folder


def test_a_renamed_policy_is_reported_by_ticket_counts(
    traffic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = edited(tmp_path, "renamed", rename_essential)
    page = tmp_path / "renamed.html"
    code, out, _ = whatif(
        capsys,
        *("--policies", str(POLICIES), "--proposed", str(renamed), "--html", str(page)),
        str(traffic),
    )
    assert code == 0
    found = matching(out)
    [moved] = [line.split() for line in found if line.startswith("westock-essential →")]
    assert moved[:3] == ["westock-essential", "→", "westock-basic"]
    count = int(moved[3])
    assert found[0].startswith(f"matching differs: {count} of 400 tickets are governed by")
    counts = {line.split()[0]: line.split()[1:] for line in found[2 : found.index("")]}
    assert counts["westock-essential"] == [str(count), "0"]
    assert counts["westock-basic"] == ["0", str(count)]
    assert counts["istockist"][0] == counts["istockist"][1]
    table = rows(out)
    essential = [cells for key, cells in table.items() if key[0] == "westock-essential"]
    basic = [cells for key, cells in table.items() if key[0] == "westock-basic"]
    assert essential and all(cells[0].endswith("→ -") for cells in essential)
    assert basic and all(cells[0].startswith("- →") for cells in basic)
    assert "no cycle flips" in out  # the same clocks under another name
    parsed = _Page()
    parsed.feed(page.read_text())
    text = " ".join(" ".join(parsed.text).split())
    assert f"Policies match differently {count} of 400 tickets are governed by" in text
    assert "counted under the proposed policies only" in text


def test_a_split_policy_moves_exactly_the_tickets_its_new_match_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everyone = ("support", "match: {}", "4h")
    vip = ("support-vip", "match: {plan: vip}", "2h")
    current = support_policies(tmp_path / "current", everyone)
    split = support_policies(tmp_path / "split", vip, everyone)
    tickets = [
        {**event("ticket_created", f"S-{n}", f"2026-01-13T10:0{n}:00-05:00", 0), "tenant": "acme"}
        | {"attributes": {"plan": plan}}
        for n, plan in enumerate(["vip", "vip", "free", "free", "free"])
    ]
    upgraded = {  # made vip later: governed by support-vip at the end
        **event("attribute_change", "S-2", "2026-01-13T10:30:00-05:00", 1),
        "tenant": "acme",
        "attributes": {"plan": "vip"},
    }
    history_file = write(tmp_path, [*tickets, upgraded])
    code, out, _ = whatif(
        capsys, "--policies", str(current), "--proposed", str(split), str(history_file)
    )
    assert code == 0
    assert matching(out) == [
        "matching differs: 3 of 5 tickets are governed by another policy under the proposed "
        "directory (the policy at the end of the replay)",
        "policy       current  proposed",
        "support            5         2",
        "support-vip        0         3",
        "",
        "moved                  tickets",
        "support → support-vip        3",
    ]


# -- the command line -------------------------------------------------------------------------


def test_invalid_policy_directories_are_refused_with_every_problem_of_each(
    events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.yaml").write_text(
        "policies:\n  - name: x\n    calendar: nowhere\n    clocks: [{metric: first_response, "
        "targets: [{breach_after: 4 hours}]}]\n"
    )
    code, out, err = whatif(
        capsys, "--policies", str(tmp_path / "missing"), "--proposed", str(broken), str(events)
    )
    assert (code, out) == (2, "")
    assert f"--policies {tmp_path / 'missing'}: invalid policies (1 problem)" in err
    assert f"--proposed {broken}: invalid policies (2 problems)" in err
    assert "nowhere" in err and "4 hours" in err


def test_invalid_event_lines_are_reported_once_each_and_the_rest_compared(
    proposed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.dumps(e) for e in history()]
    lines[10] = "not json"
    lines[20] = json.dumps({**json.loads(lines[20]), "type": "ticket_burned"})
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = whatif(
        capsys, "--policies", str(POLICIES), "--proposed", str(proposed), str(path)
    )
    assert code == 1
    problems = [line for line in err.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in problems] == ["line 11", "line 21"]
    assert "current: replayed 249 events (2 invalid)" in err
    assert "2 cycles flip" in out


def test_events_from_stdin_and_flips_capped_with_a_count_of_the_rest(
    events: Path,
    proposed: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(events.read_bytes())))
    code, out, _ = whatif(
        capsys, "--policies", str(POLICIES), "--proposed", str(proposed), "--flips", "1", "-"
    )
    flips = section(out, "2 cycles flip")
    assert code == 0
    assert len(flips) == 4 and flips[-1] == "and 1 more"
    assert HOSTILE_TICKET in flips[2]


def test_command_line_mistakes_exit_2(
    events: Path, proposed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        ["--policies", str(POLICIES), str(events)],  # no --proposed
        ["--policies", str(POLICIES), "--proposed", str(proposed), "--flips", "-1", str(events)],
        ["--policies", str(POLICIES), "--proposed", str(proposed), "--until", "soon", str(events)],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["whatif", *args])
        assert exit_.value.code == 2
    code, _, err = whatif(
        capsys,
        "--policies",
        str(POLICIES),
        "--proposed",
        str(proposed),
        str(tmp_path / "none.jsonl"),
    )
    assert code == 2 and "cannot read" in err and "No such file" in err


def test_a_replay_process_that_dies_ends_the_run_with_status_3(
    events: Path,
    proposed: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parent, original = os.getpid(), play_module.play_share

    def dying(*args: object) -> tuple[Side, Side]:
        if os.getpid() != parent:  # the forked process
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(play_module, "play_share", dying)
    with pytest.raises(WhatifFailed, match="was killed by signal SIGKILL"):
        sides(POLICIES, proposed, events)
    code, out, err = whatif(
        capsys, "--policies", str(POLICIES), "--proposed", str(proposed), str(events)
    )
    assert (code, out) == (3, "")
    assert "sla-timer whatif: a replay process" in err and "nothing was compared" in err


# -- the HTML page ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(events: Path, proposed: Path) -> Path:
    out = events.parent / "whatif.html"
    code = main(
        [
            "whatif",
            "--policies",
            str(POLICIES),
            "--proposed",
            str(proposed),
            "--html",
            str(out),
            str(events),
        ]
    )
    assert code == 0
    return out


def test_html_is_self_contained_escaped_and_carries_both_sides(page: Path) -> None:
    html = page.read_text()
    parsed = _Page()
    parsed.feed(html)
    text = " ".join(parsed.text)
    assert parsed.tags["script"] == 0 and parsed.links == []
    assert HOSTILE_TICKET not in html and 'onerror="' not in html
    assert HOSTILE_TICKET in text
    assert 'class="series proposed"' in html or 'class="point proposed' in html
    for needed in ("westock-essential", "100%", "98.4%", "-1.60", "99.2%", "met → breached"):
        assert needed in text, needed
    assert "2026-01-14 10:00 EST" in text and "2026-01-13 14:00 EST" in text  # W-FLIP's deadlines


@pytest.mark.tools
def test_html_renders_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    width, height, rows = screenshot(page, tmp_path)
    assert (width, height) == (1280, 2000)
    # A blank page is one distinct row; text, charts and tables make hundreds.
    assert len(set(rows)) > 300, f"{len(set(rows))} distinct rows: the page looks blank"
