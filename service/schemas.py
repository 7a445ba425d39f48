"""The wire contract as JSON Schema files (docs/events.md, docs/policies.md).

``python -m service.schemas`` writes them.

The schemas are generated from the pydantic models that validate the wire: the input
events of ``service.wire``, the policy file shape of ``service.policyfile.models``, and the
models below for what the service writes (SLA events and dead letters), which nothing
validates at run time; the tests validate every output of the examples and of the golden
scenarios against them. ``schemas/`` holds the generated files; a test keeps them equal to
``generate()``.
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
)
from pydantic.json_schema import SkipJsonSchema

from service.policyfile.models import PolicyFile
from service.wire import (
    MAX_DEAD_LETTER_BYTES,
    MAX_DEAD_LETTER_KEY_CHARS,
    MAX_DEAD_LETTER_REASON_CHARS,
    AgentReply,
    AttributeChange,
    AttributeValue,
    CustomerReply,
    FirstResponse,
    Id,
    InputEvent,
    StatusChange,
    TicketCreated,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://sla-timer.invalid/schemas/"

# -- output events (docs/events.md) ----------------------------------------------------

UTC_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$"
UtcTimestamp = Annotated[
    StrictStr, Field(pattern=UTC_TIMESTAMP, json_schema_extra={"format": "date-time"})
]
"""RFC 3339 in UTC as the service writes it: ``Z``, microseconds only when there are any."""
SlaEventId = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")]
"""A BLAKE2b-128 hex digest (``service.core.events.sla_event_id``)."""
Seconds = Annotated[StrictInt, Field(ge=0)] | Annotated[StrictFloat, Field(ge=0)]
"""Business seconds: an integer when whole, else a decimal."""

# The nine output types of docs/events.md; each is the type of exactly one variant below (a
# test checks both against the engine's ``SlaEventType``).
WireSlaEventType = Literal[
    "sla.started",
    "sla.paused",
    "sla.resumed",
    "sla.warning",
    "sla.breach",
    "sla.met",
    "sla.stopped",
    "sla.cancelled",
    "sla.retracted",
]
ClockEventType = Literal[
    "sla.started",
    "sla.paused",
    "sla.resumed",
    "sla.breach",
    "sla.met",
    "sla.stopped",
    "sla.cancelled",
]


class _SlaEventFields(BaseModel):
    """The fields every SLA event carries; closed, so a field the encoder adds without a
    schema change fails the tests."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    event_id: Annotated[
        SlaEventId,
        Field(
            description=(
                "Deterministic: BLAKE2b-128 of tenant, ticket, metric, cycle, type and what makes "
                "the event unique (the threshold of a warning; the causing event of a met, "
                "stopped, cancelled, paused or resumed; the retracted id of a retraction). The "
                "same input always yields the same id: consumers drop duplicates by it."
            )
        ),
    ]
    tenant: Annotated[Id, Field(description="The helpdesk account of the ticket.")]
    ticket_id: Annotated[Id, Field(description="The helpdesk's ticket id; also the message key.")]
    policy: Annotated[
        StrictStr, Field(min_length=1, description="The policy whose rule governs the cycle.")
    ]
    policy_version: Annotated[
        StrictStr,
        Field(
            pattern=r"^[0-9a-f]{12}$",
            description=(
                "The first 12 hex digits of a SHA-256 of the policy's resolved content (the "
                "policy and every calendar it uses)."
            ),
        ),
    ]
    metric: Annotated[
        StrictStr,
        Field(
            min_length=1,
            description=(
                "The clock: first_response, next_response, periodic_update, resolution or a "
                "custom metric of the policy."
            ),
        ),
    ]
    cycle: Annotated[
        StrictInt, Field(ge=1, description="The clock's cycle number, from 1 per ticket.")
    ]
    calendar: Annotated[
        StrictStr,
        Field(min_length=1, description="The business-hours calendar the cycle counts in."),
    ]
    target_seconds: Annotated[
        Seconds, Field(description="The cycle's target (breach_after) in business seconds.")
    ]
    deadline: Annotated[
        UtcTimestamp | None,
        Field(
            description=(
                "When the cycle breaches, RFC 3339 UTC; null while paused; the breach instant "
                "once breached."
            )
        ),
    ]
    occurred_at: Annotated[
        UtcTimestamp,
        Field(
            description=(
                "The instant the event is about: the deadline for a breach, the threshold "
                "instant for a warning, the causing event's time for started, paused, resumed, "
                "met, stopped and cancelled, the late event's time for a retraction (or the "
                "restart's, when a policy change caused it)."
            )
        ),
    ]
    elapsed_business_seconds: Annotated[
        Seconds,
        Field(
            description=(
                "Business seconds the cycle had counted at occurred_at (a retraction repeats "
                "the retracted event's value)."
            )
        ),
    ]
    attributes: Annotated[
        dict[StrictStr, AttributeValue],
        Field(description="The ticket's attributes at occurred_at."),
    ]
    caused_by: Annotated[
        Id | None,
        Field(
            description=(
                "The input event_id that caused it. Always null on warnings and breaches (they "
                "come from the clock, even when an event made them due at once), and on a "
                "retraction no input event caused (a policy change found on restart)."
            )
        ),
    ]
    compliance_excluded: Annotated[
        StrictBool,
        Field(
            description=(
                "True when the policy's compliance.exclude matches the ticket as known when the "
                "event is emitted; compliance counts each cycle by its last event."
            )
        ),
    ]
    emitted_at: Annotated[
        UtcTimestamp,
        Field(description="Wall clock when published, RFC 3339 UTC (replay: equals occurred_at)."),
    ]


class SlaClockEvent(_SlaEventFields):
    """A cycle started, paused, resumed, breached, or stopped: met (at or before its
    deadline), stopped (after a breach) or cancelled (no longer applies; not counted)."""

    type: Annotated[ClockEventType, Field(description="What happened to the cycle.")]


class SlaWarningEvent(_SlaEventFields):
    """A warn_at threshold of the cycle's target was reached (once per cycle and target)."""

    type: Annotated[Literal["sla.warning"], Field(description="A warning.")]
    threshold: Annotated[
        StrictStr,
        Field(
            min_length=1,
            description="The warn_at entry as written in the policy: 75%, 8h or -30m.",
        ),
    ]


class SlaRetractionEvent(_SlaEventFields):
    """A late event disproved an event published before (e.g. a breach, when a reply
    before the deadline arrives late). Its other fields repeat the retracted event's, except
    event_id, type, occurred_at, caused_by and attributes."""

    type: Annotated[Literal["sla.retracted"], Field(description="A retraction.")]
    retracted_event_id: Annotated[
        SlaEventId, Field(description="The event_id of the event this one retracts.")
    ]


class SlaEventWire(
    RootModel[
        Annotated[SlaClockEvent | SlaWarningEvent | SlaRetractionEvent, Field(discriminator="type")]
    ]
):
    """One SLA event as published on the sla-events topic (and, by type, sla-warnings and
    sla-breaches); key = ticket id. threshold is present only on sla.warning and
    retracted_event_id only on sla.retracted."""


# -- dead letters -------------------------------------------------------------------------


def _no_default(schema: dict[str, Any]) -> None:
    """An optional field that is absent, not null, when unset: no ``default: null``."""
    schema.pop("default", None)


class DeadLetterWire(BaseModel):
    """An invalid input message (or one whose processing failed) on the dead-letter topic
    ticket-events-dlq, keyed by the input message's key."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    reason: Annotated[
        StrictStr,
        Field(
            min_length=1,
            description=(
                "What is wrong, e.g. \"occurred_at: '2026-01-13T09:30:00' is not an RFC 3339 "
                'timestamp with an offset ...", or "internal error: <exception>"; at most '
                f"{MAX_DEAD_LETTER_REASON_CHARS} characters (cut with ...)."
            ),
        ),
    ]
    original: Annotated[
        StrictStr,
        Field(
            description=(
                "The message value as text (UTF-8; undecodable bytes as U+FFFD); empty for a "
                "tombstone; with `truncated`, the longest prefix that fits."
            )
        ),
    ]
    topic: Annotated[StrictStr, Field(min_length=1, description="The input topic.")]
    partition: Annotated[StrictInt, Field(ge=0, description="The input partition.")]
    offset: Annotated[StrictInt, Field(ge=0, description="The message's offset there.")]
    key: Annotated[
        StrictStr | None,
        Field(
            description=(
                "The message key as text (undecodable bytes as U+FFFD), at most "
                f"{MAX_DEAD_LETTER_KEY_CHARS} characters (cut with ...); null if none."
            )
        ),
    ]
    failed_at: Annotated[
        UtcTimestamp, Field(description="Wall clock when it was dead-lettered, RFC 3339 UTC.")
    ]
    # Present only when the body would pass MAX_DEAD_LETTER_BYTES with the whole message
    # (service.worker.deadletter builds the body); absent, never null, otherwise.
    truncated: Annotated[
        Literal[True] | SkipJsonSchema[None],
        Field(
            description=(
                f"Present (true) only when the body would have passed {MAX_DEAD_LETTER_BYTES} "
                "bytes: `original` is then the longest prefix of the text that fits."
            ),
            json_schema_extra=_no_default,
        ),
    ] = None
    original_bytes: Annotated[
        Annotated[StrictInt, Field(ge=0)] | SkipJsonSchema[None],
        Field(
            description="With `truncated`: the size of the whole message value, in bytes.",
            json_schema_extra=_no_default,
        ),
    ] = None
    original_sha256: Annotated[
        Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")] | SkipJsonSchema[None],
        Field(
            description="With `truncated`: the SHA-256 of the whole message value, hex.",
            json_schema_extra=_no_default,
        ),
    ] = None


# -- the files ------------------------------------------------------------------------------

INPUT_MODELS: dict[str, type[BaseModel]] = {
    "ticket_created": TicketCreated,
    "first_response": FirstResponse,
    "agent_reply": AgentReply,
    "customer_reply": CustomerReply,
    "status_change": StatusChange,
    "attribute_change": AttributeChange,
}
"""Input event type -> the model of ``input/<type>.json``."""

_INPUT_NOTE = (
    "JSON, UTF-8 (a leading byte-order mark is ignored), at most 64 KiB (a limit this schema "
    "cannot state); one event per Kafka message, key = ticket id. Unknown fields are ignored."
)

# Field descriptions of the policy file shape, kept here: the models say what is accepted,
# this says what it means (docs/policies.md). Every key must name a real property.
_POLICY_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "PolicyFile": {
        "calendars": "Business-hours calendars by name, shared across the directory's files.",
        "policies": "Policies in precedence order: the first whose match fits a ticket wins "
        "(file order, then file name order).",
    },
    "Calendar": {
        "timezone": "IANA time zone name, e.g. America/New_York.",
        "hours": "24x7, or local wall-clock ranges by day: keys mon..sun, ranges (mon-fri) or "
        'lists (mon,wed,fri); values like ["09:00-17:00"], half-open; a range may end at '
        "24:00 or run past midnight (22:00-06:00); days not listed are closed.",
        "holidays": "Closed days: national holidays of the holidays package and extra dates.",
        "overrides": "Hours that replace the weekly ones on one local date (YYYY-MM-DD); an "
        "empty list closes the day; an override wins over a holiday.",
        "business_day": 'What "1d" means in this calendar (a duration, e.g. 8h); default: the '
        "most common open-day length.",
    },
    "Holidays": {
        "country": "ISO 3166 country code of the holidays package, e.g. US.",
        "subdivision": "Optional subdivision of the country, e.g. NY.",
        "dates": "Extra closed local dates, YYYY-MM-DD.",
    },
    "Policy": {
        "name": "Unique policy name; SLA events carry it.",
        "match": "Which tickets the policy applies to; absent or {} matches every ticket.",
        "calendar": "Name of the calendar the policy's clocks count in.",
        "pause_statuses": "Statuses in which pausable clocks stop counting.",
        "resolved_statuses": "Statuses that resolve the ticket.",
        "compliance": "The attainment objective, per calendar month.",
        "clocks": "The SLA clocks of the policy, one per metric.",
    },
    "Clock": {
        "metric": "first_response, next_response, periodic_update, resolution, or a custom "
        "name (which then needs start_on and stop_on).",
        "pausable": "Whether the clock stops counting in pause_statuses.",
        "on_target_change": "recompute: keep the cycle's start and elapsed time and apply the "
        "new target; restart: start a fresh cycle at the change.",
        "on_reopen": "resume: continue the resolution cycle; new_cycle: start a new one.",
        "targets": "The first target whose match fits the ticket wins.",
        "start_on": "Custom clocks: the events that start a cycle.",
        "stop_on": "Custom clocks: the events that stop a cycle.",
    },
    "Target": {
        "match": "Which tickets the target applies to; absent or {} matches every ticket.",
        "breach_after": "Business time to the deadline: 30s, 15m, 4h, 2d (business days of the "
        "calendar), combined largest unit first (1d4h).",
        "warn_at": "Warning thresholds: elapsed time (8h), share of the target (75%) or lead "
        "time before the deadline (-30m).",
        "calendar": "A calendar for this target instead of the policy's.",
    },
    "EventCondition": {
        "type": "The input event type, or a list of them.",
        "status": "The event's status (a match value).",
        "reason": "The event's reason (a match value).",
        "public": "The event's public flag.",
        "automated": "The event's automated flag.",
        "attributes": "The ticket's attributes after the event.",
        "changes": "The attributes the event itself sets.",
    },
    "Compliance": {
        "target": "Attainment objective: a percentage (99.2%) or a share (0.992).",
        "period": "Attainment is counted per calendar month in the policy calendar's zone.",
        "exclude": "Matches of tickets that do not count towards attainment.",
    },
    "Regex": {"regex": "A regular expression searched in the attribute's text."},
}


def generate() -> dict[str, dict[str, Any]]:
    """File name (relative to ``schemas/``) -> JSON Schema, for every wire format."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, model in INPUT_MODELS.items():
        schemas[f"input/{name}.json"] = _document(
            f"input/{name}.json",
            model.model_json_schema(),
            f"{name} input event",
            f"{_describe(model)} {_INPUT_NOTE}",
        )
    schemas["input/event.json"] = _document(
        "input/event.json",
        TypeAdapter(InputEvent).json_schema(),
        "Input event",
        "Any helpdesk event on the input topics; the type field selects the variant. "
        f"{_INPUT_NOTE} An invalid event goes to the dead-letter topic.",
    )
    schemas["output/sla_event.json"] = _document(
        "output/sla_event.json",
        SlaEventWire.model_json_schema(),
        "SLA event",
        _describe(SlaEventWire),
    )
    schemas["output/dead_letter.json"] = _document(
        "output/dead_letter.json",
        DeadLetterWire.model_json_schema(),
        "Dead letter",
        _describe(DeadLetterWire),
    )
    policy = PolicyFile.model_json_schema()
    _add_descriptions(policy, _POLICY_DESCRIPTIONS)
    schemas["policy-file.json"] = _document(
        "policy-file.json",
        policy,
        "SLA Timer policy file",
        "One YAML file of a policy directory, as parsed (only true/false are booleans, dates "
        "stay text). This schema checks the shape only; durations, thresholds, time zones, "
        "day names and ranges, calendar names, holiday countries, regexes and reachability "
        "are checked by `sla-timer policies check DIR`.",
    )
    return schemas


def render(schema: dict[str, Any]) -> str:
    """The text of a schema file: sorted keys, two-space indent, a trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(root: Path) -> list[Path]:
    """Write every schema under ``root``, removing schema files no longer generated
    (``examples/`` is left alone). Returns the files written."""
    schemas = generate()
    written = []
    for name, schema in schemas.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    for path in root.rglob("*.json"):
        relative = path.relative_to(root)
        if relative.parts[0] != "examples" and relative.as_posix() not in schemas:
            path.unlink()
    return written


def _document(name: str, schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": BASE_ID + name,
        **schema,
        "title": title,
        "description": description,
    }


def _describe(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _add_descriptions(schema: dict[str, Any], descriptions: dict[str, dict[str, str]]) -> None:
    definitions = schema.get("$defs", {})
    for model, fields in descriptions.items():
        target = schema if schema.get("title") == model else definitions[model]
        for field, text in fields.items():
            target["properties"][field]["description"] = text


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "schemas")
    for path in write(root):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
