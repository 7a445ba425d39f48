"""Zendesk: event-subscribed webhooks (``zen:event-type:ticket.*``) and trigger or
automation webhooks posting the SLA Timer template (``template``).

Signature: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp + body))
with the ``X-Zendesk-Webhook-Signature-Timestamp`` header's text as written, no separator
(Zendesk's "Verifying webhook authenticity"); a timestamp further than the source's
``freshness`` from the time of receipt is stale. ``signed_headers`` signs as Zendesk does,
for whatever posts as Zendesk (the demo, tests, benchmarks).
"""

import base64
from collections.abc import Callable, Mapping
from typing import Any

from service.core.instant import Instant, format_instant

from . import common, template
from .common import Json
from .outcome import Outcome, Unauthorized, Unmappable
from .signatures import check_base64, mac
from .sources import Source

SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION = "x-zendesk-webhook-invocation-id"
PREFIX = "zen:event-type:ticket."

# Event types that change one standard field: (field, how the new value reads).
_FIELD_CHANGES = {
    "priority_changed": "priority",
    "type_changed": "type",
    "group_assignment_changed": "group",
    "brand_changed": "brand",
    "form_changed": "form",
    "organization_changed": "organization",
    "subject_changed": "subject",
    "tags_changed": "tags",
}
# Event types that end a ticket's life: the helpdesk's word, mapped as a status.
_GONE = {
    "merged": "merged",
    "soft_deleted": "deleted",
    "permanently_deleted": "deleted",
    "marked_as_spam": "spam",
}


def sign_zendesk(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Zendesk-Webhook-Signature`` of ``body`` sent with ``timestamp`` (the timestamp
    header's text), as Zendesk computes it and ``adapt`` checks it."""
    return base64.b64encode(mac(secret, _signed(timestamp, body), "sha256")).decode("ascii")


def signed_headers(secret: str, timestamp: str, body: bytes) -> dict[str, str]:
    """The two headers Zendesk signs a delivery of ``body`` with at ``timestamp``."""
    return {SIGNATURE: sign_zendesk(secret, timestamp, body), TIMESTAMP: timestamp}


def _signed(timestamp: str, body: bytes) -> bytes:
    """The signed bytes: the timestamp header's text as written, then the body."""
    return timestamp.encode("utf-8", "surrogatepass") + body


def adapt(
    headers: Mapping[str, str], body: bytes, source: Source, secret: str, now: Instant
) -> Outcome:
    lowered = common.lower_headers(headers)
    stamp = lowered.get(TIMESTAMP.lower())
    if not stamp:
        return Unauthorized(f"missing {TIMESTAMP} header")
    signed = _signed(stamp, body)
    problem = check_base64(SIGNATURE, lowered.get(SIGNATURE.lower()), secret, signed, "sha256")
    if problem:
        return Unauthorized(problem)
    signed_at = common.instant(stamp)
    if signed_at is None:
        return Unauthorized(f"{TIMESTAMP} is not an ISO 8601 time")
    if abs(now - signed_at) > source.freshness:
        return Unauthorized(f"{TIMESTAMP} is stale: more than the freshness window from now")
    parsed = common.parse_object(body)
    if isinstance(parsed, str):
        return Unmappable(parsed)
    if "sla_timer" in parsed:
        invocation = common.delivery_id(lowered.get(INVOCATION))
        delivery = template.Delivery(
            f"zendesk:invocation:{invocation}" if invocation else f"zendesk:{common.digest(body)}",
            format_instant(signed_at),
        )
        return template.map_template(parsed, source, delivery, _template_fields)
    return _map_event(parsed, source, body, now)


def _map_event(parsed: Json, source: Source, body: bytes, now: Instant) -> Outcome:
    kind = common.text(parsed.get("type")) or ""
    if not kind.startswith(PREFIX):
        return common.ignored_kind(kind)
    name = kind[len(PREFIX) :]
    detail, change = common.obj(parsed, "detail"), common.obj(parsed, "event")
    subject = common.text(parsed.get("subject")) or ""
    prefix, _, from_subject = subject.rpartition(":")
    from_subject = from_subject if prefix == "zen:ticket" else ""  # "zen:ticket:<id>" only
    ticket_id = common.ident(detail.get("id")) or common.ident(from_subject)
    if ticket_id is None:
        return Unmappable(f"{kind}: no ticket id in detail.id or subject")
    own_id = common.delivery_id(common.text(parsed.get("id")))
    event_id = f"zendesk:{own_id}" if own_id else f"zendesk:{common.digest(body)}"
    at = common.timestamp(parsed.get("time")) or common.received(now)

    def one(event_type: str, **fields: Any) -> Outcome:
        made = common.event(source, event_type, ticket_id, at, event_id, **fields)
        return common.finish([made], kind)

    if name == "created":
        attributes = common.pick_attributes(source, detail_fields(detail), _NO_CUSTOM)
        return one("ticket_created", attributes=attributes,
                   status=common.status(source, detail.get("status")) or "new")  # fmt: skip
    if name == "comment_added":
        return _comment(change, detail, source, kind, one)
    if name in ("status_changed", "undeleted"):
        found = common.status(source, change.get("current", detail.get("status")))
        if found is None:
            return Unmappable(f"{kind}: no status in event.current or detail.status")
        return one(
            "status_change", status=found, reason="undeleted" if name == "undeleted" else None
        )
    if name == "custom_status_changed":
        key = common.status_key(change.get("current"))
        if key not in source.statuses:  # only custom statuses the source maps
            return common.ignored_kind(kind)
        return one("status_change", status=source.statuses[key])
    if name in _GONE:
        word = _GONE[name]
        return one("status_change", status=common.status(source, word) or word, reason=word)
    if name in _FIELD_CHANGES:  # a field changed: an attribute change if the source maps it
        field = _FIELD_CHANGES[name]
        value = detail_fields(detail).get(field) if field == "tags" else _read(field, change)
        attributes = common.pick_attributes(source, {field: value}, _NO_CUSTOM, cleared="")
    elif name == "custom_field_changed":
        about = common.obj(change, "custom_field")
        keys = (common.text(about.get("id")), common.text(about.get("title")))
        custom = {key: change.get("current") for key in keys if key}
        attributes = common.pick_attributes(source, {}, custom, cleared="")
    else:
        attributes = {}
    if attributes:  # a field the source maps changed
        return one("attribute_change", attributes=attributes)
    return common.ignored_kind(kind)


_NO_CUSTOM: Mapping[str, Any] = {}


def _comment(
    change: Json, detail: Json, source: Source, kind: str, one: Callable[..., Outcome]
) -> Outcome:
    comment = common.obj(change, "comment")
    author = common.obj(comment, "author")
    is_staff = author.get("is_staff")
    if not isinstance(is_staff, bool):
        return Unmappable(f"{kind}: event.comment.author.is_staff is not true or false")
    created, updated = detail.get("created_at"), detail.get("updated_at")
    if isinstance(created, str) and created == updated:
        # The comment that opened the ticket (its description), written by whoever created
        # it: not a reply, or an agent logging a call would answer the customer at once.
        return common.ignored_kind(f"{kind} (the ticket's opening comment)")
    if not is_staff:
        return one("customer_reply")
    automated = common.text(author.get("id")) in source.automated_authors
    return one("agent_reply", public=comment.get("is_public") is True, automated=automated)


def _read(field: str, change: Json) -> Any:
    """The new value of a one-field change event, read as ``detail_fields`` reads it."""
    value = change.get("current")
    if field in ("priority", "type"):
        return common.lower(value) if value is not None else None
    return common.text(value) if value is not None else None


def detail_fields(detail: Json) -> dict[str, Any]:
    """The standard fields of a ticket snapshot (``detail``); empty ids count as absent."""
    raw = {
        "priority": common.lower(detail.get("priority")),
        "type": common.lower(detail.get("type")),
        "group": common.ident(detail.get("group_id")),
        "brand": common.ident(detail.get("brand_id")),
        "form": common.ident(detail.get("form_id")),
        "organization": common.ident(detail.get("organization_id")),
        "subject": common.text(detail.get("subject")),
        "channel": common.lower(common.obj(detail, "via").get("channel")),
    }
    tags = detail.get("tags")
    if isinstance(tags, list):
        raw["tags"] = common.tags_value(tags)
    return {field: value for field, value in raw.items() if value not in (None, "")}


def _template_fields(fields: Json) -> dict[str, Any]:
    """The template's ``fields`` as Zendesk placeholders render them: ``{{ticket.tags}}``
    space-separated, priority and type capitalised."""
    read: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("priority", "type", "channel"):
            read[name] = common.lower(value)
        elif name == "tags":
            read[name] = common.tags_value(value.split() if isinstance(value, str) else [])
        else:
            read[name] = value
    return read
