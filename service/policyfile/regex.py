"""``{regex: ...}`` match conditions, compiled with RE2 (google-re2).

RE2 guarantees a search in time linear in the text, whatever the pattern, so no policy
can make matching hang (Python's ``re`` takes seconds on ``^(a+)+$`` against 30
characters). The price is RE2's syntax: no backreferences, no lookaround, repeat counts up
to 1000, and ``\\d``, ``\\w``, ``\\b`` and ``\\s`` are ASCII-only.
"""

import re
from typing import Any

import re2

from service.core.errors import SlaTimerError
from service.core.matching import Pattern

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the reason goes into the problem report, not to stderr
_UNANCHORED = re2._Anchor.UNANCHORED
_NOT_FOUND = (-1, -1)

MAX_REPEAT = 1000
"""RE2's largest repeat count in ``{m,n}``."""

# A Python-style repeat: RE2 reads some of them as literal text instead of refusing them.
_REPEAT = re.compile(r"\{(\d*)(,?)(\d*)\}")
_POSIX_CLASS = re.compile(r"\[:\^?[a-z]+:\]")


class InvalidRegex(SlaTimerError):
    """A pattern RE2 refuses, or reads differently from what it seems to say."""


class Re2Pattern:
    """A compiled RE2 pattern as the core's ``Pattern``: ``search`` says found (True) or not
    (None).

    google-re2's public ``search`` builds a match object with offsets decoded back to
    characters, about 2 microseconds per call on top of the search itself; a condition
    only needs to know whether the pattern is found, so ``search`` calls the compiled RE2
    object directly (the package is pinned; tests/policyfile/test_regex.py checks that
    both answer alike).
    """

    __slots__ = ("_match", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._match = compiled._regexp.Match

    def search(self, text: str, /) -> bool | None:
        data = text.encode("utf-8", "surrogatepass")
        return True if self._match(_UNANCHORED, data, 0, len(data))[0] != _NOT_FOUND else None

    def __repr__(self) -> str:
        return f"Re2Pattern({self.pattern!r})"


def compile_regex(pattern: str) -> Pattern:
    """The compiled pattern; raises ``InvalidRegex`` with RE2's reason."""
    _check_repeats(pattern)
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise InvalidRegex(f"RE2 cannot compile it: {text}") from None
    return Re2Pattern(pattern, compiled)


def _check_repeats(pattern: str) -> None:
    """Refuse a repeat RE2 would silently take as literal text: ``a{4294967296}``
    (counts past 1000), ``a{,5}`` (no lower bound) or ``a{01}`` (a leading zero)."""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
        elif char == "[":
            index = _class_end(pattern, index + 1)
        elif char == "{" and (found := _REPEAT.match(pattern, index)):
            low, comma, high = found.groups()
            if low or high:
                _check_counts(found.group(), low, comma, high)
            index = found.end()
        else:
            index += 1


def _class_end(pattern: str, index: int) -> int:
    """Where the character class whose body starts at ``index`` ends (braces in it are text)."""
    index += 1 if pattern.startswith("^", index) else 0
    index += 1 if pattern.startswith("]", index) else 0  # []a] and [^]a] hold a ]
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
        elif found := _POSIX_CLASS.match(pattern, index):
            index = found.end()
        elif pattern[index] == "]":
            return index + 1
        else:
            index += 1
    return index


def _check_counts(text: str, low: str, comma: str, high: str) -> None:
    if not low:
        raise InvalidRegex(f"repeat {text} needs a lower bound for RE2: write {{0{comma}{high}}}")
    for number in (low, high):
        if len(number) > 1 and number.startswith("0"):
            raise InvalidRegex(f"repeat {text}: write its counts without leading zeros")
        if number and (len(number) > 4 or int(number) > MAX_REPEAT):
            raise InvalidRegex(f"repeat {text}: RE2 allows repeat counts up to {MAX_REPEAT}")
