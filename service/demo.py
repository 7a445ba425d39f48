"""``sla-timer demo``: a worker with short-target seed policies, a few tickets, live alerts.

Runs its own worker process (topics prefixed ``demo-``, its own state and port), publishes
three tickets and prints every SLA event as it arrives, then stops the worker.
"""

import asyncio
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from service.connection import Connection
from service.gateway.zendesk import signed_headers

DEMO_POLICIES = Path(__file__).parents[1] / "deploy" / "demo" / "policies"
DEMO_SOURCES = Path(__file__).parents[1] / "deploy" / "demo" / "sources.yaml"


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


def run_demo(env: Mapping[str, str], seconds: float = 22.0, gateway: bool = False) -> int:
    """The worker, then three tickets published to Kafka; or (``gateway``) the worker and the
    gateway, then two Zendesk tickets posted as signed webhooks. Every SLA event is printed
    as it arrives."""
    settings = demo_env(env)
    kafka = Connection.from_env(settings)  # the worker checks it again and says what is wrong
    processes = [_start("worker", "--loglevel", "warning", env=settings)]
    try:
        _wait_ready(int(settings["SLA_WEB_PORT"]), processes[0])
        if not gateway:
            print(f"worker ready on port {settings['SLA_WEB_PORT']}; publishing three tickets")
            asyncio.run(_play(kafka, _publish_to_kafka(kafka), seconds))
            return 0
        hooks = {
            **settings,
            "SLA_GATEWAY_SOURCES": str(DEMO_SOURCES),
            "SLA_GATEWAY_PORT": env.get("SLA_DEMO_GATEWAY_PORT", "8089"),
            "SLA_DEMO_ZENDESK_SECRET": secrets.token_urlsafe(24),  # this run's signing secret
        }
        processes.append(_start("gateway", env=hooks))
        port = int(hooks["SLA_GATEWAY_PORT"])
        _wait_ready(port, processes[1], "gateway")
        print(f"worker and gateway (port {port}) ready; posting two signed Zendesk webhooks")
        post = _zendesk_poster(port, hooks["SLA_DEMO_ZENDESK_SECRET"])
        asyncio.run(_play(kafka, _publish_by_webhook(post), seconds))
        return 0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def _start(*command: str, env: Mapping[str, str]) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(
    port: int, process: subprocess.Popen[bytes], what: str = "worker", timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the demo's {what} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the demo's {what} did not become ready")


Script = list[tuple[float, str, str, str, dict[str, Any]]]


async def _play(kafka: Connection, publish: Coroutine[Any, Any, None], seconds: float) -> None:
    """Run ``publish`` and print every SLA event that arrives for ``seconds``."""
    consumer = AIOKafkaConsumer("demo-sla-events", **kafka.client_options(), group_id=None)
    await consumer.start()
    await consumer.seek_to_end()
    start = datetime.now(UTC)
    publishing = asyncio.create_task(publish)
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
        await consumer.stop()


async def _publish_to_kafka(kafka: Connection) -> None:
    producer = AIOKafkaProducer(**kafka.client_options())
    await producer.start()
    start = datetime.now(UTC)
    run = start.strftime("%H%M%S")  # each run's tickets are new tickets
    script: Script = [
        (0.0, "westock", f"WS-{run}", "ticket_created", {"attributes": {"tier": "essential"}}),
        (0.0, "istockist", f"IS-{run}", "ticket_created", {"attributes": {"priority": "critical"}}),
        (0.0, "liveagent", f"LA-{run}", "ticket_created", {"attributes": {"severity": 1}}),
        (1.0, "liveagent", f"LA-{run}", "agent_reply", {}),
        (3.0, "istockist", f"IS-{run}", "attribute_change", {"attributes": {"priority": "medium"}}),
    ]
    try:
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
    finally:
        await producer.stop()


Post = Callable[[dict[str, Any]], tuple[int, str]]


async def _publish_by_webhook(post: Post) -> None:
    """Two Zendesk tickets as Zendesk's event webhooks send them: one never answered (the
    demo policy warns at 8 s and breaches at 16 s), one answered by an agent after 2 s."""
    start = datetime.now(UTC)
    run = int(start.timestamp()) % 100000
    script = [
        (0.0, "created", run, {}),
        (0.0, "created", run + 1, {}),
        (2.0, "comment_added", run + 1, _STAFF_COMMENT),
    ]
    for after, kind, ticket, change in script:
        await asyncio.sleep(max(0.0, after - (datetime.now(UTC) - start).total_seconds()))
        payload = zendesk_event(kind, ticket, change, created=start)
        status, answer = await asyncio.to_thread(post, payload)
        print(f"{_since(start):>6}  -> POST ticket {ticket} {kind}: {status} {answer}")


_STAFF_COMMENT = {
    "comment": {
        "id": "1",
        "body": "Thanks, we are on it.",
        "is_public": True,
        "author": {"id": "42", "is_staff": True, "name": "Agent"},
    }
}


def zendesk_event(
    kind: str, ticket: int, change: dict[str, Any], created: datetime
) -> dict[str, Any]:
    """A Zendesk ticket event in the shape Zendesk documents for event webhooks."""
    now = datetime.now(UTC)
    stamp = now.isoformat().replace("+00:00", "Z")
    return {
        "account_id": 1,
        "id": f"demo-{kind}-{ticket}-{now.timestamp()}",
        "time": stamp,
        "type": f"zen:event-type:ticket.{kind}",
        "subject": f"zen:ticket:{ticket}",
        "zendesk_event_version": "2022-11-06",
        "detail": {
            "id": str(ticket),
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "updated_at": stamp,
            "status": "NEW" if kind == "created" else "OPEN",
            "priority": "NORMAL",
            "subject": "Where is my order?",
            "tags": ["demo"],
        },
        "event": change,
    }


def _zendesk_poster(port: int, secret: str) -> Post:
    def post(payload: dict[str, Any]) -> tuple[int, str]:
        body = orjson.dumps(payload)
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/hooks/westock-zendesk",
            data=body,
            headers={"Content-Type": "application/json", **signed_headers(secret, stamp, body)},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    return post


def _since(start: datetime) -> str:
    return f"+{(datetime.now(UTC) - start).total_seconds():.1f}s"


if __name__ == "__main__":
    sys.exit(run_demo(os.environ))
