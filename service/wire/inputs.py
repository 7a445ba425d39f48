"""The input events as pydantic models: what helpdesks (or the gateway) publish on the input
topics (docs/events.md, "Input events").

``service.wire.codec.decode`` validates every message with them, then turns it into the
core's ``TicketEvent``; ``service.schemas`` writes their JSON Schema files.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from service.wire.limits import (
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTE_TEXT_CHARS,
    MAX_ATTRIBUTES,
    MAX_ATTRIBUTES_BYTES,
    MAX_SAFE_INTEGER,
    RFC3339,
)

Id = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=200,
        # Control characters would make the worker's table key (tenant U+001F ticket_id)
        # ambiguous; nothing else is restricted.
        pattern=r"^[^\x00-\x1f\x7f]*$",
    ),
]
# NaN and Infinity are not JSON (RFC 8259), though pydantic's parser reads them: refuse them.
# The bounds of text and integers are checked by ``decode`` (``_check_attributes``), not by
# pydantic: an integer over a bound would quietly validate as the float member instead. The
# schema keywords here only document them in the JSON Schema files.
AttributeValue = (
    Annotated[StrictStr, Field(json_schema_extra={"maxLength": MAX_ATTRIBUTE_TEXT_CHARS})]
    | StrictBool
    | Annotated[
        StrictInt,
        Field(json_schema_extra={"minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}),
    ]
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
)


# Descriptions and ``json_schema_extra`` only document the wire in the JSON Schema files
# (``service.schemas``); they change nothing in validation. ``occurred_at`` is checked by
# ``parse_timestamp``, after the model, so its reason stays distinct; the schema's pattern
# mirrors ``RFC3339``.
_Type = Field(description="The event type; selects the other fields.")
_Attributes = "Ticket attributes that policies match on (priority, tier, category, ...)"
_Limits = (
    f"At most {MAX_ATTRIBUTES} keys of at most {MAX_ATTRIBUTE_KEY_CHARS} characters, text "
    f"values of at most {MAX_ATTRIBUTE_TEXT_CHARS} characters, integers within ±(2^53 - 1), "
    f"and at most {MAX_ATTRIBUTES_BYTES} bytes as compact JSON (UTF-8)."
)
_AttributesSchema = {
    "maxProperties": MAX_ATTRIBUTES,
    "propertyNames": {"maxLength": MAX_ATTRIBUTE_KEY_CHARS},
}
_Status = Annotated[StrictStr, Field(min_length=1)]


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    event_id: Annotated[
        Id,
        Field(description="Unique per event; an event whose id was seen before changes nothing."),
    ]
    ticket_id: Annotated[
        Id, Field(description="The helpdesk's ticket id; also the Kafka message key.")
    ]
    tenant: Annotated[
        Id, Field(description="The helpdesk account; tickets are keyed by (tenant, ticket_id).")
    ] = "default"
    occurred_at: Annotated[
        StrictStr,
        Field(
            description=(
                "When it happened in the helpdesk (event time): an RFC 3339 timestamp with a "
                "UTC offset (Z or +hh:mm); fractions of a second are kept to the microsecond. "
                "From 1970-01-01T00:00:00Z up to, not including, 2200-01-01T00:00:00Z."
            ),
            json_schema_extra={"format": "date-time", "pattern": f"^{RFC3339.pattern}$"},
        ),
    ]


class TicketCreated(_Common):
    """A ticket exists: its first response and resolution clocks start."""

    type: Annotated[Literal["ticket_created"], _Type]
    attributes: Annotated[
        dict[StrictStr, AttributeValue],
        Field(description=f"{_Attributes}. {_Limits}", json_schema_extra=_AttributesSchema),
    ] = {}
    status: Annotated[_Status, Field(description="The ticket's initial status.")] = "new"


class FirstResponse(_Common):
    """The helpdesk says the first agent reply was sent."""

    type: Annotated[Literal["first_response"], _Type]
    automated: Annotated[
        StrictBool, Field(description="Sent by automation: it never stops a response clock.")
    ] = False


class AgentReply(_Common):
    """An agent replied; a public, non-automated reply answers the customer."""

    type: Annotated[Literal["agent_reply"], _Type]
    public: Annotated[
        StrictBool, Field(description="Visible to the customer (false: an internal note).")
    ] = True
    automated: Annotated[
        StrictBool, Field(description="Sent by automation: it never stops a response clock.")
    ] = False


class CustomerReply(_Common):
    """The customer wrote."""

    type: Annotated[Literal["customer_reply"], _Type]


class StatusChange(_Common):
    """The ticket's new status; the policy says which statuses pause and which resolve."""

    type: Annotated[Literal["status_change"], _Type]
    status: Annotated[_Status, Field(description="The new status, e.g. pending or solved.")]
    reason: Annotated[
        StrictStr | None, Field(description="Why, as the helpdesk says; custom clocks can test it.")
    ] = None


class AttributeChange(_Common):
    """Attributes set or changed, merged into the ticket's (e.g. a priority downgrade)."""

    type: Annotated[Literal["attribute_change"], _Type]
    attributes: Annotated[
        dict[StrictStr, AttributeValue],
        Field(
            description=(
                f"{_Attributes}: only those that change; merged into the ticket's. {_Limits}"
            ),
            json_schema_extra=_AttributesSchema,
        ),
    ]


InputEvent = Annotated[
    TicketCreated | FirstResponse | AgentReply | CustomerReply | StatusChange | AttributeChange,
    Field(discriminator="type"),
]
