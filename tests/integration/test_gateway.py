"""`sla-timer gateway` as a process on the real broker: signed webhooks in, input events out,
and each answer of docs/gateway.md (401, 413, 404, dead letters, 503 while Kafka is away)."""

import asyncio
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from service.gateway.zendesk import signed_headers
from tests.integration.kafka_broker import REPO_ROOT, _run_script, create_topics, ensure_broker
from tests.integration.worker_process import (
    SLA_TIMER,
    WorkerProcess,
    collect,
    free_port,
    iso,
    run,
)

pytestmark = pytest.mark.integration

SECRET = "gateway-test-secret"
SOURCES = """
sources:
  - name: acme-zendesk
    kind: zendesk
    tenant: acme
    secret_env: ZD_SECRET
"""


@dataclass
class Gateway:
    bootstrap: str
    tmp: Path
    name: str = field(default_factory=lambda: f"gw{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def events_topic(self) -> str:
        return f"{self.name}-ticket-events"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.name}-ticket-events-dlq"

    def start(self) -> None:
        sources = self.tmp / "sources.yaml"
        sources.write_text(SOURCES)
        create_topics(self.bootstrap, {self.events_topic: 2, self.dead_letter_topic: 1})
        env = {
            **os.environ,
            "SLA_KAFKA_BROKERS": self.bootstrap,
            "SLA_GATEWAY_PORT": str(self.port),
            "SLA_GATEWAY_SOURCES": str(sources),
            "SLA_INPUT_TOPICS": self.events_topic,
            "SLA_OUTPUT_PREFIX": f"{self.name}-",
            "ZD_SECRET": SECRET,
            **self.extra_env,
        }
        log = (self.tmp / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [str(SLA_TIMER), "gateway"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.get("/readyz")[0] != 200:
            assert self.process is not None and self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def log(self) -> str:
        return (self.tmp / f"{self.name}.log").read_text(errors="replace")[-3000:]

    def get(self, path: str) -> tuple[int, str]:
        return self.request("GET", path, None, {})

    def post(self, body: bytes, headers: dict[str, str], source: str = "acme-zendesk") -> Any:
        return self.request("POST", f"/hooks/{source}", body, headers)

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=15) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, ""


def signed(payload: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return body, {"Content-Type": "application/json", **signed_headers(secret, stamp, body)}


def created(ticket: str, event_id: str = "") -> dict[str, Any]:
    return {
        "account_id": 1,
        "id": event_id or f"evt-{uuid.uuid4()}",
        "time": "2026-11-30T10:00:00.123Z",
        "type": "zen:event-type:ticket.created",
        "subject": f"zen:ticket:{ticket}",
        "zendesk_event_version": "2022-11-06",
        "detail": {
            "id": ticket,
            "created_at": "2026-11-30T10:00:00Z",
            "updated_at": "2026-11-30T10:00:00Z",
            "status": "NEW",
            "priority": "HIGH",
            "subject": "Cannot log in",
            "tags": ["login"],
        },
        "event": {},
    }


def read_all(bootstrap: str, topic: str, seconds: float = 4.0) -> list[tuple[bytes | None, Any]]:
    async def read() -> list[tuple[bytes | None, Any]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        found: list[tuple[bytes | None, Any]] = []
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    found += [(m.key, json.loads(m.value or b"null")) for m in messages]
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


@pytest.fixture
def gateway(bootstrap: str, tmp_path: Path) -> Iterator[Gateway]:
    process = Gateway(bootstrap, tmp_path, extra_env={"SLA_GATEWAY_MAX_BODY": "4096"})
    process.start()
    yield process
    process.stop()


def test_a_signed_delivery_becomes_one_input_event_and_a_redelivery_the_same_one(
    gateway: Gateway,
) -> None:
    body, headers = signed(created("5158", event_id="d4f5c389"))
    assert gateway.post(body, headers) == (200, '{"events": 1}')
    again, headers = signed(created("5158", event_id="d4f5c389"))  # a retry: signed anew
    assert gateway.post(again, headers) == (200, '{"events": 1}')
    records = read_all(gateway.bootstrap, gateway.events_topic)
    assert [key for key, _ in records] == [b"5158", b"5158"]
    first, second = (event for _, event in records)
    assert first == second  # the same event_id: the worker drops the second
    assert first["event_id"] == "zendesk:d4f5c389"
    assert (first["type"], first["tenant"], first["ticket_id"]) == (
        "ticket_created",
        "acme",
        "5158",
    )
    assert first["occurred_at"].startswith("2026-11-30T10:00:00")
    assert first["attributes"]["priority"] == "high"


def test_a_wrong_signature_is_refused_and_produces_nothing(gateway: Gateway) -> None:
    body, headers = signed(created("77"), secret="not-the-secret")
    assert gateway.post(body, headers)[0] == 401
    body, _ = signed(created("78"))
    assert gateway.post(body, {"Content-Type": "application/json"})[0] == 401  # unsigned
    assert read_all(gateway.bootstrap, gateway.events_topic, seconds=2) == []
    metrics = gateway.get("/metrics")[1]
    assert 'sla_gateway_signature_failures_total{kind="zendesk",source="acme-zendesk"} 2.0' in (
        metrics
    )


def test_a_verified_delivery_that_cannot_be_mapped_is_dead_lettered_and_acknowledged(
    gateway: Gateway,
) -> None:
    payload = created("79")
    del payload["detail"]
    payload["subject"] = "zen:something-else"  # no ticket id anywhere
    body, headers = signed(payload)
    status, answer = gateway.post(body, headers)
    assert status == 202, answer
    [(_, letter)] = read_all(gateway.bootstrap, gateway.dead_letter_topic)
    assert letter["source"] == "acme-zendesk" and letter["kind"] == "zendesk"
    assert letter["reason"] == json.loads(answer)["dead_letter"]
    assert json.loads(letter["original"]) == json.loads(body)
    assert read_all(gateway.bootstrap, gateway.events_topic, seconds=1) == []


def test_an_event_kind_clocks_do_not_use_is_acknowledged_and_counted(gateway: Gateway) -> None:
    payload = created("80")
    payload["type"] = "zen:event-type:ticket.agent_assignment_changed"
    status, answer = gateway.post(*signed(payload))
    assert status == 200 and "ignored" in json.loads(answer)
    metrics = gateway.get("/metrics")[1]
    assert (
        'sla_gateway_requests_total{kind="zendesk",outcome="ignored",source="acme-zendesk"} 1.0'
        in metrics
    )


def test_limits_and_unknown_sources(gateway: Gateway) -> None:
    big = created("81")
    big["detail"]["subject"] = "x" * 5000
    assert gateway.post(*signed(big))[0] == 413
    assert gateway.post(*signed(created("82")), source="nobody")[0] == 404
    assert gateway.get("/healthz")[0] == 200


def test_invalid_sources_are_refused_at_start_with_every_problem(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - {name: a, kind: zendesk, tenant: t, secret_env: UNSET_SECRET}\n"
        "  - {name: a, kind: desk, tenant: t, secret_env: X}\n"
    )
    done = subprocess.run(
        [str(SLA_TIMER), "gateway"],
        env={**os.environ, "SLA_GATEWAY_SOURCES": str(sources), "SLA_GATEWAY_PORT": "http"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "SLA_GATEWAY_PORT='http'" in done.stderr
    assert "UNSET_SECRET" in done.stderr
    assert "desk" in done.stderr


def test_while_kafka_is_away_deliveries_get_503_and_nothing_is_lost_when_it_returns(
    second_broker: str, tmp_path: Path
) -> None:
    gateway = Gateway(second_broker, tmp_path, extra_env={"SLA_GATEWAY_KAFKA_TIMEOUT": "3s"})
    gateway.start()
    port = int(second_broker.rsplit(":", 1)[1])
    try:
        _run_script("down", port, timeout=120)
        body, headers = signed(created("90", event_id="during-outage"))
        status, _ = gateway.post(body, headers)
        assert status == 503
        deadline = time.monotonic() + 30
        while gateway.get("/readyz")[0] != 503:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        ensure_broker(port)
        gateway.wait_ready(timeout=90)
        body, headers = signed(created("90", event_id="during-outage"))  # the helpdesk retries
        assert gateway.post(body, headers) == (200, '{"events": 1}')
        events = [event for _, event in read_all(second_broker, gateway.events_topic)]
        assert {event["event_id"] for event in events} == {"zendesk:during-outage"}
    finally:
        gateway.stop()


def test_a_refused_kafka_login_ends_the_gateway_with_a_message_that_says_so(
    secure_env: dict[str, str], tmp_path: Path
) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES)
    env = {**os.environ, **secure_env, "SLA_KAFKA_SASL_PASSWORD": "wrong"}
    env |= {"SLA_GATEWAY_SOURCES": str(sources), "ZD_SECRET": SECRET}
    env["SLA_GATEWAY_PORT"] = str(free_port())
    done = subprocess.run(
        [str(SLA_TIMER), "gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "refused authentication" in done.stderr


def test_signed_zendesk_deliveries_through_gateway_and_worker_meet_and_breach(
    bootstrap: str, policy_dir: Path, tmp_path: Path
) -> None:
    """Zendesk → gateway → Kafka → worker: a ticket answered by an agent meets its first
    response, one never answered breaches; a redelivered creation has no second effect."""
    worker = WorkerProcess(policy_dir, tmp_path / "worker")
    worker.start()
    gateway = Gateway(bootstrap, tmp_path)
    gateway.extra_env = {
        "SLA_INPUT_TOPICS": worker.topic("ticket-events"),
        "SLA_OUTPUT_PREFIX": f"{worker.name}-",
    }
    try:
        gateway.start()
        now = datetime.now(UTC)
        answered, silent = zendesk_now("101", now), zendesk_now("102", now)
        for payload in (answered, silent, answered):  # the creation of 101 comes twice
            assert gateway.post(*signed(payload))[0] == 200
        reply = zendesk_now("101", now, kind="comment_added")
        author = {"id": "7", "is_staff": True}
        reply["event"] = {"comment": {"id": "9", "is_public": True, "author": author}}
        reply["detail"]["updated_at"] = iso(now + timedelta(seconds=1))
        assert gateway.post(*signed(reply)) == (200, '{"events": 1}')
        topics = [worker.topic("sla-events")]
        received = run(collect(bootstrap, topics, seconds=10))
        outcomes = Counter(
            (r.body["ticket_id"], r.body["type"], r.body["metric"]) for r in received
        )
        assert outcomes[("101", "sla.met", "first_response")] == 1
        assert outcomes[("102", "sla.breach", "first_response")] == 1
        assert outcomes[("101", "sla.breach", "first_response")] == 0
        assert outcomes[("101", "sla.started", "first_response")] == 1  # not twice
    finally:
        gateway.stop()
        worker.stop()


def zendesk_now(ticket: str, now: datetime, kind: str = "created") -> dict[str, Any]:
    payload = created(ticket)
    payload["type"] = f"zen:event-type:ticket.{kind}"
    payload["id"] = f"{kind}-{ticket}-{now.timestamp()}"
    payload["time"] = iso(now)
    payload["detail"]["created_at"] = payload["detail"]["updated_at"] = iso(now)
    return payload
