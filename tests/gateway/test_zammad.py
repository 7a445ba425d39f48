"""Zammad trigger webhooks (default payload ``{"ticket": ..., "article": ...}``)."""

from typing import Any

from service.gateway import Unauthorized, Unmappable, zammad

from .helpers import SECRET, at, body_of, events, hmac_hex, source

NOW = at("2020-11-13T14:40:00Z")
TICKET = {
    "id": 81,
    "number": "10081",
    "title": "Webhook-Test",
    "state": "open",
    "state_id": 2,
    "priority": {"id": 2, "name": "2 normal"},
    "priority_id": 2,
    "created_at": "2020-11-13T14:34:35.282Z",
    "updated_at": "2020-11-13T14:36:00.333Z",
    "group": {"id": 3, "name": "Users"},
    "group_id": 3,
    "organization_id": 3,
    "create_article_sender": "Customer",
    "create_article_type": "phone",
    "article_count": 2,
    "article_ids": [104, 105],
    "tier": "gold",
}
ARTICLE = {
    "id": 105,
    "ticket_id": 81,
    "sender": "Agent",
    "internal": False,
    "type": "email",
    "created_at": "2020-11-13T14:35:35.318Z",
    "created_by_id": 3,
    "body": "...",
}


def deliver(ticket: dict[str, Any], article: dict[str, Any], extra: str = "") -> Any:
    body = body_of({"ticket": ticket, "article": article})
    headers = {
        "X-Hub-Signature": "sha1=" + hmac_hex(SECRET, body, "sha1"),
        "X-Zammad-Delivery": "a1b2c3",
        "X-Zammad-Trigger": "SLA Timer",
    }
    return zammad.adapt(headers, body, source("zammad", extra), SECRET, NOW)


def test_first_article_creates_the_ticket() -> None:
    ticket = {**TICKET, "article_count": 1, "article_ids": [104], "state": "new"}
    (event,) = events(
        deliver(
            ticket,
            {**ARTICLE, "id": 104, "sender": "Customer"},
            "attributes: {tier: 'custom_field:tier'}",
        )
    )
    assert event == {
        "event_id": "zammad:a1b2c3",
        "type": "ticket_created",
        "ticket_id": "81",
        "tenant": "acme",
        "occurred_at": "2020-11-13T14:34:35.282000Z",
        "status": "new",
        "attributes": {
            "priority": "normal",
            "group": "Users",
            "subject": "Webhook-Test",
            "channel": "phone",
            "tier": "gold",
        },
    }


def test_agent_article_gives_reply_status_and_attributes_with_distinct_ids() -> None:
    reply, state, attributes = events(deliver({**TICKET, "state": "pending reminder"}, ARTICLE))
    assert reply["type"] == "agent_reply" and reply["public"] is True
    assert reply["occurred_at"] == "2020-11-13T14:35:35.318000Z"
    assert (state["type"], state["status"]) == ("status_change", "pending")
    assert state["occurred_at"] == "2020-11-13T14:36:00.333000Z"
    assert attributes["attributes"]["priority"] == "normal"
    assert [e["event_id"] for e in (reply, state, attributes)] == [
        "zammad:a1b2c3:article",
        "zammad:a1b2c3:status",
        "zammad:a1b2c3:attributes",
    ]


def test_internal_and_note_articles_are_internal_replies() -> None:
    internal = events(deliver(TICKET, {**ARTICLE, "internal": True}))[0]
    note = events(deliver(TICKET, {**ARTICLE, "type": "note"}))[0]
    assert internal["public"] is False and note["public"] is False


def test_customer_and_system_articles() -> None:
    customer = events(deliver(TICKET, {**ARTICLE, "sender": "Customer"}))[0]
    system = events(deliver(TICKET, {**ARTICLE, "sender": "System"}))[0]
    assert customer["type"] == "customer_reply"
    assert (system["type"], system["automated"]) == ("agent_reply", True)


def test_state_change_without_article() -> None:
    state, _ = events(deliver({**TICKET, "state": "closed"}, {}))
    assert state["status"] == "closed"


def test_custom_payload_without_ticket_is_unmappable() -> None:
    assert deliver({}, {}) == Unmappable("no ticket object: use the webhook's default payload")


def test_jira_style_sha256_and_missing_signature_are_refused() -> None:
    body = body_of({"ticket": TICKET, "article": {}})
    sha256 = {"X-Hub-Signature": "sha256=" + hmac_hex(SECRET, body, "sha256")}
    assert isinstance(zammad.adapt(sha256, body, source("zammad"), SECRET, NOW), Unauthorized)
    assert zammad.adapt({}, body, source("zammad"), SECRET, NOW) == Unauthorized(
        "missing X-Hub-Signature header"
    )
