"""Match conditions of policies and targets (docs/policies.md).

A match maps a fact name (``tenant`` or a ticket attribute) to an allowed value, a list
of allowed values (any of), or ``{regex: ...}`` (searched in the value). Values compare
as text, so ``priority: 1`` in YAML matches the attribute ``"1"`` or ``1``. An empty
match fits every ticket.

The core does not compile regular expressions: the policy loader gives each condition a
compiled ``Pattern`` (RE2, so a search takes time linear in the text).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

Scalar = str | int | float | bool


def as_text(value: Scalar) -> str:
    """The text a value is compared as: ``true``/``false``, ``3`` for ``3.0``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Pattern(Protocol):
    """A compiled regular expression: ``search`` finds it anywhere in a text (or None)."""

    @property
    def pattern(self) -> str:
        """The expression as written."""
        ...

    def search(self, text: str, /) -> object | None: ...


@dataclass(frozen=True, slots=True)
class Condition:
    """One fact's test: a set of allowed values, or a regular expression."""

    key: str
    values: frozenset[str] | None = None
    pattern: Pattern | None = None

    def fits(self, facts: Mapping[str, Scalar]) -> bool:
        value = facts.get(self.key)
        if value is None:
            return False
        text = as_text(value)
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        return self.values is not None and text in self.values

    def implied_by(self, other: "Condition") -> bool:
        """Whether every value ``other`` accepts is accepted here too."""
        if self.pattern is not None:
            return other.pattern is not None and other.pattern.pattern == self.pattern.pattern
        if other.values is not None and self.values is not None:
            return other.values <= self.values
        return False


@dataclass(frozen=True, slots=True)
class Match:
    conditions: tuple[Condition, ...] = ()

    def fits(self, facts: Mapping[str, Scalar]) -> bool:
        for condition in self.conditions:  # noqa: SIM110 (all() over a generator: 2x slower)
            if not condition.fits(facts):
                return False
        return True

    def covers(self, later: "Match") -> bool:
        """Whether every ticket ``later`` fits is already taken by this match.

        Used to refuse unreachable policies and targets: a later entry that an earlier
        one covers can never win.
        """
        by_key = {condition.key: condition for condition in later.conditions}
        return all(
            condition.key in by_key and condition.implied_by(by_key[condition.key])
            for condition in self.conditions
        )

    def describe(self) -> str:
        if not self.conditions:
            return "{} (every ticket)"
        parts = []
        for condition in self.conditions:
            if condition.pattern is not None:
                parts.append(f"{condition.key}~/{condition.pattern.pattern}/")
            else:
                parts.append(f"{condition.key} in {sorted(condition.values or ())}")
        return ", ".join(parts)
