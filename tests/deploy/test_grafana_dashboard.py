"""The Grafana dashboard and its provisioning: well-formed, and every PromQL expression (the
dashboard's and the rules') names only series the worker exports or rules.yml records."""

import itertools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.gateway.metrics import GatewayMetrics
from service.worker.metrics import Metrics
from tests.deploy.tools import PROMETHEUS_DIR, REPO_ROOT, promtool

GRAFANA_DIR = REPO_ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "sla-timer.json"
RULES = PROMETHEUS_DIR / "rules.yml"
# Series Prometheus adds to every scrape target itself (the alerts use `up`).
SCRAPE_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}
# Series names a family of each type exposes (prometheus_client's text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip

STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
NAME_MATCHER = re.compile(r"__name__\s*=\s*(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
# An identifier not inside another token (5m, 1e3, 0x1f) and not called as a function.
IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][\w:]*)")


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (Grafana variables allowed)."""
    names = {match[1:-1] for match in NAME_MATCHER.findall(expr)}
    text = STRING.sub('""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges, subqueries, [[variables]]
    text = VARIABLE.sub(" ", text)
    text = GROUPING.sub(" ", text)
    names |= {name for name in IDENTIFIER.findall(text) if name.lower() not in KEYWORDS}
    return names


def exported_series() -> set[str]:
    """What the worker and the gateway export."""
    families = [*Metrics().registry.collect(), *GatewayMetrics([]).registry.collect()]
    return {family.name + suffix for family in families for suffix in SUFFIXES[family.type]}


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def known_series() -> set[str]:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    return exported_series() | recorded | SCRAPE_SERIES


def unknown_metrics(exprs: list[str], known: set[str]) -> dict[str, set[str]]:
    return {expr: names for expr in exprs if (names := metric_names(expr) - known)}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return list(dashboard()["panels"])


def dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (policy, metric) (rate(a_total{type="x",p=~"$policy"}[5m]))', {"a_total"}),
        ("histogram_quantile(0.99, sum(rate(b_bucket[$__rate_interval])) by (le))", {"b_bucket"}),
        ("x and on (month) y:z:info", {"x", "y:z:info"}),
        ("a / on (p) group_left (q) b offset 5m > bool 1e3", {"a", "b"}),
        ('label_replace(count_values("month", month()), "m", "0$1", "m", "^(x)$")', set()),
        (
            '{__name__="named_metric", job="a"} unless absent(up{job="b {c}"})',
            {"named_metric", "up"},
        ),
        ("max_over_time(c[1h:5m]) or vector(0) or NaN", {"c"}),
        ("sum without (instance) (d) - ignoring(e) f", {"d", "f"}),
    ],
)
def test_metric_names_skips_strings_labels_functions_and_keywords(
    expr: str, names: set[str]
) -> None:
    assert metric_names(expr) == names


def test_the_known_series_are_the_workers_with_their_suffixes_and_the_recorded_ones() -> None:
    known = known_series()
    assert {"sla_timer_sla_events_total", "sla_timer_processing_seconds_bucket"} <= known
    assert {"sla_timer_ready", "policy_metric:sla_timer_breaches:rate5m"} <= known
    assert "sla_timer_sla_events" not in known  # a counter is exposed with _total only


def test_every_rule_names_only_known_series() -> None:
    assert unknown_metrics([rule["expr"] for rule in rules()], known_series()) == {}


def test_the_check_reports_an_unknown_series_in_a_rule() -> None:
    broken = [*(rule["expr"] for rule in rules()), "sum(rate(sla_timer_breachez_total[5m]))"]
    assert unknown_metrics(broken, known_series()) == {
        "sum(rate(sla_timer_breachez_total[5m]))": {"sla_timer_breachez_total"}
    }


def test_every_dashboard_query_names_only_known_series() -> None:
    variables = [
        LABEL_VALUES.search(variable["definition"])
        for variable in dashboard()["templating"]["list"]
        if variable["type"] == "query"
    ]
    variable_metrics = {match.group(1) for match in variables if match}
    assert variable_metrics - known_series() == set()
    assert unknown_metrics(dashboard_exprs(), known_series()) == {}


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    """Grafana's variables replaced by values, each query checked as a recording rule."""
    replacements = {"$__rate_interval": "1m", "$__range": "6h", "$policy": ".*"}
    exprs = dashboard_exprs()
    for variable, value in replacements.items():
        exprs = [expr.replace(variable, value) for expr in exprs]
    recorded = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]
    rule_file = tmp_path / "dashboard.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}))
    result = subprocess.run(
        [promtool(), "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_has_a_schema_version_and_a_datasource_variable() -> None:
    board = dashboard()
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["uid"] and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids))


def test_panels_fit_24_columns_and_do_not_overlap() -> None:
    boxes = {}
    for panel in panels():
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] >= 1 and pos["h"] >= 1, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        boxes[panel["title"]] = (pos["x"], pos["y"], pos["x"] + pos["w"], pos["y"] + pos["h"])
    for (one, a), (other, b) in itertools.combinations(boxes.items(), 2):
        overlaps = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
        assert not overlaps, f"{one} overlaps {other}"


def test_every_panel_queries_the_datasource_variable_and_has_a_unit() -> None:
    selected = {"type": "prometheus", "uid": "${datasource}"}
    for panel in panels():
        assert panel["datasource"] == selected, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == selected, panel["title"]
            assert target["expr"].strip(), panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]


def test_the_dashboard_covers_what_on_call_needs() -> None:
    used = set().union(*(metric_names(expr) for expr in dashboard_exprs()))
    assert {
        "policy_metric:sla_timer_breaches:rate5m",
        "policy_metric:sla_timer_warnings:rate5m",
        "policy_metric_month:sla_timer_compliance_attainment:ratio",
        "policy:sla_timer_compliance_target:ratio",
        "sla_timer_open_clocks",
        "type:sla_timer_timer_lateness_seconds:p99_rate5m",
        "type:sla_timer_timer_lateness_seconds:p50_rate5m",
        "sla_timer_consumer_lag",
        "sla_timer_events_consumed_total",
        "sla_timer_events_invalid_total",
        "sla_timer_processing_seconds_bucket",
        "sla_timer:workers_ready:sum",
    } <= used


def test_provisioning_points_grafana_at_prometheus_and_the_dashboards() -> None:
    sources = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/prometheus.yaml").read_text())
    (source,) = sources["datasources"]
    assert (source["type"], source["url"], source["isDefault"]) == (
        "prometheus",
        "http://prometheus:9090",
        True,
    )
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/sla-timer.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
