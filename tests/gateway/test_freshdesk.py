"""Freshdesk automation rules posting the SLA Timer template, with a shared token."""

import base64
from typing import Any

from service.gateway import Unauthorized, freshdesk

from .helpers import SECRET, at, body_of, events, source

NOW = at("2026-03-02T09:15:00Z")
TEMPLATE = {
    "sla_timer": 1,
    "event": "created",
    "ticket_id": "11",
    "status": "Pending",
    "triggered_event": "{ticket_action:created}",
    "fields": {
        "priority": "High",
        "type": "Incident",
        "group": "Billing",
        "tags": "vip, key account",
        "subject": "Test ticket subject ☃",
        "channel": "Email",
    },
    "custom_fields": {"cf_tier": "Gold"},
}


def deliver(payload: dict[str, Any], extra: str = "", headers: dict[str, str] | None = None) -> Any:
    sent = {"X-SLA-Timer-Token": SECRET} if headers is None else headers
    return freshdesk.adapt(sent, body_of(payload), source("freshdesk", extra), SECRET, NOW)


def test_created_is_dated_at_receipt_with_labels_normalised() -> None:
    (event,) = events(deliver(TEMPLATE, "attributes: {tier: 'custom_field:cf_tier'}"))
    assert event["occurred_at"] == "2026-03-02T09:15:00Z"
    assert event["status"] == "pending"
    assert event["attributes"] == {
        "priority": "high",
        "type": "incident",
        "group": "Billing",
        "tags": "key_account vip",
        "subject": "Test ticket subject ☃",
        "channel": "email",
        "tier": "Gold",
    }


def test_waiting_on_customer_pauses_and_resolved_solves() -> None:
    waiting = events(deliver({**TEMPLATE, "event": "status", "status": "Waiting on Customer"}))
    resolved = events(deliver({**TEMPLATE, "event": "status", "status": "Resolved"}))
    assert (waiting[0]["status"], resolved[0]["status"]) == ("pending", "solved")


def test_retry_of_the_same_body_gets_the_same_id() -> None:
    reply = {**TEMPLATE, "event": "customer_reply"}
    assert events(deliver(reply)) == events(deliver(reply))
    assert events(deliver(reply))[0]["event_id"] != events(deliver(TEMPLATE))[0]["event_id"]


def test_simple_content_wrapper_is_read() -> None:
    (event,) = events(deliver({"freshdesk_webhook": {**TEMPLATE, "event": "agent_note"}}))
    assert (event["type"], event["public"]) == ("agent_reply", False)


def test_token_header_name_is_configurable_and_checked() -> None:
    extra = "freshdesk: {header: X-Hook-Key}"
    assert events(deliver(TEMPLATE, extra, {"x-hook-key": SECRET}))
    assert deliver(TEMPLATE, extra, {"X-SLA-Timer-Token": SECRET}) == Unauthorized(
        "missing X-Hook-Key header"
    )
    assert isinstance(deliver(TEMPLATE, headers={"X-SLA-Timer-Token": "wrong"}), Unauthorized)


def test_basic_auth_with_the_token_as_password_or_api_key() -> None:
    extra = "freshdesk: {auth: basic}"
    password = {"Authorization": "Basic " + base64.b64encode(f"sla:{SECRET}".encode()).decode()}
    api_key = {"Authorization": "Basic " + base64.b64encode(f"{SECRET}:X".encode()).decode()}
    assert events(deliver(TEMPLATE, extra, password))
    assert events(deliver(TEMPLATE, extra, api_key))
    assert isinstance(deliver(TEMPLATE, extra, {"X-SLA-Timer-Token": SECRET}), Unauthorized)


def test_a_clock_outside_the_wire_range_is_kept_within_it() -> None:
    headers = {"X-SLA-Timer-Token": SECRET}
    body = body_of(TEMPLATE)
    for now, dated in ((2**62, "2199-12-31T23:59:59.999999Z"), (-(2**62), "1970-01-01T00:00:00Z")):
        (event,) = events(freshdesk.adapt(headers, body, source("freshdesk"), SECRET, now))
        assert event["occurred_at"] == dated
