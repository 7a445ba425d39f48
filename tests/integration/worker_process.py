"""Run ``sla-timer worker`` as a real process against the local broker, and talk to it.

Each worker gets its own topic prefix, consumer group, data directory and HTTP port, so
tests never see each other's traffic. Kafka is never mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.integration.kafka_broker import REPO_ROOT, ensure_broker

SLA_TIMER = REPO_ROOT / ".venv" / "bin" / "sla-timer"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class WorkerProcess:
    policy_dir: Path
    data_dir: Path
    name: str = field(default_factory=lambda: f"it{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    profile_to: Path | None = None  # run under cProfile, stats written here at exit
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.bootstrap = ensure_broker()

    def topic(self, name: str) -> str:
        return f"{self.name}-{name}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SLA_KAFKA_BROKERS": self.bootstrap,
            "SLA_POLICY_DIR": str(self.policy_dir),
            "SLA_INPUT_TOPICS": self.topic("ticket-events"),
            "SLA_OUTPUT_PREFIX": f"{self.name}-",
            "SLA_APP_ID": self.name,
            "SLA_DATA_DIR": str(self.data_dir),
            "SLA_WEB_PORT": str(self.port),
            "SLA_PARTITIONS": "2",
            "SLA_TICK": "0.1s",
            "SLA_SESSION_TIMEOUT": "6s",
            **self.extra_env,
        }

    def start(self, timeout: float = 90.0) -> None:
        log = (self.data_dir.parent / f"{self.name}.log").open("ab")
        command = [str(SLA_TIMER), "worker", "--loglevel", "warning"]
        if self.profile_to is not None:
            python = str(SLA_TIMER.parent / "python")
            command = [python, "-m", "cProfile", "-o", str(self.profile_to), "-m", "service.cli"]
            command += ["worker", "--loglevel", "warning"]
        self.process = subprocess.Popen(
            command,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self.get("/readyz")[0] == 200:
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s: {self.log_tail()}")

    def stop(self, how: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(how)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as reply:
                body = reply.read()
                kind = reply.headers.get("Content-Type", "")
                return reply.status, json.loads(body) if "json" in kind else body.decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, None

    def samples(self) -> list[Sample]:
        """The worker's /metrics, parsed by prometheus_client: every sample with its labels."""
        _, text = self.get("/metrics")
        families = text_string_to_metric_families(text or "")
        return [sample for family in families for sample in family.samples]

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels``."""
        return sum(
            sample.value
            for sample in self.samples()
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def log_tail(self, lines: int = 30) -> str:
        path = self.data_dir.parent / f"{self.name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Tickets:
    """Builds input events with occurred_at relative to a base instant."""

    def __init__(self, base: datetime | None = None) -> None:
        self.base = base or datetime.now(UTC)
        self.count = 0

    def event(self, ticket: str, kind: str, after: float = 0.0, **fields: Any) -> bytes:
        self.count += 1
        at = self.base + timedelta(seconds=after)
        body = {
            "event_id": f"{ticket}-{self.count}",
            "type": kind,
            "ticket_id": ticket,
            "occurred_at": iso(at),
            **fields,
        }
        return json.dumps(body).encode()


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


@dataclass
class Received:
    topic: str
    body: dict[str, Any]
    at: datetime  # when this test received it


async def collect(bootstrap: str, topics: list[str], seconds: float) -> list[Received]:
    """Everything on ``topics`` from the beginning, for ``seconds`` of wall time."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    received: list[Received] = []
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=200)
            now = datetime.now(UTC)
            for tp, messages in batch.items():
                received += [Received(tp.topic, json.loads(m.value), now) for m in messages]
    finally:
        await consumer.stop()
    return received


async def produce_and_collect(
    worker: WorkerProcess,
    names: list[str],
    messages: list[tuple[bytes, bytes]],
    seconds: float,
    *more: list[tuple[bytes, bytes]],
) -> list[Received]:
    """Start reading the worker's topics ``names``, produce ``messages`` (then each list of
    ``more``, sent without waiting for each ack) to its input, and collect for ``seconds``."""
    topics = [worker.topic(name) for name in names]
    collecting = asyncio.create_task(collect(worker.bootstrap, topics, seconds))
    await asyncio.sleep(1.0)  # the collector is reading before anything is due
    await produce(worker.bootstrap, worker.topic("ticket-events"), messages)
    for batch in more:
        await produce_many(worker.bootstrap, worker.topic("ticket-events"), batch)
    return await collecting


async def produce_many(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    """Send without waiting for each acknowledgement (a mail loop is fast), then flush."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
