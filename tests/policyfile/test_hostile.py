"""Hostile and mistaken policy files: each is a clear problem, found quickly, never a hang,
a memory blow-up or a traceback."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import yaml

from service.cli import main
from service.core.policy import PolicySet
from service.policyfile import check_directory, check_sources, yaml_loader
from service.policyfile.loader import MAX_CALENDARS, MAX_POLICIES, MAX_TOTAL_BYTES
from service.policyfile.models import MAX_TARGETS
from service.policyfile.yaml_loader import MAX_DEPTH, MAX_FILE_BYTES

TODAY = date(2026, 3, 1)  # reference starts: 2026-01-01 and 2027-01-01

OFFICE = """
calendars:
  office: {timezone: Europe/Madrid, hours: {mon-fri: ["08:00-18:00"]}}
  always: {timezone: UTC, hours: 24x7}
"""


def policy(target: str = "{breach_after: 4h}", calendar: str = "office", match: str = "{}") -> str:
    return f"""
policies:
  - name: p
    match: {match}
    calendar: {calendar}
    clocks: [{{metric: resolution, targets: [{target}]}}]
"""


def check(text: str) -> tuple[PolicySet | None, list[str]]:
    return check_sources([("hostile.yaml", text)], today=TODAY)


def problems(text: str) -> list[str]:
    policies, found = check(text)
    assert policies is None, "expected the file to be refused"
    return found


@contextmanager
def within(seconds: float) -> Iterator[None]:
    started = time.perf_counter()
    yield
    took = time.perf_counter() - started
    assert took < seconds, f"took {took:.1f} s (limit {seconds} s)"


def merge_key_bomb() -> str:
    """526 bytes: nine levels, each merging the previous mapping nine times (9**8 copies)."""
    lines = ["  a0: &a0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol, i: lol}"]
    lines += [f"  a{i}: &a{i} {{<<: [{','.join([f'*a{i - 1}'] * 9)}]}}" for i in range(1, 9)]
    return "calendars:\n" + "\n".join(lines) + "\n"


def billion_laughs() -> str:
    """Nested lists of aliases: nine to the ninth strings if anything walked them."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\npolicies: [*a9]\n"


# -- YAML: aliases, anchors, nesting, tags, size ------------------------------------------


@pytest.mark.parametrize("text", [merge_key_bomb(), billion_laughs()], ids=["merge", "laughs"])
def test_an_alias_bomb_is_refused_at_its_first_anchor_without_being_expanded(text: str) -> None:
    with within(1.0):
        found = problems(text)
    assert len(text.encode()) < 700
    assert found == [
        "hostile.yaml: not valid YAML: line 1: anchor &a0 refused: policy files may not use "
        "YAML anchors or aliases; write the value out"
    ] or found[0].startswith("hostile.yaml: not valid YAML: line 2: anchor &a0 refused")


def test_an_alias_bomb_in_a_policy_directory_is_reported_by_policies_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bomb.yaml").write_text(merge_key_bomb())
    with within(2.0):
        assert main(["policies", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "bomb.yaml: not valid YAML: line 2: anchor &a0 refused" in out


def test_a_key_written_twice_is_refused_not_silently_overwritten() -> None:
    # The target was changed in one place and left in the other: YAML keeps the last.
    text = OFFICE + policy("{breach_after: 4h, breach_after: 8h}")
    (found,) = problems(text)
    assert "key 'breach_after' written twice in one mapping" in found
    twice = OFFICE.replace("  always:", "  office: {timezone: UTC, hours: 24x7}\n  always:")
    (found,) = problems(twice + policy())
    assert found.startswith("hostile.yaml: not valid YAML: line 4: key 'office' written twice")
    assert "(first on line 3)" in found


def test_an_alias_is_refused_even_to_a_plain_value() -> None:
    found = problems(OFFICE + policy().replace("calendar: office", "calendar: &c office"))
    assert any("anchor &c refused" in p for p in found)
    found = problems("x: *nowhere\n")
    assert found == [
        "hostile.yaml: not valid YAML: line 1: alias *nowhere refused: policy files may not "
        "use YAML anchors or aliases; write the value out"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "policies: " + "[" * 2000 + "]" * 2000 + "\n",
        "policies:\n" + "".join(" " * i + "- \n" for i in range(600)),
        "policies:\n" + "".join(" " * i + f"k{i}:\n" for i in range(600)),
    ],
    ids=["flow-2000", "block-lists-600", "block-maps-600"],
)
def test_a_deeply_nested_document_is_refused_as_too_deep(text: str) -> None:
    with within(2.0):
        found = problems(text)
    assert len(found) == 1
    assert f"nested deeper than {MAX_DEPTH} levels of mappings and lists" in found[0]


def test_nesting_up_to_the_limit_is_read_and_judged_on_its_shape() -> None:
    text = "policies: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    found = problems(text)
    assert not any("nested deeper" in p for p in found)
    assert any("Input should be a valid dictionary" in p for p in found)


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object/apply:os.system [echo hi]", "tag:yaml.org,2002:python/object/apply"),
        ("!!timestamp not-a-time", "tag:yaml.org,2002:timestamp"),
        ("!!binary aGk=", "tag:yaml.org,2002:binary"),
        ("!!set {a: null}", "tag:yaml.org,2002:set"),
        ("!!bool maybe", "tag:yaml.org,2002:bool"),
        ("!custom x", "!custom"),
    ],
)
def test_yaml_tags_other_than_str_are_refused(value: str, tag: str) -> None:
    found = problems(OFFICE + policy(calendar=value))
    assert any(f"tag {tag}" in p and "refused" in p for p in found), found


def test_an_explicit_str_tag_still_makes_text() -> None:
    policies, found = check(OFFICE + policy(calendar="!!str office"))
    assert found == [] and policies is not None


def test_an_integer_too_long_to_convert_is_a_problem_not_a_traceback() -> None:
    found = problems(OFFICE + policy(match="{priority: 1" + "0" * 5000 + "}"))
    assert any("a number of 5001 characters refused" in p for p in found)
    found = problems(OFFICE + policy(match="{priority: 0b_}"))
    assert any("not valid YAML" in p for p in found)


def test_a_duration_too_long_to_convert_is_a_problem_not_a_traceback() -> None:
    found = problems(OFFICE + policy(target="{breach_after: " + "9" * 5000 + "d}"))
    assert any(
        "clocks[0].targets[0].breach_after: String should have at most 32 characters" in p
        for p in found
    )


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(OFFICE + policy())
    (tmp_path / "big.yaml").write_text("# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    with within(1.0):
        policies, found = check_directory(tmp_path, today=TODAY)
    assert policies is None
    assert found == [
        f"big.yaml: larger than {MAX_FILE_BYTES:,} bytes, the most a policy file may hold; not read"
    ]
    found = problems("# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    assert any(f"a policy file may hold at most {MAX_FILE_BYTES:,} bytes" in p for p in found)


def test_problems_of_an_unreadable_file_and_of_a_readable_one_are_reported_together(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yaml").write_text(OFFICE + policy(calendar="nowhere"))
    (tmp_path / "b.yaml").write_bytes(b"\xff\xfe not utf-8")
    policies, found = check_directory(tmp_path, today=TODAY)
    assert policies is None
    assert found[0].startswith("b.yaml: cannot read:")
    assert any("a.yaml: policy 'p': calendar: unknown calendar 'nowhere'" in p for p in found)


def test_policy_files_over_the_total_size_limit_are_refused(tmp_path: Path) -> None:
    padding = "# padding\n" * (MAX_FILE_BYTES // 10 - 10)
    for name in "abcde":
        (tmp_path / f"{name}.yaml").write_text(padding)
    with within(1.0):
        policies, found = check_directory(tmp_path, today=TODAY)
    assert policies is None
    assert found == [
        f"the policy files hold more than {MAX_TOTAL_BYTES:,} bytes in all; not checked"
    ]


def test_more_calendars_than_allowed_are_refused_before_any_is_built() -> None:
    calendars = "".join(
        f"  c{i}: {{timezone: Asia/Kolkata, hours: {{mon-fri: [09:00-17:00]}}, "
        "holidays: {country: IN}}\n"
        for i in range(MAX_CALENDARS + 1)
    )
    policies = "".join(
        f"  - {{name: p{i}, match: {{tenant: t{i}}}, calendar: c{i}, "
        "clocks: [{metric: resolution, targets: [{breach_after: 1h}]}]}\n"
        for i in range(MAX_CALENDARS + 1)
    )
    with within(1.0):
        found = problems(f"calendars:\n{calendars}policies:\n{policies}")
    assert found == [
        f"{MAX_CALENDARS + 1} calendars in the policy files, more than the {MAX_CALENDARS} "
        "allowed; their meaning is not checked"
    ]


def test_more_policies_than_allowed_are_refused() -> None:
    policies = "".join(
        f"  - {{name: p{i}, match: {{tenant: t{i}}}, calendar: always, "
        "clocks: [{metric: resolution, targets: [{breach_after: 1h}]}]}\n"
        for i in range(MAX_POLICIES + 1)
    )
    with within(2.0):
        found = problems(f"{OFFICE}policies:\n{policies}")
    assert found == [
        f"{MAX_POLICIES + 1} policies in the policy files, more than the {MAX_POLICIES} "
        "allowed; their meaning is not checked"
    ]


def test_more_targets_in_a_clock_than_allowed_are_refused() -> None:
    targets = ", ".join(f"{{match: {{k: v{i}}}, breach_after: 1h}}" for i in range(MAX_TARGETS + 1))
    found = problems(OFFICE + policy(target=targets))
    assert found == [
        f"hostile.yaml: policy 'p': clocks[0].targets: List should have at most {MAX_TARGETS} "
        f"items after validation, not {MAX_TARGETS + 1}"
    ]


# -- time zones ------------------------------------------------------------------------


def test_a_time_zone_that_is_a_region_of_the_tz_database_is_refused_with_its_zones() -> None:
    found = problems(OFFICE.replace("timezone: UTC", "timezone: America") + policy())
    assert len(found) == 1
    assert found[0].startswith(
        "hostile.yaml: calendars.always: timezone: 'America' is a region of the tz database, "
        "not a time zone; expected one of its"
    )
    assert "e.g. America/Adak" in found[0]


def test_a_misspelt_time_zone_suggests_the_near_names() -> None:
    found = problems(OFFICE.replace("Europe/Madrid", "Europe/Madird") + policy())
    assert len(found) == 1
    assert found[0].startswith(
        "hostile.yaml: calendars.office: timezone: 'Europe/Madird' is not an IANA time zone; "
        "expected an Area/Location name of the tz database such as Europe/Madrid, "
        "America/New_York or UTC; did you mean Europe/Madrid or "
    )


@pytest.mark.parametrize(
    "zone", ['""', "../../../etc/passwd", "/etc/localtime", '"Europe/Madrid\\0"', "Europe/"]
)
def test_a_time_zone_that_is_no_zone_name_at_all_is_a_problem(zone: str) -> None:
    found = problems(OFFICE.replace("timezone: UTC", f"timezone: {zone}") + policy())
    assert any(
        "calendars.always: timezone:" in p and "is not an IANA time zone" in p for p in found
    )


# -- regular expressions ---------------------------------------------------------------


def test_a_catastrophic_regex_matches_in_linear_time() -> None:
    policies, found = check(
        OFFICE
        + policy(match="{subject: {regex: '^(a+)+$'}}")
        + "  - {name: rest, calendar: office, clocks: [{metric: resolution, "
        "targets: [{breach_after: 8h}]}]}\n"
    )
    assert found == [] and policies is not None
    for length in (28, 1000, 100_000):  # Python's re: 11 s at 28, exponential beyond
        with within(0.5):
            chosen = policies.select({"subject": "a" * length + "!"})
        assert chosen is not None and chosen.name == "rest"
    chosen_policy = policies.select({"subject": "a" * 28})
    assert chosen_policy is not None and chosen_policy.name == "p"


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        ("a{4294967296}", "RE2 allows repeat counts up to 1000"),
        ("a{1001}", "RE2 allows repeat counts up to 1000"),
        ("a{2,99999}", "RE2 allows repeat counts up to 1000"),
        ("a{,5}", "needs a lower bound for RE2: write {0,5}"),
        ("a{01}", "write its counts without leading zeros"),
        (r"(a)\\1", r"RE2 cannot compile it: invalid escape sequence: \1"),
        ("(?=a)b", "RE2 cannot compile it: invalid perl operator: (?="),
        ("(?<!a)b", "RE2 cannot compile it: invalid perl operator: (?<"),
        ("((a{100}){100}){100}", "RE2 cannot compile it: "),
        ("[", "RE2 cannot compile it: missing ]: ["),
    ],
)
def test_a_regex_re2_cannot_run_as_written_is_refused_at_load_with_the_reason(
    regex: str, reason: str
) -> None:
    found = problems(OFFICE + policy(match=f'{{subject: {{regex: "{regex}"}}}}'))
    assert len(found) == 1
    assert found[0].startswith("hostile.yaml: policy 'p': match.subject: invalid regex")
    assert reason in found[0]


@pytest.mark.parametrize(
    "regex", ["a{2}", "a{2,}", "a{2,1000}", "[{]9999}", r"\{9999}", "x{}", "[[:digit:]{5000}]"]
)
def test_braces_that_are_text_or_small_repeats_are_accepted(regex: str) -> None:
    _, found = check(OFFICE + policy(match=f"{{subject: {{regex: '{regex}'}}}}"))
    assert found == []


@pytest.mark.parametrize(
    ("regex", "value", "fits"),
    [
        ("down", "System is down since 9:00", True),  # searched anywhere in the value
        ("^down", "System is down", False),
        (r"(?i)\bC1\b|\bsystem\s*down\b", "URGENT: System Down", True),
        (r"(?i)\bC1\b", "C123 banner", False),
        ("^(high|urgent)$", "urgent", True),
        ("^(high|urgent)$", "not urgent", False),
        ("^1$", 1, True),  # values compare as text
        ("é", "café", True),
    ],
)
def test_a_regex_condition_searches_the_value_as_text(
    regex: str, value: str | int, fits: bool
) -> None:
    policies, found = check(OFFICE + policy(match=f"{{subject: {{regex: '{regex}'}}}}"))
    assert policies is not None, found
    assert (policies.select({"subject": value}) is not None) is fits


# -- targets a calendar can never reach ------------------------------------------------


def test_a_target_of_ten_million_days_is_refused_as_unreachable() -> None:
    with within(2.0):
        found = problems(OFFICE + policy(target="{breach_after: 10000000d}"))
    assert found == [
        "hostile.yaml: policy 'p': clocks[0].targets[0].breach_after: '10000000d' is "
        "unreachable: on calendar 'office' a ticket created 2026-01-01T00:00:00Z would not "
        "fall due within 5 years (it is open 13,040 business hours in those years)"
    ]


def test_a_target_of_an_absurd_number_of_seconds_is_refused_quickly() -> None:
    with within(2.0):
        found = problems(OFFICE + policy(target="{breach_after: 9999999999999999999999999999s}"))
    assert len(found) == 1 and "is unreachable" in found[0]


def test_a_target_within_five_years_loads_and_one_beyond_does_not() -> None:
    policies, found = check(OFFICE + policy(target="{breach_after: 1800d}", calendar="always"))
    assert found == [] and policies is not None
    found = problems(OFFICE + policy(target="{breach_after: 1830d}", calendar="always"))
    assert any("'1830d' is unreachable: on calendar 'always'" in p for p in found)


def test_a_short_target_on_a_calendar_open_one_minute_a_year_is_refused() -> None:
    overrides = ", ".join(f'"{year}-06-01": ["09:00-09:01"]' for year in range(2020, 2040))
    text = f"""
calendars:
  rare: {{timezone: UTC, hours: {{}}, overrides: {{{overrides}}}, business_day: 8h}}
""" + policy(target="{breach_after: 4h, warn_at: [1h]}", calendar="rare")
    with within(2.0):
        found = problems(text)
    assert found == [
        "hostile.yaml: policy 'p': clocks[0].targets[0].breach_after: '4h' is unreachable: "
        "on calendar 'rare' a ticket created 2026-01-01T00:00:00Z would not fall due within "
        "5 years (it is open 0.0833333 business hours in those years)"
    ]


def test_a_target_on_a_calendar_whose_open_time_ends_is_refused_from_next_year() -> None:
    text = """
calendars:
  this-year: {timezone: UTC, hours: {}, overrides: {"2026-06-01": ["00:00-24:00"]},
              business_day: 8h}
""" + policy(calendar="this-year")
    found = problems(text)
    assert any("a ticket created 2027-01-01T00:00:00Z would not fall due" in p for p in found)


def test_days_on_a_calendar_without_a_usual_business_day_are_refused() -> None:
    def special(extra: str = "") -> str:
        days = [f"{year}-06-0{day}" for year in range(2026, 2035) for day in range(1, 8)]
        overrides = ", ".join(f'"{day}": ["00:00-24:00"]' for day in days)
        spec = f"{{timezone: UTC, hours: {{}}, overrides: {{{overrides}}}{extra}}}"
        return f"calendars:\n  special: {spec}\n"

    found = problems(special() + policy("{breach_after: 2d, warn_at: [1d, 50%, 1h]}", "special"))
    assert found == [
        "hostile.yaml: policy 'p': clocks[0].targets[0].breach_after: '2d' counts business "
        "days, but calendar 'special' has no usual business day (no weekly open hours), so 1d "
        "would be 0 seconds; set business_day on the calendar or write the duration in h, m or s"
    ]
    found = problems(special() + policy("{breach_after: 8h, warn_at: [1d]}", "special"))
    assert any("warn_at: '1d' counts business days, but calendar 'special'" in p for p in found)
    _, found = check(special() + policy("{breach_after: 8h, warn_at: [50%]}", "special"))
    assert found == []
    _, found = check(special(", business_day: 8h") + policy("{breach_after: 2d}", "special"))
    assert found == []


# -- overnight ranges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (
            '{mon: ["22:00-06:00"], tue: ["05:00-09:00"]}',
            "hours: mon 22:00-06:00 runs past midnight into tue 05:00-09:00; the ranges overlap",
        ),
        (
            '{sun: ["20:00-02:00"], mon: ["00:00-24:00"]}',
            "hours: sun 20:00-02:00 runs past midnight into mon 00:00-24:00; the ranges overlap",
        ),
        (
            '{mon-sun: ["05:00-07:00", "22:00-06:00"]}',
            "hours: sun 22:00-06:00 runs past midnight into mon 05:00-07:00",
        ),
    ],
)
def test_an_overnight_range_overlapping_the_next_days_range_is_refused_naming_both(
    hours: str, message: str
) -> None:
    text = f"calendars:\n  night: {{timezone: UTC, hours: {hours}}}\n"
    found = problems(text + policy(calendar="night"))
    assert any(f"calendars.night: {message}" in p for p in found), found


def test_an_overnight_range_that_ends_where_the_next_day_opens_is_fine() -> None:
    hours = '{mon: ["22:00-06:00"], tue: ["06:00-09:00"], wed-sun: ["22:00-06:00"]}'
    text = f"calendars:\n  night: {{timezone: UTC, hours: {hours}}}\n" + policy(calendar="night")
    _, found = check(text)
    assert found == []


def test_an_override_overlapping_the_overnight_range_of_its_neighbour_is_refused() -> None:
    text = """
calendars:
  night:
    timezone: UTC
    hours: {mon-fri: ["22:00-06:00"]}
    overrides: {"2026-03-03": ["05:00-07:00"], "2026-03-06": ["23:00-02:00"]}
""" + policy(calendar="night")
    found = problems(text)
    # 2026-03-02 is a Monday, 2026-03-07 a Saturday (closed, so nothing to overlap).
    assert found == [
        "hostile.yaml: calendars.night: overrides.2026-03-03: mon 2026-03-02 22:00-06:00 runs "
        "past midnight into override 2026-03-03 05:00-07:00; the ranges overlap"
    ]


def test_overlapping_ranges_of_one_day_name_both() -> None:
    text = 'calendars:\n  c: {timezone: UTC, hours: {mon: ["09:00-12:00", "11:00-13:00"]}}\n'
    found = problems(text + policy(calendar="c"))
    assert any(
        "calendars.c: hours.mon: ranges overlap: 09:00-12:00 and 11:00-13:00" in p for p in found
    )


def test_without_libyaml_the_pure_python_parser_refuses_the_same_documents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(yaml_loader, "_EventSource", yaml.SafeLoader)
    assert problems(merge_key_bomb())[0].startswith(
        "hostile.yaml: not valid YAML: line 2: anchor &a0 refused"
    )
    assert "nested deeper than 32 levels" in problems("x: " + "[" * 2000 + "]" * 2000)[0]
    policies, found = check(OFFICE + policy())
    assert found == [] and policies is not None
