"""Help Scout: webhooks of the Webhooks app, whose body is the conversation (Mailbox API 2.0)
and whose event name is the ``X-HelpScout-Event`` header.

Signature: ``X-HelpScout-Signature`` = base64(HMAC-SHA1(secret, body)). Help Scout sends no
delivery id and a redelivery is byte for byte the same, so event ids are a digest of the
event name and the body. A conversation has no priority: tiers and priorities are tags or
custom fields, mapped through the source's ``attributes``.
"""

from collections.abc import Callable, Mapping
from typing import Any

from service.core.instant import Instant

from . import common
from .common import Json
from .outcome import InputEvent, Outcome, Unauthorized, Unmappable
from .signatures import check_base64
from .sources import Source

SIGNATURE = "X-HelpScout-Signature"
EVENT = "x-helpscout-event"
Maker = Callable[..., InputEvent]
# Reply events: (input event type, extra fields, the thread type whose time dates it).
_REPLIES: dict[str, tuple[str, dict[str, bool], str]] = {
    "convo.customer.reply.created": ("customer_reply", {}, "customer"),
    "convo.agent.reply.created": ("agent_reply", {"public": True}, "message"),
    "convo.note.created": ("agent_reply", {"public": False}, "note"),
}
# Attribute events: the standard fields they change (custom fields: every mapped one).
_CHANGES = {"convo.tags": ("tags",), "convo.moved": ("mailbox",), "convo.custom-fields": ()}
_GONE = {"convo.deleted": "deleted", "convo.merged": "merged"}


def adapt(
    headers: Mapping[str, str], body: bytes, source: Source, secret: str, now: Instant
) -> Outcome:
    lowered = common.lower_headers(headers)
    problem = check_base64(SIGNATURE, lowered.get(SIGNATURE.lower()), secret, body, "sha1")
    if problem:
        return Unauthorized(problem)
    name = lowered.get(EVENT, "").strip()
    handled = name in _REPLIES or name in _CHANGES or name in _GONE
    if not (handled or name in ("convo.created", "convo.status")):
        return common.ignored_kind(name)
    parsed = common.parse_object(body)
    if isinstance(parsed, str):
        return Unmappable(parsed)
    ticket_id = common.ident(parsed.get("id"))
    if ticket_id is None:
        return Unmappable(f"{name}: no conversation id")
    event_id = f"helpscout:{common.digest(name, body)}"
    updated = common.timestamp(parsed.get("userUpdatedAt")) or common.received(now)

    def make(kind: str, at: str, **fields: Any) -> InputEvent:
        return common.event(source, kind, ticket_id, at, event_id, **fields)

    if name == "convo.status" and common.status(source, parsed.get("status")) is None:
        return Unmappable(f"{name}: no status")
    mapped = _map(name, parsed, source, make, updated, now)
    return common.finish([mapped] if mapped is not None else [], name)


def _map(
    name: str, convo: Json, source: Source, make: Maker, updated: str, now: Instant
) -> InputEvent | None:
    if name == "convo.created":
        at = common.timestamp(convo.get("createdAt")) or updated
        attributes = common.pick_attributes(source, _standard(convo), _custom(convo))
        return make("ticket_created", at, attributes=attributes,
                    status=common.status(source, convo.get("status")) or "new")  # fmt: skip
    if name == "convo.status":
        found = common.status(source, convo.get("status"))
        closed = common.timestamp(convo.get("closedAt")) if found == "closed" else None
        return make("status_change", closed or updated, status=found)
    if name in _REPLIES:
        kind, fields, thread_type = _REPLIES[name]
        thread = _newest_thread(convo, thread_type)
        at = common.timestamp(thread.get("createdAt")) or _reply_time(convo, name, updated)
        author = common.text(common.obj(thread, "createdBy").get("id"))
        if kind == "agent_reply":
            fields = {**fields, "automated": author in source.automated_authors}
        return make(kind, at, **fields)
    if name in _GONE:
        word = _GONE[name]
        return make("status_change", common.received(now),
                    status=common.status(source, word) or word, reason=word)  # fmt: skip
    wanted = _CHANGES[name]
    standard = {key: value for key, value in _standard(convo).items() if key in wanted}
    custom = _custom(convo) if name == "convo.custom-fields" else {}
    attributes = common.pick_attributes(source, standard, custom, cleared="")
    return make("attribute_change", updated, attributes=attributes) if attributes else None


def _reply_time(convo: Json, name: str, updated: str) -> str:
    """A reply's time without embedded threads: the customer's from ``customerWaitingSince``
    (when the latest reply is theirs), an agent's from ``userUpdatedAt``."""
    waiting = common.obj(convo, "customerWaitingSince")
    if name == "convo.customer.reply.created" and waiting.get("latestReplyFrom") == "customer":
        return common.timestamp(waiting.get("time")) or updated
    return updated


def _newest_thread(convo: Json, thread_type: str) -> Json:
    threads = common.obj(convo, "_embedded").get("threads")
    dated = [
        (at, thread)
        for thread in (threads if isinstance(threads, list) else [])
        if isinstance(thread, dict) and thread.get("type") == thread_type
        if (at := common.instant(thread.get("createdAt"))) is not None
    ]
    return max(dated, key=lambda pair: pair[0])[1] if dated else {}


def _standard(convo: Json) -> dict[str, Any]:
    tags = convo.get("tags")
    names = (
        [tag.get("tag") if isinstance(tag, dict) else tag for tag in tags]
        if isinstance(tags, list)
        else None
    )
    raw = {
        "mailbox": common.ident(convo.get("mailboxId")),
        "tags": common.tags_value(names) if names is not None else None,
        "subject": common.text(convo.get("subject")),
        "channel": common.lower(convo.get("type")),
    }
    return {key: value for key, value in raw.items() if value is not None}


def _custom(convo: Json) -> dict[str, Any]:
    """Custom fields by id and by name; a dropdown reads as its option's text."""
    fields = convo.get("customFields")
    custom: dict[str, Any] = {}
    for field in fields if isinstance(fields, list) else []:
        if isinstance(field, dict):
            value = field.get("text", field.get("value"))
            for key in (common.text(field.get("id")), common.text(field.get("name"))):
                if key:
                    custom[key] = value
    return custom
