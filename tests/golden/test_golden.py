"""Golden scenarios for the seed contracts: ticket histories in, SLA events out.

Each ``<contract>/<name>.yaml`` holds a description quoting the contract, the events,
and an optional ``until``; ``<name>.expected.jsonl`` holds what ``sla-timer replay``
must say for it with the policies of ``deploy/policies``. After a deliberate change,
``make golden`` rewrites the expected files; review them as a diff.
"""

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.policyfile import load_policies
from service.replay import run_replay
from service.wire import parse_timestamp

ROOT = Path(__file__).parent
POLICY_DIR = ROOT.parents[1] / "deploy" / "policies"
SCENARIOS = sorted(ROOT.glob("*/*.yaml"))
KEPT = (
    "ticket_id",
    "type",
    "metric",
    "cycle",
    "occurred_at",
    "deadline",
    "elapsed_business_seconds",
    "target_seconds",
    "threshold",
    "policy",
    "calendar",
    "retracted_event_id",
    "compliance_excluded",
)
UPDATE = os.environ.get("SLA_UPDATE_GOLDEN") == "1"


def replay_scenario(path: Path) -> list[dict[str, Any]]:
    scenario = yaml.safe_load(path.read_text(encoding="utf-8"))
    lines = [json.dumps(event) for event in scenario["events"]]
    until = parse_timestamp(scenario["until"]) if scenario.get("until") else None
    out, err = io.StringIO(), io.StringIO()
    summary = run_replay(load_policies(POLICY_DIR), lines, until, out, err)
    assert not summary.invalid, err.getvalue()
    return [
        {key: event[key] for key in KEPT if key in event}
        for event in map(json.loads, out.getvalue().splitlines())
    ]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_seed_contract_scenario(path: Path) -> None:
    actual = replay_scenario(path)
    expected_path = path.with_suffix(".expected.jsonl")
    if UPDATE:
        expected_path.write_text("".join(json.dumps(e) + "\n" for e in actual), encoding="utf-8")
    assert expected_path.exists(), f"no {expected_path.name}: run `make golden` and review it"
    expected = [json.loads(line) for line in expected_path.read_text(encoding="utf-8").splitlines()]
    assert actual == expected


def test_every_seed_contract_has_a_policy_file_and_six_scenarios() -> None:
    contracts = {p.parent.name for p in SCENARIOS}
    assert contracts == {"westock", "istockist", "saleslayer", "commerceup", "liveagent"}
    for contract in contracts:
        assert (POLICY_DIR / f"{contract}.yaml").exists()
        assert len(list((ROOT / contract).glob("*.yaml"))) >= 6, contract
