"""The gateway's sources file (docs/gateway.md): which helpdesks post to which endpoint, for which
tenant, signed with which secret, and how their statuses and fields map.

Loaded like a policy file: the same safe YAML loader (no anchors, tags or deep nesting;
``MAX_FILE_BYTES``), the shape checked by pydantic, then the meaning; every problem is
reported at once, each naming the file, the source (by name, or ``#n`` from 1) and the
field. Secrets are read from the environment and never printed.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from service.core.durations import parse_duration
from service.core.errors import InvalidSources, SlaTimerError
from service.core.instant import DAY, MINUTE, SECOND
from service.policyfile.yaml_loader import MAX_FILE_BYTES, load_yaml

from .kinds import (
    CUSTOM_FIELD,
    DEFAULT_STATUSES,
    MAX_STATUS_CHARS,
    STANDARD_FIELDS,
    Kind,
    default_attributes,
    normalise_status,
)

MAX_SOURCES = 256
MAX_ATTRIBUTES = 32
"""Most attributes one source maps (the wire allows 64 per event)."""
MAX_AUTHORS = 1000
FRESHNESS_RANGE = (10 * SECOND, DAY)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,63}")  # unreserved URL characters (RFC 3986)
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Text = Annotated[StrictStr, Field(max_length=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZendeskOptions(_Strict):
    freshness: Annotated[StrictStr, Field(max_length=32)] = "5m"


class FreshdeskOptions(_Strict):
    auth: Literal["header", "basic"] = "header"
    header: Text = "X-SLA-Timer-Token"


class SourceEntry(_Strict):
    name: Text
    kind: Kind
    tenant: Text
    secret_env: Text
    statuses: dict[StrictStr | StrictInt, Text] = {}
    attributes: dict[StrictStr, Text | None] = {}
    automated_authors: list[StrictStr | StrictInt] = []
    zendesk: ZendeskOptions | None = None
    freshdesk: FreshdeskOptions | None = None


class SourcesFile(_Strict):
    sources: Annotated[list[Any], Field(min_length=1)]


@dataclass(frozen=True)
class Source:
    """One validated source; ``statuses`` and ``attributes`` have the kind's defaults merged in."""

    name: str
    kind: Kind
    tenant: str
    secret_env: str
    statuses: Mapping[str, str]  # normalised helpdesk status -> SLA Timer status
    attributes: Mapping[str, str]  # attribute -> standard field or custom_field:<key>
    automated_authors: frozenset[str] = frozenset()
    freshness: int = 5 * MINUTE  # zendesk: signature timestamps further off are stale (µs)
    token_auth: Literal["header", "basic"] = "header"  # freshdesk
    token_header: str = "X-SLA-Timer-Token"  # freshdesk


@dataclass(frozen=True)
class Sources:
    sources: tuple[Source, ...]
    secrets: Mapping[str, str] = field(repr=False, default_factory=dict)  # by source name

    def get(self, name: str) -> Source | None:
        return next((source for source in self.sources if source.name == name), None)


def load_sources(path: str | Path, env: Mapping[str, str], with_secrets: bool = True) -> Sources:
    """The validated sources file; ``InvalidSources`` lists every problem. Without
    ``with_secrets`` (``sla-timer import``, which verifies nothing) the secrets are not read."""
    file = Path(path)
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise InvalidSources([f"{file}: cannot read: {error.strerror or error}"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise InvalidSources([f"{file.name}: larger than {MAX_FILE_BYTES:,} bytes; not read"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidSources([f"{file.name}: not UTF-8 (byte {error.start})"]) from None
    sources, problems = check_sources_text(text, env, file.name, with_secrets)
    if problems or sources is None:
        raise InvalidSources(problems)
    return sources


def check_sources_text(
    text: str, env: Mapping[str, str], file: str = "sources.yaml", with_secrets: bool = True
) -> tuple[Sources | None, list[str]]:
    """The sources of one YAML text and every problem; the sources only when there are none."""
    problems: list[str] = []
    try:
        raw = load_yaml(text)
        top = SourcesFile.model_validate(raw if raw is not None else {})
    except yaml.YAMLError as error:
        return None, [f"{file}: not valid YAML: {error}"]
    except ValidationError as error:
        return None, [f"{file}: {where}: {message}" for where, message in _errors(error)]
    if len(top.sources) > MAX_SOURCES:
        return None, [f"{file}: sources: {len(top.sources)} sources, more than {MAX_SOURCES}"]
    built: list[Source] = []
    secrets: dict[str, str] = {}
    seen: set[str] = set()
    for index, entry in enumerate(top.sources):
        report = _Report(problems, f"{file}: source {_label(entry, index)}")
        try:
            spec = SourceEntry.model_validate(entry)
        except ValidationError as error:
            for where, message in _errors(error):
                report(where, message)
            continue
        if spec.name in seen:
            report("name", "already used by an earlier source; names must be unique")
        seen.add(spec.name)
        source = _build(spec, report)
        secret = _secret(spec.secret_env, env if with_secrets else None, report)
        if source is not None and secret is not None and not report.count:
            built.append(source)
            secrets[source.name] = secret
    if problems:
        return None, problems
    return Sources(tuple(built), secrets), []


class _Report:
    """Records the problems of one source, each prefixed with the file and the source."""

    def __init__(self, problems: list[str], prefix: str) -> None:
        self.problems = problems
        self.prefix = prefix
        self.count = 0

    def __call__(self, where: str, message: str) -> None:
        self.problems.append(f"{self.prefix}: {where}: {message}")
        self.count += 1


def _build(spec: SourceEntry, report: _Report) -> Source | None:
    before = report.count
    if not _NAME.fullmatch(spec.name):
        report(
            "name",
            f"{spec.name[:70]!r} is not URL-safe: use 1-64 of A-Z a-z 0-9 . _ ~ -, "
            "starting with a letter or digit",
        )
    if not spec.tenant or _CONTROL.search(spec.tenant) or len(spec.tenant) > 200:
        report("tenant", "use 1-200 characters, no control characters")
    statuses = {**DEFAULT_STATUSES[spec.kind], **_statuses(spec, report)}
    attributes = _attributes(spec, report)
    if len(spec.automated_authors) > MAX_AUTHORS:
        report("automated_authors", f"more than {MAX_AUTHORS} entries")
    freshness = _freshness(spec, report)
    if spec.freshdesk is not None and spec.kind != "freshdesk":
        report("freshdesk", f"only for kind freshdesk, not {spec.kind}")
    freshdesk = spec.freshdesk or FreshdeskOptions()
    if not _HEADER.fullmatch(freshdesk.header):
        report("freshdesk.header", "not a header name: use 1-64 of A-Z a-z 0-9 -")
    if report.count > before:
        return None
    return Source(
        name=spec.name,
        kind=spec.kind,
        tenant=spec.tenant,
        secret_env=spec.secret_env,
        statuses=statuses,
        attributes=attributes,
        automated_authors=frozenset(str(author) for author in spec.automated_authors),
        freshness=freshness,
        token_auth=freshdesk.auth,
        token_header=freshdesk.header,
    )


def _statuses(spec: SourceEntry, report: _Report) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for key, value in spec.statuses.items():
        normal = normalise_status(str(key))
        where = f"statuses.{str(key)[:70]}"
        if not normal:
            report(where, "a status with no letters or digits")
        elif not value.strip() or len(value) > MAX_STATUS_CHARS or _CONTROL.search(value):
            report(where, f"use a status of 1-{MAX_STATUS_CHARS} characters, no control characters")
        else:
            statuses[normal] = value.strip()
    return statuses


def _attributes(spec: SourceEntry, report: _Report) -> dict[str, str]:
    attributes = default_attributes(spec.kind)
    fields = STANDARD_FIELDS[spec.kind]
    for name, value in spec.attributes.items():
        where = f"attributes.{name[:70]}"
        if not _ATTRIBUTE.fullmatch(name):
            report(where, "an attribute name is 1-64 of a-z 0-9 _, starting with a letter")
        elif value is None:
            attributes.pop(name, None)
        elif value.startswith(CUSTOM_FIELD) and value[len(CUSTOM_FIELD) :].strip():
            attributes[name] = CUSTOM_FIELD + value[len(CUSTOM_FIELD) :].strip()
        elif value in fields:
            attributes[name] = value
        else:
            report(
                where,
                f"{value[:70]!r} is not a {spec.kind} field: use one of {', '.join(fields)}, "
                f"or {CUSTOM_FIELD}<id or name>",
            )
    if len(attributes) > MAX_ATTRIBUTES:
        report("attributes", f"{len(attributes)} attributes, more than {MAX_ATTRIBUTES}")
    return attributes


def _freshness(spec: SourceEntry, report: _Report) -> int:
    if spec.zendesk is None:
        return 5 * MINUTE
    if spec.kind != "zendesk":
        report("zendesk", f"only for kind zendesk, not {spec.kind}")
        return 5 * MINUTE
    low, high = FRESHNESS_RANGE
    try:
        micros = parse_duration(spec.zendesk.freshness).resolve(DAY)  # a day is 24 hours here
    except SlaTimerError:
        micros = 0
    if not low <= micros <= high:
        report("zendesk.freshness", "use a duration from 10s to 1d, such as 5m")
    return micros


def _secret(name: str, env: Mapping[str, str] | None, report: _Report) -> str | None:
    """The secret the variable ``name`` holds ("" without ``env``: not read)."""
    if not _ENV.fullmatch(name):
        report("secret_env", f"{name[:70]!r} is not an environment variable name")
        return None
    if env is None:
        return ""
    value = env.get(name)
    if value is None:
        report("secret_env", f"the variable {name} is not set")
        return None
    if not value.strip():
        report("secret_env", f"the variable {name} is empty")
        return None
    return value


def _label(entry: Any, index: int) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return repr(name[:70]) if isinstance(name, str) and name else f"#{index + 1}"


def _errors(error: ValidationError) -> list[tuple[str, str]]:
    """pydantic's errors as (field path, message); a path reads ``statuses.hold`` or
    ``automated_authors[2]``."""
    found = []
    for item in error.errors(include_url=False):
        path = ""
        for part in item["loc"]:
            text = str(part)[:70]
            path += f"[{text}]" if isinstance(part, int) else (f".{text}" if path else text)
        found.append((path or "(top level)", item["msg"]))
    return found
