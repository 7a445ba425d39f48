"""The Prometheus configuration and rules: promtool accepts them and their unit tests pass."""

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.tools import PROMETHEUS_DIR, promtool

RULES = PROMETHEUS_DIR / "rules.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=PROMETHEUS_DIR,
    )


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def rule_tests() -> list[dict[str, Any]]:
    return [test for path in RULE_TESTS for test in yaml.safe_load(path.read_text())["tests"]]


def test_promtool_accepts_the_configuration_and_its_rule_file() -> None:
    result = run_promtool("check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_the_configuration_scrapes_the_workers_as_job_sla_timer() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules.yml"]
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "sla-timer")
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"][0]["port"] == 6066  # SLA_WEB_PORT's default


def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_rule_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = run_promtool("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_every_alert_has_a_severity_a_runbook_and_is_tested_firing_and_not_firing() -> None:
    cases = [case for test in rule_tests() for case in test.get("alert_rule_test", [])]
    for rule in (rule for rule in rules() if "alert" in rule):
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"], name
        assert f"runbook {name}." in rule["annotations"]["description"], name
        outcomes = [bool(case["exp_alerts"]) for case in cases if case["alertname"] == name]
        assert True in outcomes, f"{name} is never tested firing"
        assert False in outcomes, f"{name} is never tested not firing"


def test_every_recording_rule_is_tested_by_value() -> None:
    exprs = [case["expr"] for test in rule_tests() for case in test.get("promql_expr_test", [])]
    for rule in (rule for rule in rules() if "record" in rule):
        assert any(rule["record"] in expr for expr in exprs), f"{rule['record']} is not tested"
