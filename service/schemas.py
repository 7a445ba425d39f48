"""The wire contract as JSON Schema files (docs/events.md, docs/policies.md).

``python -m service.schemas`` writes them.

The schemas are generated from the pydantic models of the wire, which live where they are
used: the input events (``service.wire.inputs``, which ``decode`` validates with), the SLA
events and dead letters the service writes (``service.wire.outputs``, which the tests
validate every output of the examples and of the golden scenarios against) and the policy
file shape (``service.policyfile.models``). This module only names the files and adds the
titles and descriptions of the documents. ``schemas/`` holds the generated files; a test keeps
them equal to ``generate()``.
"""

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from service.policyfile.models import PolicyFile
from service.wire import (
    AgentReply,
    AttributeChange,
    CustomerReply,
    DeadLetterWire,
    FirstResponse,
    InputEvent,
    SlaEventWire,
    StatusChange,
    TicketCreated,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://sla-timer.invalid/schemas/"

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
