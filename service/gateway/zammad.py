"""Zammad: trigger webhooks with Zammad's default payload, ``{"ticket": {...},
"article": {...}}`` (``article`` is empty when the trigger had none).

Signature: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(token, body)>`` (the webhook's
"HMAC SHA1 Signature Token"). ``X-Zammad-Delivery``, the job id of the delivery, makes the
event ids. The payload has no diff, so each delivery reports the ticket as it is: the
article (a reply or a note), the current state and the current mapped attributes; the
engine finds what changed (a repeated status or attribute changes nothing).
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

from service.core.instant import Instant

from . import common
from .common import Json
from .outcome import InputEvent, Outcome, Unauthorized, Unmappable
from .signatures import check_prefixed_hex
from .sources import Source

SIGNATURE = "X-Hub-Signature"
DELIVERY = "x-zammad-delivery"
Maker = Callable[..., InputEvent]
_RANK = re.compile(r"^\d+\s+")  # Zammad's priorities are named "1 low", "2 normal", "3 high"


def adapt(
    headers: Mapping[str, str], body: bytes, source: Source, secret: str, now: Instant
) -> Outcome:
    lowered = common.lower_headers(headers)
    problem = check_prefixed_hex(SIGNATURE, lowered.get(SIGNATURE.lower()), secret, body, "sha1")
    if problem:
        return Unauthorized(problem)
    parsed = common.parse_object(body)
    if isinstance(parsed, str):
        return Unmappable(parsed)
    ticket, article = common.obj(parsed, "ticket"), common.obj(parsed, "article")
    if not ticket:
        return Unmappable("no ticket object: use the webhook's default payload")
    ticket_id = common.ident(ticket.get("id"))
    if ticket_id is None:
        return Unmappable("no ticket.id")
    delivery = common.delivery_id(lowered.get(DELIVERY))
    base = f"zammad:{delivery}" if delivery else f"zammad:{common.digest(body)}"
    updated = common.timestamp(ticket.get("updated_at")) or common.received(now)
    state = common.status(source, _name(ticket.get("state")))

    def make(kind: str, at: str, suffix: str, **fields: Any) -> InputEvent:
        return common.event(source, kind, ticket_id, at, base + suffix, **fields)

    if article and _is_first(ticket, article):
        at = common.timestamp(ticket.get("created_at")) or updated
        attributes = common.pick_attributes(source, _standard(ticket), ticket)
        created = make("ticket_created", at, "", attributes=attributes, status=state or "new")
        return common.finish([created], "ticket created")
    events: list[InputEvent] = []
    if article:
        reply = _reply(article, source, updated, make)
        if reply is not None:
            events.append(reply)
    if state is not None:
        events.append(make("status_change", updated, ":status", status=state))
    attributes = common.pick_attributes(source, _standard(ticket), ticket, cleared="")
    if attributes:
        events.append(make("attribute_change", updated, ":attributes", attributes=attributes))
    return common.finish(events, "ticket updated")


def _is_first(ticket: Json, article: Json) -> bool:
    """The article that opened the ticket: the ticket's first (or only) article."""
    ids = ticket.get("article_ids")
    if isinstance(ids, list) and ids:
        return common.text(ids[0]) == common.text(article.get("id"))
    return ticket.get("article_count") == 1


def _reply(article: Json, source: Source, updated: str, make: Maker) -> InputEvent | None:
    """A customer's article, or an agent's (internal when ``internal`` or a note), or the
    system's (automated); ``None`` for a sender Zammad does not seed."""
    at = common.timestamp(article.get("created_at")) or updated
    sender = (_name(article.get("sender")) or "").lower()
    internal = article.get("internal") is True or _name(article.get("type")) == "note"
    if sender == "customer":
        return make("customer_reply", at, ":article")
    if sender not in ("agent", "system"):
        return None
    author = common.text(article.get("created_by_id"))
    automated = sender == "system" or author in source.automated_authors
    return make("agent_reply", at, ":article", public=not internal, automated=automated)


def _standard(ticket: Json) -> dict[str, Any]:
    priority = common.lower(_name(ticket.get("priority")))
    raw = {
        "priority": _RANK.sub("", priority) if priority else None,
        "group": _name(ticket.get("group")) or common.ident(ticket.get("group_id")),
        "organization": _name(ticket.get("organization"))
        or common.ident(ticket.get("organization_id")),
        "subject": common.text(ticket.get("title")),
        "channel": common.lower(ticket.get("create_article_type")),
    }
    return {key: value for key, value in raw.items() if value is not None}


def _name(value: Any) -> str | None:
    """A name Zammad sends as text, or inside an expanded object (``{"name": ...}``)."""
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) and value.strip() else None
