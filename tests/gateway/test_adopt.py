"""Adopting a live helpdesk: the open tickets of an export become ticket_created (and
first_response) events at their real times, idempotently; odd exports never raise."""

import json
import subprocess
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.gateway import Source
from service.gateway.adopt import FORMATS, Format, adopt
from service.wire import decode, parse_timestamp

from .helpers import source

REPO = Path(__file__).parents[2]
ZENDESK_TICKETS: dict[str, Any] = {
    "tickets": [
        {
            "id": 5158,
            "created_at": "2026-11-02T09:15:00Z",
            "status": "open",
            "priority": "high",
            "type": "question",
            "subject": "Invoice missing",
            "tags": ["billing", "vip"],
            "custom_fields": [{"id": 360012345, "value": "essential"}],
        },
        {"id": 5159, "created_at": "2026-11-02T10:00:00Z", "status": "pending"},
        {"id": 5160, "created_at": "2026-11-01T08:00:00Z", "status": "solved"},
    ],
    "metric_sets": [
        {"ticket_id": 5158, "replies": 2, "reply_time_in_minutes": {"calendar": 95}},
        {"ticket_id": 5159, "replies": 0, "reply_time_in_minutes": {"calendar": None}},
    ],
}


def zendesk_source() -> Source:
    return source("zendesk", "attributes: {tier: 'custom_field:360012345'}")


def test_zendesk_open_tickets_at_their_real_times_with_status_and_attributes() -> None:
    adoption = adopt(json.dumps(ZENDESK_TICKETS).encode(), "zendesk", zendesk_source())
    assert adoption.problems == []
    assert (adoption.open_tickets, adoption.skipped_closed) == (2, 1)
    by_id = {event["event_id"]: event for event in adoption.events}
    created = by_id["zendesk-import:5158:created"]
    assert created["occurred_at"] == "2026-11-02T09:15:00Z"
    assert created["status"] == "open" and created["tenant"] == "acme"
    assert created["attributes"]["tier"] == "essential"
    assert created["attributes"]["priority"] == "high"
    answered = by_id["zendesk-import:5158:first_response"]
    assert answered["type"] == "first_response"
    assert answered["occurred_at"] == "2026-11-02T10:50:00Z"  # 95 minutes after creation
    assert by_id["zendesk-import:5159:created"]["status"] == "pending"
    assert "zendesk-import:5159:first_response" not in by_id  # no reply yet
    for event in adoption.events:
        decode(json.dumps(event))


def test_zendesk_data_export_one_ticket_per_line_and_created_before() -> None:
    tickets: list[dict[str, object]] = ZENDESK_TICKETS["tickets"]
    lines = "\n".join(json.dumps(ticket) for ticket in tickets)
    cutoff = parse_timestamp("2026-11-02T09:30:00Z")
    adoption = adopt(lines.encode(), "zendesk", zendesk_source(), created_before=cutoff)
    assert [event["ticket_id"] for event in adoption.events] == ["5158"]
    assert adoption.skipped_later == 1 and adoption.skipped_closed == 1
    everything = adopt(lines.encode(), "zendesk", zendesk_source(), include_closed=True)
    assert everything.open_tickets == 3


def test_importing_twice_gives_the_same_ids() -> None:
    data = json.dumps(ZENDESK_TICKETS).encode()
    first = adopt(data, "zendesk", zendesk_source())
    second = adopt(data, "zendesk", zendesk_source())
    assert first.events == second.events


def test_jira_search_export_maps_like_the_webhook() -> None:
    export = {
        "issues": [
            {
                "id": "10042",
                "key": "HELP-42",
                "fields": {
                    "created": "2026-11-03T11:00:00.000+0100",
                    "status": {"name": "Waiting for support"},
                    "priority": {"name": "High"},
                    "issuetype": {"name": "Service Request"},
                    "summary": "VPN down",
                    "labels": ["network"],
                },
            },
            {
                "id": "10043",
                "key": "HELP-43",
                "fields": {"created": "2026-11-03T12:00:00Z", "status": {"name": "Resolved"}},
            },
            {"key": "HELP-44"},
        ]
    }
    adoption = adopt(json.dumps(export).encode(), "jira", source("jira"))
    (created,) = adoption.events
    assert created["ticket_id"] == "10042"  # the issue id, as the webhook adapter uses
    assert created["occurred_at"] == "2026-11-03T10:00:00Z"
    assert created["status"] == "open"
    assert created["attributes"]["priority"] == "high"
    assert adoption.skipped_closed == 1
    assert adoption.problems == ["issue #3: no id or fields.created"]


def test_csv_columns_become_attributes_and_bad_lines_are_reported() -> None:
    text = (
        "ticket_id,created_at,status,first_response_at,tier,priority\n"
        "T-1,2026-11-04T08:00:00+01:00,open,2026-11-04T08:30:00+01:00,essential,high\n"
        "T-2,2026-11-04T09:00:00,open,,,\n"
        "T-3,2026-11-04T10:00:00Z,hold,,premium,\n"
    )
    adoption = adopt(text.encode(), "csv", source("zendesk"))
    assert [e["ticket_id"] for e in adoption.events] == ["T-1", "T-1", "T-3"]
    assert adoption.events[0]["attributes"] == {"tier": "essential", "priority": "high"}
    assert adoption.events[1]["occurred_at"] == "2026-11-04T07:30:00Z"
    assert adoption.events[2]["status"] == "on_hold"  # the source's status mapping
    assert adoption.problems == ["line 3: no ticket_id, or created_at is not RFC 3339 with offset"]
    assert adopt(b"id,when\n1,2\n", "csv", source("zendesk")).problems == [
        "the header lacks created_at, status, ticket_id"
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(FORMATS))
@example(b"\r\x00", "csv")  # once made the csv module raise
@example(b'a"b\n"', "csv")
def test_any_export_bytes_give_events_or_problems_never_an_exception(
    data: bytes, form: Format
) -> None:
    adoption = adopt(data, form, source("zendesk"))
    for event in adoption.events:
        decode(json.dumps(event))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["id", "created_at", "status", "priority", "tags", "custom_fields"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=30), st.lists(st.integers())),
        ),
        max_size=5,
    )
)
def test_odd_zendesk_tickets_give_valid_events_or_problems(
    tickets: list[dict[str, object]],
) -> None:
    adoption = adopt(json.dumps({"tickets": tickets}).encode(), "zendesk", source("zendesk"))
    for event in adoption.events:
        decode(json.dumps(event))
    assert adoption.open_tickets + adoption.skipped_closed + len(adoption.problems) == len(tickets)


def test_imported_tickets_are_clocked_by_replay(tmp_path: Path) -> None:
    """The dry run's events are input events: replayed under a policy, the ticket created
    long ago and never answered breaches, the answered one meets its first response."""
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {name: desk, kind: zendesk, tenant: acme, secret_env: X}\n")
    export = tmp_path / "tickets.json"
    export.write_text(json.dumps(ZENDESK_TICKETS))
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(
        "calendars:\n  always: {timezone: UTC, hours: 24x7}\n"
        "policies:\n  - name: acme\n    match: {tenant: acme}\n    calendar: always\n"
        "    pause_statuses: [pending]\n"
        "    clocks:\n      - {metric: first_response, targets: [{breach_after: 2h}]}\n"
    )
    sla_timer = str(REPO / ".venv" / "bin" / "sla-timer")
    env = {"SLA_GATEWAY_SOURCES": str(sources), "PATH": "/usr/bin:/bin"}
    events = subprocess.run(
        [sla_timer, "import", "--source", "desk", "--format", "zendesk", "--dry-run", str(export)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    replayed = subprocess.run(
        [sla_timer, "replay", "--policies", str(policies), "--until", "2026-11-03T00:00:00Z", "-"],
        input=events, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    outcomes = {(e["ticket_id"], e["type"]) for e in map(json.loads, replayed.splitlines())}
    assert ("5158", "sla.met") in outcomes  # answered 95 minutes in
    assert ("5159", "sla.breach") not in outcomes  # pending since creation: paused
    assert ("5159", "sla.started") in outcomes
