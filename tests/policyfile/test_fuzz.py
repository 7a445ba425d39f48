"""Fuzzing the policy loader: whatever the files hold, ``check_sources`` returns policies or
problems, quickly, and never raises.

Bounded and repeatable in ``make test`` (fixed seed, a few hundred examples); for a long
run set ``SLA_FUZZ_EXAMPLES``: ``SLA_FUZZ_EXAMPLES=10000 pytest tests/policyfile/test_fuzz.py``.
"""

import os
import time
from datetime import date
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.core.policy import PolicySet
from service.policyfile import check_sources

EXAMPLES = int(os.environ.get("SLA_FUZZ_EXAMPLES", "100"))
SECONDS_PER_CHECK = 3.0  # generous: a loaded CI machine; typical checks take milliseconds

fuzz = settings(
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _warm_up() -> None:
    """Load what the first check of a kind loads once (the tz database's zone list, holiday
    modules), so the time limit measures checking."""
    check_sources(
        [
            (
                "warm.yaml",
                "calendars: {a: {timezone: Nowhere, hours: 24x7, holidays: {country: ES}}}\n",
            )
        ]
    )


_warm_up()


def assert_checks_cleanly(sources: list[tuple[str, str]]) -> None:
    started = time.perf_counter()
    policies, problems = check_sources(sources, today=date(2026, 3, 1))
    took = time.perf_counter() - started
    assert took < SECONDS_PER_CHECK, f"check took {took:.1f} s"
    if policies is None:
        assert problems and all(isinstance(p, str) and p for p in problems)
    else:
        assert isinstance(policies, PolicySet) and problems == []


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_NoAliasDumper, allow_unicode=True)


# -- building blocks -------------------------------------------------------------------

scalars = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
nested = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)

numbers = st.one_of(
    st.integers(min_value=0, max_value=100).map(str),
    st.sampled_from(["0", "00", "999999999", "10000000", "1" + "0" * 30]),
)
durations = st.one_of(
    st.lists(st.tuples(numbers, st.sampled_from("dhms")), min_size=1, max_size=4).map(
        lambda parts: "".join(n + u for n, u in parts)
    ),
    st.sampled_from(["", "-1h", "1x", "75%", "-30m", "100%", "0.5%", "1d4h30m", " 2d "]),
    st.text(max_size=6),
)
thresholds = st.one_of(durations, durations.map(lambda d: "-" + d), numbers.map(lambda n: n + "%"))
clock_times = st.tuples(st.integers(0, 25), st.integers(0, 61)).map(
    lambda hm: f"{hm[0]:02d}:{hm[1]:02d}"
)
hours_ranges = st.one_of(
    st.tuples(clock_times, clock_times).map(lambda pair: f"{pair[0]}-{pair[1]}"),
    st.sampled_from(["24:00-24:00", "00:00-24:00", "22:00-06:00", "9-5", "", "xx:yy-zz:ww"]),
)
day_keys = st.sampled_from(
    [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "mon-fri",
        "sat-sun",
        "fri-mon",
        "mon,wed",
        "MON",
        "mon-fry",
        "",
        "sun-sat",
    ]
)
zones = st.sampled_from(
    [
        "UTC",
        "Europe/Madrid",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "America",
        "Europe",
        "",
        "Mars/Olympus",
        "../etc/passwd",
        "/etc/localtime",
        "Etc/GMT+14",
        "Europe/Madrid\x00",
        "EUROPE/MADRID",
        "posixrules",
        "localtime",
        "Factory",
    ]
)
regexes = st.one_of(
    st.sampled_from(
        [
            r"^(a+)+$",
            r"(a)\1",
            r"(?=a)",
            r"a{4294967296}",
            r"a{1001}",
            r"a{,5}",
            r"a{01}",
            r"(?i)\bC1\b",
            r"[",
            r"(?P<x>a)(?P=x)",
            r"\Z",
            r"(?x) a",
            r"[[:alpha:]]",
            r"\p{Greek}",
            r"((a{100}){100}){100}",
            r"(?<=a)b",
            r"\Qa{5000}\E",
            r"[]a]{2}",
            r"[^]]{3000}",
        ]
    ),
    st.text(alphabet="a()[]{}|*+?^$\\.,:0123456789-=!<>PpQE", max_size=20),
)
dates = st.one_of(
    st.dates(min_value=date(1, 1, 2), max_value=date(9999, 12, 30)).map(str),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2033, 12, 31)).map(str),
    st.sampled_from(["2026-02-30", "0000-01-01", "9999-12-31", "0001-01-01", "tomorrow"]),
)
match_values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    regexes.map(lambda r: {"regex": r}),
)
matches = st.dictionaries(
    st.sampled_from(["tenant", "priority", "subject", "plan", ""]), match_values, max_size=3
)
calendars = st.fixed_dictionaries(
    {"timezone": zones},
    optional={
        "hours": st.one_of(
            st.just("24x7"),
            st.dictionaries(day_keys, st.lists(hours_ranges, max_size=3), max_size=4),
        ),
        "holidays": st.fixed_dictionaries(
            {},
            optional={
                "country": st.sampled_from(["ES", "US", "IN", "XX", "NO", ""]),
                "subdivision": st.sampled_from(["NY", "MD", "ZZ"]),
                "dates": st.lists(dates, max_size=3),
            },
        ),
        "overrides": st.dictionaries(dates, st.lists(hours_ranges, max_size=2), max_size=4),
        "business_day": durations,
        "extra": nested,
    },
)
calendar_names = st.sampled_from(["office", "always", "night", "missing"])
targets = st.fixed_dictionaries(
    {"breach_after": durations},
    optional={
        "match": matches,
        "warn_at": st.lists(thresholds, max_size=3),
        "calendar": calendar_names,
    },
)
conditions = st.fixed_dictionaries(
    {"type": st.sampled_from(["ticket_created", "status_change", "attribute_change", "bogus"])},
    optional={"status": match_values, "attributes": matches, "changes": matches},
)
clocks = st.fixed_dictionaries(
    {
        "metric": st.sampled_from(["first_response", "resolution", "workaround", "Bad-Name"]),
        "targets": st.lists(targets, max_size=3),
    },
    optional={
        "start_on": st.lists(conditions, max_size=2),
        "stop_on": st.lists(conditions, max_size=2),
        "pausable": st.booleans(),
        "on_target_change": st.sampled_from(["recompute", "restart", "never"]),
    },
)
policies = st.fixed_dictionaries(
    {
        "name": st.text(max_size=6),
        "calendar": calendar_names,
        "clocks": st.lists(clocks, max_size=2),
    },
    optional={
        "match": matches,
        "pause_statuses": st.lists(st.text(max_size=5), max_size=2),
        "compliance": st.fixed_dictionaries(
            {"target": st.one_of(st.text(max_size=6), st.floats(), st.integers())}
        ),
    },
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "calendars": st.dictionaries(calendar_names, calendars, max_size=3),
        "policies": st.lists(policies, max_size=3),
    },
)

# Raw text: YAML syntax fragments, including what the loader refuses.
fragments = st.sampled_from(
    [
        "&a ",
        "*a ",
        "<<: ",
        "!!str ",
        "!!int ",
        "!!binary ",
        "!!python/object:os.system ",
        "? ",
        "[",
        "]",
        "{",
        "}",
        "- ",
        ": ",
        ", ",
        "\n",
        "\n  ",
        "'",
        '"',
        "#",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "%TAG ! tag:x,2000:\n",
        "|\n  ",
        ">-\n  ",
        "\t",
        "\\",
        "\x00",
        "\ufeff",
        "calendars",
        "policies",
        "timezone",
        "hours",
        "24x7",
        "breach_after",
        "1" * 200,
        "é",
    ]
)
raw_texts = st.lists(st.one_of(fragments, st.text(max_size=5)), max_size=60).map("".join)


# -- the properties --------------------------------------------------------------------


@fuzz
@given(document=nested)
def test_any_nested_structure_of_scalars_is_checked_without_raising(document: Any) -> None:
    assert_checks_cleanly([("fuzz.yaml", dump(document))])


@fuzz
@given(document=documents)
def test_any_policy_shaped_document_is_checked_without_raising(document: Any) -> None:
    assert_checks_cleanly([("fuzz.yaml", dump(document))])


@settings(fuzz, max_examples=max(EXAMPLES // 2, 1))
@given(first=documents, second=documents)
def test_two_files_sharing_calendar_names_are_checked_without_raising(
    first: Any, second: Any
) -> None:
    assert_checks_cleanly([("a.yaml", dump(first)), ("b.yaml", dump(second))])


@fuzz
@given(text=raw_texts)
def test_any_text_is_checked_without_raising(text: str) -> None:
    assert_checks_cleanly([("fuzz.yaml", text)])
