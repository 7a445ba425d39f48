"""Jira Service Management (and Jira Cloud) admin webhooks: issues created, updated
(status and field changes from the changelog), deleted, and comments created.

Signature: ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>``, sent when the
webhook was saved with a secret (app webhooks, signed with a JWT instead, are not
supported). ``X-Atlassian-Webhook-Identifier``, the same on every retry, makes the event ids.
"""

from collections.abc import Callable, Mapping
from typing import Any

from service.core.instant import Instant

from . import common
from .common import Json
from .outcome import InputEvent, Outcome, Unauthorized, Unmappable
from .signatures import check_prefixed_hex
from .sources import Source

SIGNATURE = "X-Hub-Signature"
IDENTIFIER = "x-atlassian-webhook-identifier"
HANDLED = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created")
# Changelog ``field`` (or ``fieldId``) names of the standard fields.
Maker = Callable[..., InputEvent]
_CHANGELOG_FIELDS = {
    "priority": "priority",
    "issuetype": "type",
    "labels": "tags",
    "summary": "subject",
    "project": "project",
    "component": "components",
    "components": "components",
}


def adapt(
    headers: Mapping[str, str], body: bytes, source: Source, secret: str, now: Instant
) -> Outcome:
    lowered = common.lower_headers(headers)
    problem = check_prefixed_hex(SIGNATURE, lowered.get(SIGNATURE.lower()), secret, body, "sha256")
    if problem:
        return Unauthorized(problem)
    parsed = common.parse_object(body)
    if isinstance(parsed, str):
        return Unmappable(parsed)
    name = common.text(parsed.get("webhookEvent")) or ""
    if name not in HANDLED:
        return common.ignored_kind(name)
    issue = common.obj(parsed, "issue")
    fields = common.obj(issue, "fields")
    ticket_id = common.ident(issue.get("id"))
    if ticket_id is None:
        return Unmappable(f"{name}: no issue.id")
    identifier = common.delivery_id(lowered.get(IDENTIFIER))
    base = f"jira:{identifier}" if identifier else f"jira:{common.digest(body)}"
    sent_at = common.epoch_millis(parsed.get("timestamp")) or common.received(now)

    def make(kind: str, at: str, suffix: str = "", **extra: Any) -> InputEvent:
        return common.event(source, kind, ticket_id, at, base + suffix, **extra)

    if name == "jira:issue_created":
        at = common.timestamp(fields.get("created")) or sent_at
        attributes = common.pick_attributes(source, standard_fields(fields), custom_fields(fields))
        found = common.status(source, common.obj(fields, "status").get("name")) or "new"
        return common.finish(
            [make("ticket_created", at, attributes=attributes, status=found)], name
        )
    if name == "jira:issue_deleted":
        found = common.status(source, "deleted") or "deleted"
        return common.finish([make("status_change", sent_at, status=found, reason="deleted")], name)
    if name == "comment_created":
        return common.finish([_comment(parsed, fields, source, make, sent_at)], name)
    return common.finish(_changes(parsed, fields, source, make, sent_at), name)


def _changes(parsed: Json, fields: Json, source: Source, make: Maker, at: str) -> list[InputEvent]:
    """A status change and one attribute change, from the changelog's items."""
    events: list[InputEvent] = []
    standard, custom = standard_fields(fields), custom_fields(fields)
    changed: dict[str, Any] = {}
    changed_custom: dict[str, Any] = {}
    items = common.obj(parsed, "changelog").get("items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        field_id = common.text(item.get("fieldId")) or ""
        label = common.text(item.get("field")) or ""
        if label.lower() == "status" or field_id == "status":
            found = common.status(source, item.get("toString"))
            found = found or common.status(source, common.obj(fields, "status").get("name"))
            if found and not events:
                events.append(make("status_change", at, ":status", status=found))
        elif (key := _CHANGELOG_FIELDS.get(field_id.lower() or label.lower())) is not None:
            changed[key] = standard.get(key)
        else:
            value = custom.get(field_id, item.get("toString"))
            for custom_key in (field_id, field_id.removeprefix("customfield_"), label):
                if custom_key:
                    changed_custom[custom_key] = value
    attributes = common.pick_attributes(source, changed, changed_custom, cleared="")
    if attributes:
        events.append(make("attribute_change", at, ":attributes", attributes=attributes))
    return events


def _comment(parsed: Json, fields: Json, source: Source, make: Maker, sent_at: str) -> InputEvent:
    """A customer's comment, or an agent's (public unless ``jsdPublic`` is false)."""
    comment = common.obj(parsed, "comment")
    author = common.obj(comment, "author")
    at = common.timestamp(comment.get("created")) or sent_at
    author_id = common.text(author.get("accountId"))
    reporter = common.text(common.obj(fields, "reporter").get("accountId"))
    account_type = common.text(author.get("accountType"))
    if account_type == "customer" or (author_id is not None and author_id == reporter):
        return make("customer_reply", at)
    automated = account_type == "app" or author_id in source.automated_authors
    public = comment.get("jsdPublic") is not False
    return make("agent_reply", at, public=public, automated=automated)


def standard_fields(fields: Json) -> dict[str, Any]:
    labels = fields.get("labels")
    components = fields.get("components")
    raw = {
        "priority": common.lower(common.obj(fields, "priority").get("name")),
        "type": common.lower(common.obj(fields, "issuetype").get("name")),
        "project": common.text(common.obj(fields, "project").get("key")),
        "subject": common.text(fields.get("summary")),
        "tags": common.tags_value(labels) if isinstance(labels, list) else None,
        "components": common.tags_value(_names(components))
        if isinstance(components, list)
        else None,
    }
    return {key: value for key, value in raw.items() if value is not None}


def custom_fields(fields: Json) -> dict[str, Any]:
    """Custom field values by ``customfield_<n>`` and by ``<n>``; options read as their value."""
    custom: dict[str, Any] = {}
    for key, value in fields.items():
        if key.startswith("customfield_"):
            read = _option(value)
            custom[key] = custom[key.removeprefix("customfield_")] = read
    return custom


def _option(value: Any) -> Any:
    """A select's option as its value; a multi-select's as a list of them."""
    if isinstance(value, list):
        return [_one_option(item) for item in value]
    return _one_option(value)


def _one_option(value: Any) -> Any:
    return value.get("value", value.get("name")) if isinstance(value, dict) else value


def _names(items: list[Any]) -> list[Any]:
    return [item.get("name") for item in items if isinstance(item, dict)]
