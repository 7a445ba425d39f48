"""The sources file: defaults per kind, and every problem reported at once, each naming
the source and the field."""

from pathlib import Path

import pytest

from service.core.errors import InvalidSources, SlaTimerError
from service.core.instant import MINUTE
from service.gateway import check_sources_text, load_sources

ENV = {"ZD": "zendesk-secret", "JIRA": "jira-secret", "EMPTY": "  "}
GOOD = """\
sources:
  - name: acme-zendesk
    kind: zendesk
    tenant: acme
    secret_env: ZD
    statuses: {Hold: waiting_on_client, "360001234567": on_hold}
    attributes: {tier: "custom_field:360012345", subject: null}
    automated_authors: [123, "456"]
    zendesk: {freshness: 2m}
  - name: acme-jira
    kind: jira
    tenant: acme
    secret_env: JIRA
"""


def test_a_good_file_loads_with_defaults_merged(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD)
    sources = load_sources(path, ENV)
    zendesk = sources.get("acme-zendesk")
    assert zendesk is not None
    assert zendesk.statuses["hold"] == "waiting_on_client"
    assert zendesk.statuses["360001234567"] == "on_hold"
    assert zendesk.statuses["solved"] == "solved"
    assert zendesk.attributes["tier"] == "custom_field:360012345"
    assert "subject" not in zendesk.attributes
    assert zendesk.attributes["priority"] == "priority"
    assert zendesk.automated_authors == frozenset({"123", "456"})
    assert zendesk.freshness == 2 * MINUTE
    assert sources.secrets["acme-jira"] == "jira-secret"
    assert "jira-secret" not in repr(sources)


BAD = """\
sources:
  - name: acme zendesk
    kind: zendesk
    tenant: acme
    secret_env: MISSING
    attributes: {Tier: priority, level: prio}
    zendesk: {freshness: 2s}
    freshdesk: {auth: basic}
  - name: acme-jira
    kind: jira
    tenant: acme
    secret_env: EMPTY
    statuses: {"---": open}
  - name: acme-jira
    kind: jira
    tenant: acme
    secret_env: JIRA
    zendesk: {}
  - kind: kayako
    tenant: acme
    colour: blue
"""


def test_every_problem_is_listed_naming_source_and_field() -> None:
    sources, problems = check_sources_text(BAD, ENV, "sources.yaml")
    assert sources is None
    assert problems == [
        "sources.yaml: source 'acme zendesk': name: 'acme zendesk' is not URL-safe: use 1-64 of "
        "A-Z a-z 0-9 . _ ~ -, starting with a letter or digit",
        "sources.yaml: source 'acme zendesk': attributes.Tier: an attribute name is 1-64 of "
        "a-z 0-9 _, starting with a letter",
        "sources.yaml: source 'acme zendesk': attributes.level: 'prio' is not a zendesk field: "
        "use one of priority, type, group, brand, form, organization, tags, subject, channel, "
        "or custom_field:<id or name>",
        "sources.yaml: source 'acme zendesk': zendesk.freshness: use a duration from 10s to 1d, "
        "such as 5m",
        "sources.yaml: source 'acme zendesk': freshdesk: only for kind freshdesk, not zendesk",
        "sources.yaml: source 'acme zendesk': secret_env: the variable MISSING is not set",
        "sources.yaml: source 'acme-jira': statuses.---: a status with no letters or digits",
        "sources.yaml: source 'acme-jira': secret_env: the variable EMPTY is empty",
        "sources.yaml: source 'acme-jira': name: already used by an earlier source; names must "
        "be unique",
        "sources.yaml: source 'acme-jira': zendesk: only for kind zendesk, not jira",
        "sources.yaml: source #4: name: Field required",
        "sources.yaml: source #4: kind: Input should be 'zendesk', 'jira', 'freshdesk', "
        "'zammad' or 'helpscout'",
        "sources.yaml: source #4: secret_env: Field required",
        "sources.yaml: source #4: colour: Extra inputs are not permitted",
    ]
    assert not any("zendesk-secret" in problem or "jira-secret" in problem for problem in problems)


def test_load_sources_raises_the_repository_error_with_the_list(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(BAD)
    with pytest.raises(InvalidSources) as raised:
        load_sources(path, ENV)
    assert isinstance(raised.value, SlaTimerError)
    assert len(raised.value.problems) == 14
    assert str(raised.value).startswith("invalid sources (14 problems):\n  - sources.yaml: ")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "sources.yaml: sources: Field required"),
        (
            "sources: []",
            "sources.yaml: sources: List should have at least 1 item after validation, not 0",
        ),
        (
            "sources: [1]",
            "sources.yaml: source #1: (top level): Input should be a valid dictionary",
        ),
        (
            "a: &x 1\nb: *x",
            "sources.yaml: not valid YAML: line 1: anchor &x refused",
        ),
        ("sources: [{", "sources.yaml: not valid YAML: while parsing a flow node"),
    ],
)
def test_malformed_files(text: str, problem: str) -> None:
    sources, problems = check_sources_text(text, ENV)
    assert sources is None
    assert problems[0].startswith(problem)


def test_unreadable_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidSources, match="cannot read"):
        load_sources(tmp_path / "missing.yaml", ENV)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (256 * 1024 + 1))
    with pytest.raises(InvalidSources, match="larger than 262,144 bytes"):
        load_sources(big, ENV)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"sources: [\xe9]")
    with pytest.raises(InvalidSources, match="not UTF-8"):
        load_sources(latin, ENV)
