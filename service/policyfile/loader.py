"""Load a directory of policy files into a ``PolicySet``, reporting every problem at once.

Files are read in name order; within a file, policies keep their order (docs/policies.md: the
first policy whose match fits wins). Calendars are shared by name across the files.
Each problem names the file, the policy and the field.

No file can make loading hang or exhaust memory: files are at most ``MAX_FILE_BYTES``,
YAML anchors, aliases, tags and deep nesting are refused before the document is built
(``yaml_loader``), regular expressions are RE2 (``regex``), and targets must fall due
within ``HORIZON_YEARS`` (``build``).
"""

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import yaml
from pydantic import ValidationError

from service.core.calendar import BusinessCalendar
from service.core.errors import InvalidPolicies, SlaTimerError
from service.core.policy import PolicySet

from . import models
from .calendars import build_calendar
from .meaning import Builder, Problems, reference_starts
from .yaml_loader import MAX_FILE_BYTES, load_yaml

MAX_TOTAL_BYTES = 1024 * 1024
"""Most bytes in all the policy files of a directory together."""

MAX_CALENDARS = 64
"""Most calendars in all the files: checking the targets of one takes some 50 ms."""

MAX_POLICIES = 512
"""Most policies in all the files: each is checked against every earlier one."""


def load_policies(directory: str | Path) -> PolicySet:
    """The validated policies of a directory; raises ``InvalidPolicies`` listing all problems."""
    return _valid(check_directory(directory))


def load_policy_text(text: str, name: str = "policies.yaml") -> PolicySet:
    """Policies from one YAML text (tests, examples); raises ``InvalidPolicies``."""
    return _valid(check_sources([(name, text)]))


def _valid(checked: tuple[PolicySet | None, list[str]]) -> PolicySet:
    policies, problems = checked
    if problems or policies is None:
        raise InvalidPolicies(problems)
    return policies


def check_directory(
    directory: str | Path, today: date | None = None
) -> tuple[PolicySet | None, list[str]]:
    """Every problem of a policy directory, and the policies when there are none.

    ``today`` (default: the current UTC date) places the reference starts of the
    reachability check of targets (``build.reference_starts``).
    """
    root = Path(directory)
    if not root.is_dir():
        return None, [f"{root}: not a directory"]
    paths = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not paths:
        return None, [f"{root}: no .yaml or .yml policy files"]
    sources: list[tuple[str, str]] = []
    problems: list[str] = []
    total = 0
    for path in paths:
        if total > MAX_TOTAL_BYTES:
            break  # reported by ``check_sources``
        try:
            with path.open("rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)  # never more, whatever the file holds
            if len(data) > MAX_FILE_BYTES:
                problems.append(
                    f"{path.name}: larger than {MAX_FILE_BYTES:,} bytes, the most a policy "
                    "file may hold; not read"
                )
                continue
            sources.append((path.name, data.decode("utf-8")))
            total += len(data)
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path.name}: cannot read: {error}")
    if not problems:
        return check_sources(sources, today)
    return None, problems + (check_sources(sources, today)[1] if sources else [])


def check_sources(
    sources: list[tuple[str, str]], today: date | None = None
) -> tuple[PolicySet | None, list[str]]:
    """Like ``check_directory`` for (file name, YAML text) pairs, in precedence order."""
    problems = Problems()
    total = sum(len(text.encode("utf-8", errors="surrogatepass")) for _, text in sources)
    if total > MAX_TOTAL_BYTES:
        return None, [
            f"the policy files hold more than {MAX_TOTAL_BYTES:,} bytes in all; not checked"
        ]
    files = [(name, parsed) for name, text in sources if (parsed := _parse(name, text, problems))]
    too_many = [
        f"{count} {what} in the policy files, more than the {limit} allowed; "
        "their meaning is not checked"
        for what, count, limit in (
            ("calendars", sum(len(parsed.calendars) for _, parsed in files), MAX_CALENDARS),
            ("policies", sum(len(parsed.policies) for _, parsed in files), MAX_POLICIES),
        )
        if count > limit
    ]
    if too_many:
        return None, problems.items + too_many
    calendars = _calendars(files, problems)
    starts = reference_starts(today or datetime.now(UTC).date())
    defined = {name for _, parsed in files for name in parsed.calendars}
    builder = Builder(calendars, problems, starts, frozenset(defined - set(calendars)))
    for name, parsed in files:
        for index, policy in enumerate(parsed.policies):
            builder.add_policy(name, index, policy, version=_version(policy, parsed, files))
    builder.check_reachability()
    if problems.items:
        return None, problems.items
    if not builder.policies:
        return None, ["the files define no policies"]
    return PolicySet(tuple(builder.policies), calendars), []


def _parse(name: str, text: str, problems: Problems) -> models.PolicyFile | None:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as error:
        problems.add(name, None, "", f"not valid YAML: {error}")
        return None
    try:
        top = models.PolicyFileEntries.model_validate(raw or {})
    except ValidationError as error:
        _report(error, name, None, "", problems)
        return None
    calendars = {}
    for key, entry in top.calendars.items():
        try:
            calendars[key] = models.Calendar.model_validate(entry)
        except ValidationError as error:
            _report(error, name, None, f"calendars.{key}", problems)
    policies = []
    for index, entry in enumerate(top.policies):
        label = (
            str(entry.get("name", f"#{index + 1}")) if isinstance(entry, dict) else f"#{index + 1}"
        )
        try:
            policies.append(models.Policy.model_validate(entry))
        except ValidationError as error:
            _report(error, name, label, "", problems)
    # Entries with shape errors are left out, so meaning checks still run on the rest.
    return models.PolicyFile(calendars=calendars, policies=policies)


def _report(
    error: ValidationError, file: str, policy: str | None, prefix: str, problems: Problems
) -> None:
    for item in error.errors(include_url=False):
        path = prefix
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        problems.add(file, policy, path, item["msg"])


def _calendars(
    files: list[tuple[str, models.PolicyFile]], problems: Problems
) -> dict[str, BusinessCalendar]:
    calendars: dict[str, BusinessCalendar] = {}
    for file_name, parsed in files:
        for name, spec in parsed.calendars.items():
            if name in calendars:
                problems.add(file_name, None, f"calendars.{name}", "calendar defined twice")
                continue
            try:
                calendars[name] = build_calendar(name, spec)
            except SlaTimerError as error:
                for message in str(error).split("\n"):
                    problems.add(file_name, None, f"calendars.{name}", message)
    return calendars


def _version(
    policy: models.Policy, parsed: models.PolicyFile, files: list[tuple[str, models.PolicyFile]]
) -> str:
    """A hash of the policy's resolved content: itself and every calendar it uses."""
    used = {policy.calendar} | {t.calendar for c in policy.clocks for t in c.targets if t.calendar}
    calendars = {
        name: spec.model_dump(mode="json")
        for _, other in files
        for name, spec in other.calendars.items()
        if name in used
    }
    content = json.dumps(
        {"policy": policy.model_dump(mode="json"), "calendars": calendars}, sort_keys=True
    )
    return hashlib.sha256(content.encode()).hexdigest()[:12]
