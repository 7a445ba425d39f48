"""Helpers for integration tests that need the real local Kafka broker.

Plain Python (no pytest import), so fixtures, scripts and tests can all use it:

    from tests.integration.kafka_broker import ensure_broker, create_topics

    bootstrap = ensure_broker()                     # "127.0.0.1:9092", starts it if needed
    create_topics(bootstrap, {"ticket-events": 3})  # idempotent

The broker itself is managed by ``deploy/kafka/kafka.sh`` (single-node KRaft, Apache
Kafka jars from Maven Central, Java 17); see that script for the environment variables.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
DEFAULT_PORT = 9092


def _script_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env["KAFKA_PORT"] = str(port)
    if port != DEFAULT_PORT:
        # A second broker must not share the default instance's data dir or controller port.
        env.setdefault("KAFKA_DATA_DIR", str(REPO_ROOT / ".local" / "kafka" / f"data-{port}"))
        env.setdefault("KAFKA_CONTROLLER_PORT", str(port + 1))
    return env


def _run_script(command: str, port: int, timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["bash", str(KAFKA_SH), command],
            env=_script_env(port),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or "") if isinstance(exc.stdout, str) else ""
        err = (exc.stderr or "") if isinstance(exc.stderr, str) else ""
        raise RuntimeError(
            f"`{KAFKA_SH} {command}` did not finish within {timeout:.0f}s\n{out}{err}"
        ) from exc


def ensure_broker(port: int = DEFAULT_PORT, *, timeout: float = 600.0) -> str:
    """Return the bootstrap address of a running local broker, starting it if needed.

    Runs ``deploy/kafka/kafka.sh status`` and, when that fails, ``kafka.sh up`` (which
    fetches the jars on first use, formats the storage once and waits until the broker
    answers). Raises RuntimeError carrying the script's output when the broker cannot be
    started.
    """
    bootstrap = f"127.0.0.1:{port}"
    status = _run_script("status", port, timeout=30)
    if status.returncode == 0:
        return bootstrap
    up = _run_script("up", port, timeout=timeout)
    if up.returncode != 0:
        raise RuntimeError(
            f"could not start the local Kafka broker on {bootstrap} "
            f"(`{KAFKA_SH} up` exited {up.returncode}):\n{up.stdout}{up.stderr}"
        )
    return bootstrap


async def adelete_topics(bootstrap: str, topics: list[str]) -> None:
    """Delete the topics (a test's own, when it is done with them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


async def acreate_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> None:
    """Create ``{name: partitions}`` topics unless they exist, then wait until every
    partition of every topic has a leader. Existing topics are left as they are."""
    if not topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name, partitions in topics.items()],
            timeout_ms=int(timeout * 1000),
        )
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code == 0:
                continue
            error = for_code(code)
            if issubclass(error, TopicAlreadyExistsError):
                continue
            message = topic_error[2] if len(topic_error) > 2 else None
            raise error(f"creating topic {name!r} failed: {message or error.description}")
        await _wait_for_leaders(admin, topics, timeout)
    finally:
        await admin.close()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, topics: Mapping[str, int], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(topics)
    while True:
        for meta in await admin.describe_topics(list(pending)):
            partitions = meta.get("partitions") or []
            if (
                meta.get("error_code") == 0
                and partitions
                and all(p.get("leader", -1) >= 0 for p in partitions)
            ):
                pending.pop(meta["topic"], None)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"topics without partition leaders after {timeout}s: {sorted(pending)}"
            )
        await asyncio.sleep(0.1)


def create_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> None:
    """Synchronous wrapper around :func:`acreate_topics` (for fixtures and scripts).

    Must not be called from inside a running event loop; use ``await acreate_topics(...)``
    there instead.
    """
    asyncio.run(
        acreate_topics(bootstrap, topics, replication_factor=replication_factor, timeout=timeout)
    )
