"""Zendesk: event-subscribed ticket events and the trigger template, mapped to input events.

Payloads follow Zendesk's documented ticket event shapes (envelope ``type``, ``id``,
``time``, ``subject``, ``detail`` snapshot, ``event`` change)."""

import json
from typing import Any

from service.gateway import Ignored, Unmappable, zendesk
from service.gateway.zendesk import signed_headers

from .helpers import SECRET, at, body_of, events, source

STAMP = "2025-01-08T14:25:31Z"
NOW = at("2025-01-08T14:25:33Z")
DETAIL = {
    "actor_id": "8447388090495",
    "assignee_id": "8447388090494",
    "brand_id": "360001",
    "created_at": "2025-01-08T10:12:07Z",
    "custom_status": "8447320465790",
    "external_id": None,
    "group_id": "8447320466430",
    "id": "5158",
    "is_public": True,
    "priority": "HIGH",
    "requester_id": "8447388090494",
    "status": "OPEN",
    "subject": "Cannot login to mobile app",
    "submitter_id": "8447388090494",
    "tags": ["mobile", "login", "priority-support"],
    "type": "PROBLEM",
    "updated_at": "2025-01-08T14:25:30Z",
    "via": {"channel": "web_service"},
}


def envelope(kind: str, change: dict[str, Any], **detail: Any) -> dict[str, Any]:
    return {
        "account_id": 22129848,
        "detail": {**DETAIL, **detail},
        "event": change,
        "id": "d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52",
        "subject": "zen:ticket:5158",
        "time": "2025-01-08T14:25:30.123456789Z",
        "type": f"zen:event-type:ticket.{kind}",
        "zendesk_event_version": "2022-11-06",
    }


def deliver(payload: dict[str, Any], extra: str = "", headers: dict[str, str] | None = None) -> Any:
    body = body_of(payload)
    signed = {**signed_headers(SECRET, STAMP, body), **(headers or {})}
    return zendesk.adapt(signed, body, source("zendesk", extra), SECRET, NOW)


def comment(is_staff: bool, is_public: bool, author: str = "8447388090495") -> dict[str, Any]:
    return {
        "comment": {
            "id": "9876543210",
            "body": "...",
            "is_public": is_public,
            "author": {"id": author, "is_staff": is_staff, "name": "A"},
        }
    }


def test_ticket_created_carries_status_and_attributes_from_the_snapshot() -> None:
    (event,) = events(deliver(envelope("created", {}, status="NEW")))
    assert event == {
        "event_id": "zendesk:d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52",
        "type": "ticket_created",
        "ticket_id": "5158",
        "tenant": "acme",
        "occurred_at": "2025-01-08T14:25:30.123456Z",
        "status": "new",
        "attributes": {
            "priority": "high",
            "type": "problem",
            "group": "8447320466430",
            "brand": "360001",
            "tags": "login mobile priority-support",
            "subject": "Cannot login to mobile app",
            "channel": "web_service",
        },
    }


def test_public_staff_comment_is_a_public_agent_reply() -> None:
    (event,) = events(deliver(envelope("comment_added", comment(True, True))))
    assert (event["type"], event["public"], event["automated"]) == ("agent_reply", True, False)
    assert event["occurred_at"] == "2025-01-08T14:25:30.123456Z"  # the event's time, not receipt


def test_private_staff_comment_is_an_internal_agent_reply() -> None:
    (event,) = events(deliver(envelope("comment_added", comment(True, False))))
    assert (event["type"], event["public"]) == ("agent_reply", False)


def test_end_user_comment_is_a_customer_reply_whatever_the_ticket_visibility() -> None:
    (event,) = events(deliver(envelope("comment_added", comment(False, True), is_public=False)))
    assert event["type"] == "customer_reply"


def test_comment_by_a_listed_automation_author_is_automated() -> None:
    payload = envelope("comment_added", comment(True, True, author="42"))
    (event,) = events(deliver(payload, 'automated_authors: ["42"]'))
    assert event["automated"] is True


def test_opening_comment_of_a_ticket_is_not_a_reply() -> None:
    payload = envelope("comment_added", comment(True, True), updated_at=DETAIL["created_at"])
    assert isinstance(deliver(payload), Ignored)


def test_comment_without_author_role_is_unmappable() -> None:
    payload = envelope("comment_added", {"comment": {"is_public": True}})
    assert deliver(payload) == Unmappable(
        "zen:event-type:ticket.comment_added: event.comment.author.is_staff is not true or false"
    )


def test_status_changes_map_through_the_defaults_case_insensitively() -> None:
    mapped = {}
    for value in ("NEW", "Open", "pending", "HOLD", "SOLVED", "closed"):
        (event,) = events(deliver(envelope("status_changed", {"current": value})))
        mapped[value] = event["status"]
    assert mapped == {
        "NEW": "new",
        "Open": "open",
        "pending": "pending",
        "HOLD": "on_hold",
        "SOLVED": "solved",
        "closed": "closed",
    }


def test_status_mapping_overrides_and_unknown_statuses_pass_through() -> None:
    extra = "statuses: {hold: waiting_on_client}"
    (held,) = events(deliver(envelope("status_changed", {"current": "HOLD"}), extra))
    (odd,) = events(deliver(envelope("status_changed", {"current": "Waiting on Vendor"}), extra))
    assert (held["status"], odd["status"]) == ("waiting_on_client", "waiting_on_vendor")


def test_custom_status_maps_only_when_the_source_names_it() -> None:
    change = {"current": "360001234567", "previous": "1"}
    assert isinstance(deliver(envelope("custom_status_changed", change)), Ignored)
    (event,) = events(
        deliver(envelope("custom_status_changed", change), 'statuses: {"360001234567": on_hold}')
    )
    assert event["status"] == "on_hold"


def test_priority_change_is_an_attribute_change_and_null_clears() -> None:
    (up,) = events(deliver(envelope("priority_changed", {"current": "URGENT", "previous": "HIGH"})))
    (gone,) = events(deliver(envelope("priority_changed", {"current": None, "previous": "HIGH"})))
    assert up["attributes"] == {"priority": "urgent"}
    assert gone["attributes"] == {"priority": ""}


def test_tags_group_and_type_changes() -> None:
    (tags,) = events(deliver(envelope("tags_changed", {"tags_added": ["vip"]}, tags=["vip", "a"])))
    (group,) = events(deliver(envelope("group_assignment_changed", {"current": "77"})))
    (kind,) = events(deliver(envelope("type_changed", {"current": "INCIDENT"})))
    assert tags["attributes"] == {"tags": "a vip"}
    assert group["attributes"] == {"group": "77"}
    assert kind["attributes"] == {"type": "incident"}


def test_custom_field_change_maps_by_id_or_title() -> None:
    change = {
        "current": "gold",
        "previous": "silver",
        "custom_field": {"id": "360012345", "title": "Tier", "field_type": "tagger"},
    }
    (by_id,) = events(
        deliver(
            envelope("custom_field_changed", change), "attributes: {tier: 'custom_field:360012345'}"
        )
    )
    (by_title,) = events(
        deliver(envelope("custom_field_changed", change), "attributes: {tier: 'custom_field:Tier'}")
    )
    assert by_id["attributes"] == by_title["attributes"] == {"tier": "gold"}
    assert isinstance(deliver(envelope("custom_field_changed", change)), Ignored)  # not mapped


def test_an_unmapped_field_change_is_ignored() -> None:
    extra = "attributes: {subject: null}"
    assert isinstance(deliver(envelope("subject_changed", {"current": "x"}), extra), Ignored)


def test_merge_and_deletion_close_the_ticket_with_the_reason() -> None:
    (merged,) = events(deliver(envelope("merged", {})))
    (spam,) = events(deliver(envelope("marked_as_spam", {})))
    assert (merged["status"], merged["reason"]) == ("closed", "merged")
    assert (spam["status"], spam["reason"]) == ("closed", "spam")


def test_other_event_types_are_ignored_with_their_name() -> None:
    assert deliver(envelope("followers_changed", {})) == Ignored(
        "zen:event-type:ticket.followers_changed"
    )
    user_event = {**envelope("created", {}), "type": "zen:event-type:user.active_changed"}
    assert deliver(user_event) == Ignored("zen:event-type:user.active_changed")


def test_redelivery_gives_identical_events() -> None:
    payload = envelope("comment_added", comment(False, True))
    first = deliver(payload, headers={"x-zendesk-webhook-invocation-id": "1"})
    again = deliver(payload, headers={"x-zendesk-webhook-invocation-id": "2"})
    assert events(first) == events(again)


def test_ticket_id_from_the_subject_when_detail_has_none() -> None:
    payload = envelope("status_changed", {"current": "open"})
    del payload["detail"]["id"]
    (event,) = events(deliver(payload))
    assert event["ticket_id"] == "5158"


def test_a_subject_about_something_else_than_a_ticket_gives_no_ticket_id() -> None:
    payload = envelope("status_changed", {"current": "open"})
    del payload["detail"]["id"]
    payload["subject"] = "zen:user:5158"
    assert isinstance(deliver(payload), Unmappable)


def test_body_that_is_not_json_is_unmappable() -> None:
    body = b"{not json"
    outcome = zendesk.adapt(
        signed_headers(SECRET, STAMP, body), body, source("zendesk"), SECRET, NOW
    )
    assert isinstance(outcome, Unmappable)
    assert outcome.reason.startswith("body is not JSON")


# -- the trigger template ----------------------------------------------------------------

TEMPLATE = {
    "sla_timer": 1,
    "event": "agent_reply",
    "ticket_id": "5158",
    "status": "Open",
    "created_at": "2025-01-08T10:12Z",
    "comment_id": "9876543210",
    "fields": {
        "priority": "High",
        "type": "Incident",
        "group": "Tier 2",
        "brand": "Acme",
        "tags": "vip mobile",
        "subject": "Cannot login",
        "channel": "Web",
    },
    "custom_fields": {"360012345": "gold"},
}


def test_template_reply_is_dated_by_the_signature_timestamp_and_keyed_by_comment() -> None:
    (event,) = events(deliver(TEMPLATE, headers={"x-zendesk-webhook-invocation-id": "8350"}))
    assert event == {
        "event_id": "zendesk:5158:comment:9876543210",
        "type": "agent_reply",
        "ticket_id": "5158",
        "tenant": "acme",
        "occurred_at": "2025-01-08T14:25:31Z",
        "public": True,
    }


def test_template_created_uses_the_minute_precision_creation_time() -> None:
    payload = {**TEMPLATE, "event": "created"}
    (event,) = events(
        deliver(
            payload,
            "attributes: {tier: 'custom_field:360012345'}",
            headers={"x-zendesk-webhook-invocation-id": "8350"},
        )
    )
    assert event["occurred_at"] == "2025-01-08T10:12:00Z"
    assert event["event_id"] == "zendesk:invocation:8350"
    assert event["status"] == "open"
    assert event["attributes"] == {
        "priority": "high",
        "type": "incident",
        "group": "Tier 2",
        "brand": "Acme",
        "tags": "mobile vip",
        "subject": "Cannot login",
        "channel": "web",
        "tier": "gold",
    }


def test_template_with_unknown_event_names_the_valid_ones() -> None:
    outcome = deliver({**TEMPLATE, "event": "reply"})
    assert isinstance(outcome, Unmappable)
    assert "use one of created, customer_reply, agent_reply" in outcome.reason


def test_template_of_another_version_is_unmappable() -> None:
    assert deliver({**TEMPLATE, "sla_timer": 2}) == Unmappable(
        'not an SLA Timer template: no "sla_timer": 1'
    )


def test_every_template_event_maps_to_a_valid_event() -> None:
    for name in (
        "created",
        "customer_reply",
        "agent_reply",
        "agent_note",
        "automated_reply",
        "status",
        "attributes",
    ):
        outcome = deliver({**TEMPLATE, "event": name})
        assert events(outcome), name
    assert json.dumps(TEMPLATE)  # the template is JSON as documented
