"""Help Scout webhooks: the conversation as body, the event in ``X-HelpScout-Event``."""

from typing import Any

from service.gateway import Ignored, Unmappable, helpscout

from .helpers import SECRET, at, body_of, events, hmac_b64, source

NOW = at("2017-04-21T14:50:00Z")
CONVO = {
    "id": 123,
    "number": 15473,
    "threads": 2,
    "type": "email",
    "folderId": 493,
    "status": "active",
    "state": "published",
    "subject": "Need Help",
    "mailboxId": 85,
    "createdBy": {"id": 12, "type": "customer", "email": "bear@acme.com"},
    "createdAt": "2017-04-21T14:39:56Z",
    "userUpdatedAt": "2017-04-21T14:43:24Z",
    "customerWaitingSince": {"time": "2017-04-21T14:41:00Z", "latestReplyFrom": "customer"},
    "source": {"type": "email", "via": "customer"},
    "tags": [{"id": 9150, "color": "#929499", "tag": "vip"}],
    "customFields": [{"id": 6688, "name": "Account Type", "value": "33077", "text": "Gold"}],
}


def deliver(event: str, convo: dict[str, Any], extra: str = "") -> Any:
    body = body_of(convo)
    headers = {"X-HelpScout-Signature": hmac_b64(SECRET, body, "sha1"), "X-HelpScout-Event": event}
    return helpscout.adapt(headers, body, source("helpscout", extra), SECRET, NOW)


def test_conversation_created() -> None:
    (event,) = events(deliver("convo.created", CONVO, "attributes: {tier: 'custom_field:6688'}"))
    assert event["type"] == "ticket_created"
    assert event["ticket_id"] == "123"
    assert event["occurred_at"] == "2017-04-21T14:39:56Z"
    assert event["status"] == "open"
    assert event["attributes"] == {
        "mailbox": "85",
        "tags": "vip",
        "subject": "Need Help",
        "channel": "email",
        "tier": "Gold",
    }
    assert event["event_id"].startswith("helpscout:")


def test_customer_reply_dated_by_customer_waiting_since_without_threads() -> None:
    (event,) = events(deliver("convo.customer.reply.created", CONVO))
    assert (event["type"], event["occurred_at"]) == ("customer_reply", "2017-04-21T14:41:00Z")


def test_agent_reply_dated_by_its_embedded_thread() -> None:
    threads = [
        {
            "id": 1,
            "type": "message",
            "createdAt": "2017-04-21T14:42:00Z",
            "createdBy": {"id": 256, "type": "user"},
        },
        {
            "id": 2,
            "type": "message",
            "createdAt": "2017-04-21T14:43:00Z",
            "createdBy": {"id": 256, "type": "user"},
        },
    ]
    convo = {**CONVO, "_embedded": {"threads": threads}}
    (event,) = events(deliver("convo.agent.reply.created", convo, 'automated_authors: ["256"]'))
    assert event["occurred_at"] == "2017-04-21T14:43:00Z"
    assert (event["public"], event["automated"]) == (True, True)


def test_note_is_an_internal_reply_dated_by_the_last_user_update() -> None:
    (event,) = events(deliver("convo.note.created", CONVO))
    assert (event["public"], event["occurred_at"]) == (False, "2017-04-21T14:43:24Z")


def test_status_closed_is_dated_by_closed_at() -> None:
    convo = {**CONVO, "status": "closed", "closedAt": "2017-04-21T14:45:00Z"}
    (event,) = events(deliver("convo.status", convo))
    assert (event["status"], event["occurred_at"]) == ("closed", "2017-04-21T14:45:00Z")


def test_tags_and_custom_fields_changes() -> None:
    (tags,) = events(deliver("convo.tags", CONVO))
    (custom,) = events(
        deliver("convo.custom-fields", CONVO, "attributes: {tier: 'custom_field:Account Type'}")
    )
    assert tags["attributes"] == {"tags": "vip"}
    assert custom["attributes"] == {"tier": "Gold"}


def test_same_body_under_another_event_gets_another_id_and_redelivery_the_same() -> None:
    (a,) = events(deliver("convo.tags", CONVO))
    (b,) = events(deliver("convo.tags", CONVO))
    (c,) = events(deliver("convo.status", CONVO))
    assert a == b
    assert a["event_id"] != c["event_id"]


def test_deleted_and_ignored_events() -> None:
    (deleted,) = events(deliver("convo.deleted", {"id": 123}))
    assert (deleted["status"], deleted["reason"], deleted["occurred_at"]) == (
        "closed",
        "deleted",
        "2017-04-21T14:50:00Z",
    )
    assert deliver("convo.assigned", CONVO) == Ignored("convo.assigned")
    assert deliver("helpscout.test", {}) == Ignored("helpscout.test")
    assert deliver("convo.created", {"number": 1}) == Unmappable(
        "convo.created: no conversation id"
    )
