"""The SLA Timer webhook template: one JSON body for helpdesks whose webhooks are
user-written templates (Zendesk triggers and automations, Freshdesk automation rules).

Each trigger or rule posts the same template with a constant ``event`` saying what the
rule watches, and placeholders for the rest (``docs/gateway.md`` gives the text to paste
for each helpdesk)::

    {"sla_timer": 1, "event": "agent_reply", "ticket_id": "...", "status": "...",
     "occurred_at": "...", "created_at": "...", "comment_id": "...",
     "fields": {"priority": "...", "tags": "...", ...}, "custom_fields": {"<key>": "..."}}

Only ``sla_timer``, ``event`` and ``ticket_id`` are required.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import common
from .common import Json
from .outcome import Outcome, Unmappable
from .sources import Source

VERSION = 1
EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "created": ("ticket_created", {}),
    "customer_reply": ("customer_reply", {}),
    "agent_reply": ("agent_reply", {"public": True}),
    "agent_note": ("agent_reply", {"public": False}),
    "automated_reply": ("agent_reply", {"public": True, "automated": True}),
    "status": ("status_change", {}),
    "attributes": ("attribute_change", {}),
}
"""The template's ``event`` values and the input event each becomes."""


@dataclass(frozen=True)
class Delivery:
    """What the adapter knows beyond the body: the id a retry repeats, and the event time
    to use when the template carries none."""

    event_id: str
    fallback_time: str


FieldReader = Callable[[Json], dict[str, Any]]


def map_template(
    body: Json, source: Source, delivery: Delivery, read_fields: FieldReader
) -> Outcome:
    """The input event of one template delivery; ``read_fields`` reads the ``fields``
    object the helpdesk's way (tag separators, label case)."""
    if body.get("sla_timer") != VERSION:
        return Unmappable(f'not an SLA Timer template: no "sla_timer": {VERSION}')
    name = common.text(body.get("event"))
    if name not in EVENTS:
        shown = repr(name[:40]) if name is not None else "missing"
        return Unmappable(f"template event {shown}: use one of {', '.join(EVENTS)}")
    ticket_id = common.ident(body.get("ticket_id"))
    if ticket_id is None:
        return Unmappable("template ticket_id: missing, empty or not an id")
    kind, fields = EVENTS[name]
    occurred_at = common.timestamp(body.get("occurred_at"))
    if kind == "ticket_created":
        occurred_at = occurred_at or common.timestamp(body.get("created_at"))
    event_id = delivery.event_id
    comment = common.delivery_id(common.text(body.get("comment_id")))
    if kind in ("agent_reply", "customer_reply") and comment:
        # Several triggers may post the same comment: its id makes them one event.
        event_id = f"{source.kind}:{ticket_id}:comment:{comment}"
    standard = read_fields(common.obj(body, "fields"))
    custom = common.obj(body, "custom_fields")
    if kind == "ticket_created":
        attributes = common.pick_attributes(source, standard, custom)
        fields = {
            "attributes": attributes,
            "status": common.status(source, body.get("status")) or "new",
        }
    elif kind == "status_change":
        found = common.status(source, body.get("status"))
        if found is None:
            return Unmappable("template event status without a status")
        fields = {"status": found}
    elif kind == "attribute_change":
        fields = {"attributes": common.pick_attributes(source, standard, custom, cleared="")}
        if not fields["attributes"]:
            return common.ignored_kind("attributes (none mapped)")
    at = occurred_at or delivery.fallback_time
    return common.finish([common.event(source, kind, ticket_id, at, event_id, **fields)], name)
