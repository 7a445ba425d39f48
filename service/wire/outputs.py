"""The output events as pydantic models: the SLA events and the dead letters the service
publishes (docs/events.md, "Output events"; docs/worker.md, "Topics").

``service.wire.codec.encode_json`` and ``service.letter`` write them; nothing validates them at
run time, but the tests validate every output of the examples and of the golden scenarios
against them, ``service.report`` reads SLA events back with them, and ``service.schemas``
writes their JSON Schema files.
"""

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
)
from pydantic.json_schema import SkipJsonSchema

from service.wire.inputs import AttributeValue, Id
from service.wire.limits import (
    MAX_DEAD_LETTER_BYTES,
    MAX_DEAD_LETTER_KEY_CHARS,
    MAX_DEAD_LETTER_REASON_CHARS,
)

# -- SLA events ---------------------------------------------------------------------------

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
