"""Jira Service Management admin webhooks mapped to input events (payload shapes of Jira's
webhook envelope: ``timestamp`` in epoch ms, ``webhookEvent``, ``issue``, ``changelog``,
``comment``)."""

from typing import Any

from service.gateway import Ignored, Unauthorized, Unmappable, jira

from .helpers import SECRET, at, body_of, events, hmac_hex, source

NOW = at("2026-01-30T17:40:00Z")
FIELDS = {
    "created": "2017-01-30T18:30:41.962+0100",
    "updated": "2017-01-30T18:32:14.716+0100",
    "summary": "VPN down",
    "priority": {"name": "Medium", "id": "3"},
    "issuetype": {"name": "Incident"},
    "project": {"key": "HELP"},
    "labels": ["vpn", "emea"],
    "status": {"name": "Waiting for support", "statusCategory": {"key": "new"}},
    "reporter": {"accountId": "qm:customer-1", "accountType": "customer"},
    "customfield_10010": {"value": "Gold", "id": "10020"},
}


def deliver(payload: dict[str, Any], extra: str = "", identifier: str = "42-abc") -> Any:
    body = body_of(payload)
    headers = {
        "X-Hub-Signature": "sha256=" + hmac_hex(SECRET, body, "sha256"),
        "X-Atlassian-Webhook-Identifier": identifier,
    }
    return jira.adapt(headers, body, source("jira", extra), SECRET, NOW)


def issue(**fields: Any) -> dict[str, Any]:
    return {"id": "10000", "key": "HELP-1", "fields": {**FIELDS, **fields}}


def updated(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "timestamp": 1485797534721,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "issue": issue(),
        "changelog": {"id": "10000", "items": list(items)},
    }


def test_issue_created_is_dated_by_its_creation_with_the_offset_normalised() -> None:
    payload = {"timestamp": 1485797441962, "webhookEvent": "jira:issue_created", "issue": issue()}
    (event,) = events(deliver(payload, "attributes: {tier: 'custom_field:customfield_10010'}"))
    assert event == {
        "event_id": "jira:42-abc",
        "type": "ticket_created",
        "ticket_id": "10000",
        "tenant": "acme",
        "occurred_at": "2017-01-30T17:30:41.962000Z",
        "status": "open",
        "attributes": {
            "priority": "medium",
            "type": "incident",
            "project": "HELP",
            "tags": "emea vpn",
            "subject": "VPN down",
            "tier": "Gold",
        },
    }


def test_status_change_from_the_changelog_dated_by_the_envelope() -> None:
    item = {
        "field": "status",
        "fieldtype": "jira",
        "from": "10000",
        "fromString": "In Progress",
        "to": "3",
        "toString": "Waiting for customer",
    }
    (event,) = events(deliver(updated(item)))
    assert event["type"] == "status_change"
    assert event["status"] == "pending"
    assert event["event_id"] == "jira:42-abc:status"
    assert event["occurred_at"] == "2017-01-30T17:32:14.721000Z"


def test_status_and_priority_in_one_update_give_two_distinct_stable_events() -> None:
    status = {"field": "status", "toString": "Resolved"}
    priority = {"field": "priority", "fromString": "Critical", "toString": "Major"}
    first = events(deliver(updated(status, priority)))
    again = events(deliver(updated(status, priority)))
    assert first == again
    assert [e["event_id"] for e in first] == ["jira:42-abc:status", "jira:42-abc:attributes"]
    assert first[0]["status"] == "solved"
    assert first[1]["attributes"] == {"priority": "medium"}  # the snapshot's current value


def test_custom_field_change_by_id_or_number() -> None:
    item = {"field": "Tier", "fieldId": "customfield_10010", "toString": "Gold"}
    (event,) = events(deliver(updated(item), "attributes: {tier: 'custom_field:10010'}"))
    assert event["attributes"] == {"tier": "Gold"}


def test_update_with_nothing_mapped_is_ignored() -> None:
    assert deliver(updated({"field": "assignee", "toString": "Bob"})) == Ignored(
        "jira:issue_updated"
    )


def comment_payload(account_type: str, public: bool | None, author: str = "agent-7") -> Any:
    comment: dict[str, Any] = {
        "id": "10000",
        "body": "...",
        "created": "2019-01-07T16:55:51.184-0330",
        "author": {"accountId": author, "accountType": account_type},
    }
    if public is not None:
        comment["jsdPublic"] = public
    return {
        "timestamp": 1546892751184,
        "webhookEvent": "comment_created",
        "comment": comment,
        "issue": issue(),
    }


def test_agent_comments_public_and_internal() -> None:
    (public,) = events(deliver(comment_payload("atlassian", True)))
    (internal,) = events(deliver(comment_payload("atlassian", False)))
    (unflagged,) = events(deliver(comment_payload("atlassian", None)))  # not a JSM project
    assert (public["type"], public["public"]) == ("agent_reply", True)
    assert internal["public"] is False
    assert unflagged["public"] is True
    assert public["occurred_at"] == "2019-01-07T20:25:51.184000Z"


def test_customer_and_reporter_comments_are_customer_replies() -> None:
    (portal,) = events(deliver(comment_payload("customer", True)))
    (reporter,) = events(deliver(comment_payload("atlassian", True, author="qm:customer-1")))
    assert portal["type"] == reporter["type"] == "customer_reply"


def test_app_comments_are_automated() -> None:
    (event,) = events(deliver(comment_payload("app", True)))
    assert event["automated"] is True


def test_deleted_issue_closes_it() -> None:
    payload = {"timestamp": 1546892751184, "webhookEvent": "jira:issue_deleted", "issue": issue()}
    (event,) = events(deliver(payload))
    assert (event["status"], event["reason"]) == ("closed", "deleted")


def test_other_events_are_ignored_and_missing_issue_unmappable() -> None:
    assert deliver({"webhookEvent": "worklog_created"}) == Ignored("worklog_created")
    assert deliver({"webhookEvent": "jira:issue_created"}) == Unmappable(
        "jira:issue_created: no issue.id"
    )


def test_without_identifier_ids_come_from_the_body() -> None:
    payload = comment_payload("customer", True)
    (a,) = events(deliver(payload, identifier=""))
    (b,) = events(deliver(payload, identifier=""))
    assert a["event_id"] == b["event_id"] != "jira:"


def test_zammad_style_sha1_signature_is_refused() -> None:
    body = body_of(comment_payload("customer", True))
    headers = {"X-Hub-Signature": "sha1=" + hmac_hex(SECRET, body, "sha1")}
    outcome = jira.adapt(headers, body, source("jira"), SECRET, NOW)
    assert outcome == Unauthorized("X-Hub-Signature names 'sha1'; this source expects sha256")
