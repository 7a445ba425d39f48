"""Fuzzing the adapters and the sources loader: whatever the headers, body or YAML, an
adapter returns one of its four outcomes (every ``Mapped`` event valid on the wire) and the
loader returns sources or problems; neither raises.

Two kinds of delivery per adapter: arbitrary bytes and headers (mostly refused at the
signature), and the documented payloads with one value replaced or removed, correctly
signed, so the mapping itself is fuzzed. Bounded and derandomized in a normal run;
``SLA_FUZZ_EXAMPLES=20000`` makes a long one.
"""

import copy
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.gateway import (
    ADAPTERS,
    Ignored,
    Mapped,
    Unauthorized,
    Unmappable,
    check_sources_text,
    zendesk,
)
from service.gateway.kinds import KINDS

from . import test_freshdesk, test_helpscout, test_jira, test_zammad, test_zendesk
from .helpers import SECRET, assert_valid, at, hmac_b64, hmac_hex, source

EXAMPLES = int(os.environ.get("SLA_FUZZ_EXAMPLES", "300"))
fuzz = settings(
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OUTCOMES = (Unauthorized, Mapped, Ignored, Unmappable)
STAMP = "2025-01-08T14:25:31Z"
NOW = at(STAMP)
EXTREMES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**53,
    2**63,
    -(2**70),
    1e308,
    -0.0,
    "",
    " ",
    "\x00",
    "\x1f\x7f",
    "\ud83d\ude00",
    "x" * 5000,
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2025-01-08T14:25:30.123456789Z",
    "2017-01-30T18:30:41.962+0100",
    "2013-12-12T05:35Z",
    "HOLD",
    "Waiting on Customer",
    [],
    {},
    [None, 1, "a", {}],
    {"name": "x", "value": 2**60},
    [[[[["deep"]]]]],
    {"current": None},
    {"is_staff": "yes"},
]
SEEDS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "zendesk": [
        (test_zendesk.envelope(kind, change), "")
        for kind, change in [
            ("created", {}),
            ("comment_added", test_zendesk.comment(True, True)),
            ("status_changed", {"current": "HOLD"}),
            ("priority_changed", {"current": "LOW"}),
            ("tags_changed", {}),
            ("merged", {}),
            ("custom_field_changed", {"current": "a", "custom_field": {"id": "1", "title": "T"}}),
        ]
    ]
    + [(test_zendesk.TEMPLATE, "")],
    "jira": [
        ({"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": test_jira.issue()}, ""),
        (
            test_jira.updated(
                {"field": "status", "toString": "Done"},
                {"field": "priority", "toString": "Low"},
                {"field": "T", "fieldId": "customfield_10010"},
            ),
            "",
        ),
        (test_jira.comment_payload("atlassian", False), ""),
    ],
    "freshdesk": [
        (test_freshdesk.TEMPLATE, ""),
        ({**test_freshdesk.TEMPLATE, "event": "attributes"}, ""),
    ],
    "zammad": [
        ({"ticket": test_zammad.TICKET, "article": test_zammad.ARTICLE}, ""),
        (
            {
                "ticket": {**test_zammad.TICKET, "article_ids": [105]},
                "article": test_zammad.ARTICLE,
            },
            "",
        ),
    ],
    "helpscout": [
        (test_helpscout.CONVO, event)
        for event in (
            "convo.created",
            "convo.customer.reply.created",
            "convo.agent.reply.created",
            "convo.note.created",
            "convo.status",
            "convo.tags",
            "convo.custom-fields",
            "convo.moved",
            "convo.deleted",
        )
    ],
}
SOURCE_EXTRA = "attributes: {tier: 'custom_field:customfield_10010', t2: 'custom_field:T'}"
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(EXTREMES),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def signed_headers(kind: str, body: bytes, event: str) -> dict[str, str]:
    if kind == "zendesk":
        return zendesk.signed_headers(SECRET, STAMP, body)
    if kind == "jira":
        return {"X-Hub-Signature": "sha256=" + hmac_hex(SECRET, body, "sha256")}
    if kind == "zammad":
        return {"X-Hub-Signature": "sha1=" + hmac_hex(SECRET, body, "sha1")}
    if kind == "helpscout":
        return {"X-HelpScout-Signature": hmac_b64(SECRET, body, "sha1"), "X-HelpScout-Event": event}
    return {"X-SLA-Timer-Token": SECRET}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> tuple[bytes, str]:
    """A seed payload of ``kind`` with values replaced or removed, as JSON bytes."""
    payload, event = draw(st.sampled_from(SEEDS[kind]))
    payload = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(payload)[1:]))
        parent = payload
        for step in where[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[where[-1]]
            if not paths(payload)[1:]:
                break
        else:
            parent[where[-1]] = copy.deepcopy(draw(JSON))  # EXTREMES are shared objects
    return json.dumps(payload, allow_nan=True).encode(), event


def check(outcome: object) -> None:
    assert isinstance(outcome, OUTCOMES), outcome
    assert_valid(outcome)  # type: ignore[arg-type]


def fuzz_signed(kind: str) -> None:
    adapter, src = ADAPTERS[kind], source(kind, SOURCE_EXTRA if kind != "helpscout" else "")

    @fuzz
    @given(delivery=mutated(kind))
    def run(delivery: tuple[bytes, str]) -> None:
        body, event = delivery
        outcome = adapter(signed_headers(kind, body, event), body, src, SECRET, NOW)
        assert not isinstance(outcome, Unauthorized)
        check(outcome)

    run()


def test_zendesk_mutated_payloads() -> None:
    fuzz_signed("zendesk")


def test_jira_mutated_payloads() -> None:
    fuzz_signed("jira")


def test_freshdesk_mutated_payloads() -> None:
    fuzz_signed("freshdesk")


def test_zammad_mutated_payloads() -> None:
    fuzz_signed("zammad")


def test_helpscout_mutated_payloads() -> None:
    fuzz_signed("helpscout")


HEADER_NAMES = st.sampled_from(
    [
        "X-Zendesk-Webhook-Signature",
        "X-Zendesk-Webhook-Signature-Timestamp",
        "X-Hub-Signature",
        "X-HelpScout-Signature",
        "X-HelpScout-Event",
        "X-SLA-Timer-Token",
        "Authorization",
        "X-Atlassian-Webhook-Identifier",
        "X-Zammad-Delivery",
        "x-zendesk-webhook-invocation-id",
    ]
) | st.text(max_size=20)
HEADER_VALUES = st.sampled_from(
    ["", "sha1=", "sha256=00", "Basic Og==", STAMP, SECRET, "=" * 9, "\ud800", "convo.created"]
) | st.text(max_size=60)


@fuzz
@given(
    kind=st.sampled_from(KINDS),
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=6),
    body=st.binary(max_size=300)
    | st.sampled_from([b"", b"{}", b"[]", b"\xef\xbb\xbf{}", b"[" * 5000]),
    secret=st.sampled_from([SECRET, "x", "\ud800", "é" * 50]),
    now=st.integers(-(2**62), 2**62),
)
def test_arbitrary_deliveries_never_raise(
    kind: str, headers: dict[str, str], body: bytes, secret: str, now: int
) -> None:
    check(ADAPTERS[kind](headers, body, source(kind), secret, now))  # type: ignore[index]


@fuzz
@given(kind=st.sampled_from(KINDS), payload=JSON, event=HEADER_VALUES)
def test_arbitrary_json_correctly_signed_never_raises(kind: str, payload: Any, event: str) -> None:
    body = json.dumps(payload).encode()
    outcome = ADAPTERS[kind](signed_headers(kind, body, event), body, source(kind), SECRET, NOW)  # type: ignore[index]
    check(outcome)


YAML_TOKENS = st.sampled_from(
    [
        "sources:",
        "\n  - ",
        "name: a",
        "kind: zendesk",
        "kind: jira",
        "tenant: t",
        "secret_env: S",
        "statuses: {",
        "attributes: {",
        "}",
        "[",
        "]",
        ",",
        ": ",
        "null",
        "&a ",
        "*a",
        "!!binary ",
        "zendesk: {freshness: ",
        "freshdesk: {auth: basic}",
        "\n    ",
        "custom_field:",
        "~",
        "1e9",
        "\t",
        "'",
        '"',
        "\x00",
        "é",
    ]
)


@fuzz
@given(text=st.lists(YAML_TOKENS | st.text(max_size=8), max_size=40).map("".join))
def test_sources_loader_never_raises(text: str) -> None:
    sources, problems = check_sources_text(text, {"S": "secret"})
    assert (sources is None) == bool(problems)
    assert all(isinstance(problem, str) for problem in problems)
