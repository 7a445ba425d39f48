"""``sla-timer demo``: a worker with short-target seed policies, a few tickets, live alerts.

Runs its own worker process (topics prefixed ``demo-``, its own state and port), publishes
three tickets and prints every SLA event as it arrives, then stops the worker.
"""

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from service.connection import Connection

DEMO_POLICIES = Path(__file__).parents[2] / "deploy" / "demo" / "policies"


def demo_env(env: Mapping[str, str]) -> dict[str, str]:
    return {
        **env,
        "SLA_POLICY_DIR": str(DEMO_POLICIES),
        "SLA_INPUT_TOPICS": "demo-ticket-events",
        "SLA_OUTPUT_PREFIX": "demo-",
        # Fixed, so the demo's RocksDB state and its changelog topics stay consistent and
        # committed offsets keep earlier runs' tickets from being replayed.
        "SLA_APP_ID": "sla-timer-demo",
        "SLA_DATA_DIR": ".local/demo",
        "SLA_WEB_PORT": env.get("SLA_DEMO_PORT", "6067"),
        "SLA_PARTITIONS": "1",
        "SLA_TICK": "0.1s",
    }


def run_demo(env: Mapping[str, str], seconds: float = 22.0) -> int:
    settings = demo_env(env)
    kafka = Connection.from_env(settings)  # the worker checks it again and says what is wrong
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker", "--loglevel", "warning"],
        env=settings,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(int(settings["SLA_WEB_PORT"]), worker)
        print(f"worker ready on port {settings['SLA_WEB_PORT']}; publishing three tickets")
        asyncio.run(_play(kafka, seconds))
    finally:
        worker.terminate()
        worker.wait(30)
    return 0


def _wait_ready(port: int, worker: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the demo worker exited with {worker.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("the demo worker did not become ready")


async def _play(kafka: Connection, seconds: float) -> None:
    consumer = AIOKafkaConsumer("demo-sla-events", **kafka.client_options(), group_id=None)
    await consumer.start()
    await consumer.seek_to_end()
    producer = AIOKafkaProducer(**kafka.client_options())
    await producer.start()
    start = datetime.now(UTC)
    run = start.strftime("%H%M%S")  # each run's tickets are new tickets
    script: list[tuple[float, str, str, str, dict[str, Any]]] = [
        (0.0, "westock", f"WS-{run}", "ticket_created", {"attributes": {"tier": "essential"}}),
        (0.0, "istockist", f"IS-{run}", "ticket_created", {"attributes": {"priority": "critical"}}),
        (0.0, "liveagent", f"LA-{run}", "ticket_created", {"attributes": {"severity": 1}}),
        (1.0, "liveagent", f"LA-{run}", "agent_reply", {}),
        (3.0, "istockist", f"IS-{run}", "attribute_change", {"attributes": {"priority": "medium"}}),
    ]

    async def publish() -> None:
        for number, (after, tenant, ticket, kind, fields) in enumerate(script):
            await asyncio.sleep(max(0.0, after - (datetime.now(UTC) - start).total_seconds()))
            at = datetime.now(UTC).isoformat()
            body = {
                "event_id": f"demo-{number}-{start.timestamp()}",
                "type": kind,
                "tenant": tenant,
                "ticket_id": ticket,
                "occurred_at": at,
                **fields,
            }
            await producer.send_and_wait("demo-ticket-events", orjson.dumps(body), ticket.encode())
            print(f"{_since(start):>6}  -> {tenant:<10} {ticket:<5} {kind}")

    publishing = asyncio.create_task(publish())
    try:
        end = start + timedelta(seconds=seconds)
        while datetime.now(UTC) < end:
            for messages in (await consumer.getmany(timeout_ms=100)).values():
                for message in messages:
                    event = orjson.loads(message.value)
                    extra = f" {event['threshold']}" if event.get("threshold") else ""
                    print(
                        f"{_since(start):>6}  <- {event['tenant']:<10} {event['ticket_id']:<5} "
                        f"{event['type']:<13} {event['metric']}{extra}"
                    )
        await publishing
    finally:
        await producer.stop()
        await consumer.stop()


def _since(start: datetime) -> str:
    return f"+{(datetime.now(UTC) - start).total_seconds():.1f}s"


if __name__ == "__main__":
    sys.exit(run_demo(os.environ))
