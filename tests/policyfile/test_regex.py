"""The RE2 patterns of match conditions: the fast search answers as google-re2's own."""

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from service.policyfile.regex import compile_regex

PATTERNS = [
    r"(?i)\bC1\b|\bsystem\s*down\b",
    r"^(high|urgent)$",
    r"down",
    r"^$",
    r"",
    r"é+",
    r"\d{2,4}",
    r"(?s)a.b",
    r"^(a+)+$",
    r"[^\x00-\x7f]",
]


@settings(derandomize=True, max_examples=300, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), text=st.text(max_size=40))
def test_the_fast_search_finds_exactly_what_re2_search_finds(pattern: str, text: str) -> None:
    expected = re2.compile(pattern).search(text) is not None
    assert (compile_regex(pattern).search(text) is not None) is expected


def test_a_value_with_a_lone_surrogate_is_searched_without_an_error() -> None:
    assert compile_regex("a").search("\ud800a") is not None
    assert compile_regex("^b").search("\ud800a") is None


def test_a_compiled_pattern_keeps_the_text_it_was_written_as() -> None:
    assert compile_regex(r"(?i)\bC1\b").pattern == r"(?i)\bC1\b"
