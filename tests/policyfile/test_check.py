"""Policy validation (docs/policies.md): every problem at once, naming file, policy, field."""

from pathlib import Path

import pytest

from service.cli import main
from service.core.errors import InvalidPolicies
from service.policyfile import check_sources, load_policy_text

GOOD_CALENDAR = """
calendars:
  office: {timezone: Europe/Madrid, hours: {mon-fri: ["08:00-18:00"]}, holidays: {country: ES}}
"""


def problems(text: str) -> list[str]:
    policies, found = check_sources([("bad.yaml", text)])
    assert policies is None
    return found


def test_every_problem_is_reported_together_with_file_policy_and_field() -> None:
    found = problems(
        GOOD_CALENDAR
        + """
policies:
  - name: broken
    calendar: nowhere
    clocks:
      - metric: first_response
        targets: [{breach_after: 2x}, {breach_after: 4h, warn_at: [5h]}]
      - metric: bogus
        targets: [{breach_after: 1h}]
"""
    )
    assert (
        "bad.yaml: policy 'broken': calendar: unknown calendar 'nowhere'; defined: office" in found
    )
    assert any("clocks[0].targets[0].breach_after: '2x' is not a duration" in p for p in found)
    assert any(
        "clocks[0].targets[1].warn_at: '5h' does not fall before breach_after '4h'" in p
        for p in found
    )
    assert any("clocks[1]: custom metric 'bogus' needs start_on and stop_on" in p for p in found)
    assert len(found) == 4


def test_bad_time_zone_day_range_and_holiday_country_are_refused() -> None:
    found = problems("""
calendars:
  odd:
    timezone: Mars/Olympus
    hours: {mon-fry: ["09:00-17:00"], sat: ["9-5"]}
    holidays: {country: XX}
policies: []
""")
    assert any(
        "calendars.odd: timezone: 'Mars/Olympus' is not an IANA time zone" in p for p in found
    )
    assert any("'mon-fry' is not a day or day range" in p for p in found)
    assert any("'9-5' is not a range like 09:00-17:00" in p for p in found)
    assert any("unknown holiday country 'XX'" in p for p in found)


def test_unreachable_target_and_shadowed_policy_are_refused() -> None:
    found = problems(
        GOOD_CALENDAR
        + """
policies:
  - name: everyone
    calendar: office
    clocks:
      - metric: resolution
        targets: [{breach_after: 8h}, {match: {priority: high}, breach_after: 4h}]
  - name: vip
    match: {plan: vip}
    calendar: office
    clocks: [{metric: resolution, targets: [{breach_after: 2h}]}]
"""
    )
    assert any("clocks[0].targets[1]: unreachable: targets[0]" in p for p in found)
    assert any("policy 'vip': match: unreachable: policy 'everyone'" in p for p in found)


def test_narrower_policy_after_a_broader_one_on_other_keys_is_fine() -> None:
    policies = load_policy_text(
        GOOD_CALENDAR
        + """
policies:
  - name: acme-high
    match: {tenant: acme, priority: [high, urgent]}
    calendar: office
    clocks: [{metric: resolution, targets: [{breach_after: 2h}]}]
  - name: acme
    match: {tenant: acme}
    calendar: office
    clocks: [{metric: resolution, targets: [{breach_after: 8h}]}]
"""
    )
    assert [p.name for p in policies.policies] == ["acme-high", "acme"]


def test_shape_errors_name_the_field() -> None:
    found = problems(
        GOOD_CALENDAR
        + """
policies:
  - name: typo
    calendar: office
    clocks: [{metric: resolution, targets: [{breach_afer: 2h}]}]
"""
    )
    assert any(
        p.startswith("bad.yaml: policy 'typo': clocks[0].targets[0].breach_after: Field required")
        for p in found
    )
    assert any(
        "clocks[0].targets[0].breach_afer: Extra inputs are not permitted" in p for p in found
    )


def test_yaml_keeps_country_no_and_dates_as_text() -> None:
    policies = load_policy_text("""
calendars:
  oslo:
    timezone: Europe/Oslo
    hours: {mon-fri: ["08:00-16:00"]}
    holidays: {country: NO, dates: [2026-12-24]}
    overrides: {2026-12-31: ["08:00-12:00"]}
policies:
  - {name: nordic, calendar: oslo, clocks: [{metric: resolution, targets: [{breach_after: 1d}]}]}
""")
    assert policies.policies[0].clocks[0].targets[0].breach_after == 8 * 3600 * 1_000_000


def test_policy_version_changes_with_content_and_calendar() -> None:
    base = (
        GOOD_CALENDAR
        + """
policies:
  - {name: p, calendar: office, clocks: [{metric: resolution, targets: [{breach_after: 8h}]}]}
"""
    )
    v1 = load_policy_text(base).policies[0].version
    assert load_policy_text(base).policies[0].version == v1
    assert load_policy_text(base.replace("8h", "9h")).policies[0].version != v1
    assert load_policy_text(base.replace("18:00", "17:00")).policies[0].version != v1


def test_a_shape_error_in_one_policy_does_not_hide_problems_of_another() -> None:
    with pytest.raises(InvalidPolicies) as error:
        load_policy_text(
            GOOD_CALENDAR
            + """
policies:
  - {name: empty, calendar: office, clocks: []}
  - {name: lost, calendar: nowhere, clocks: [{metric: resolution, targets: [{breach_after: 1h}]}]}
"""
        )
    assert error.value.problems == [
        "policies.yaml: policy 'empty': clocks: "
        "List should have at least 1 item after validation, not 0",
        "policies.yaml: policy 'lost': calendar: unknown calendar 'nowhere'; defined: office",
    ]
    assert str(error.value).startswith("invalid policies (2 problems):")


def test_policies_check_command_exits_non_zero_and_prints_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(
        GOOD_CALENDAR
        + "policies: [{name: x, calendar: gone,"
        + " clocks: [{metric: resolution, targets: [{breach_after: 1h}]}]}]\n"
    )
    assert main(["policies", "check", str(tmp_path)]) == 1
    assert "a.yaml: policy 'x': calendar: unknown calendar 'gone'" in capsys.readouterr().out


def test_policies_check_command_accepts_the_seed_policies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeds = Path(__file__).parents[2] / "deploy" / "policies"
    assert main(["policies", "check", str(seeds)]) == 0
    assert "policies OK" in capsys.readouterr().out
