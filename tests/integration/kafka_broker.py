"""Helpers for integration tests that need the real local Kafka broker.

Plain Python (no pytest import), so fixtures, scripts and tests can all use it:

    from tests.integration.kafka_broker import ensure_broker, create_topics

    bootstrap = ensure_broker()                     # "127.0.0.1:9092", starts it if needed
    create_topics(bootstrap, {"ticket-events": 3})  # idempotent

The broker itself is managed by ``deploy/kafka/kafka.sh`` (single-node KRaft, Apache
Kafka jars from Maven Central, Java 17); see that script for the environment variables.

The secure broker (``kafka.sh up-secure``: SASL_SSL, mutual TLS, ACLs) is a second instance:

    sasl = ensure_secure_broker()       # secure.env: SLA_KAFKA_BROKERS, ..._SASL_PASSWORD, ...
    mtls = secure_mtls_env()            # secure-mtls.env: ..._SSL_CERTFILE, ..._SSL_KEYFILE
    admin = secure_admin_bootstrap()    # its loopback PLAINTEXT listener (a super user)
    add_user("alice", "secret")         # SCRAM-SHA-256 and -512
    grant_worker("alice", "app", "it.", ["ticket-events"])
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
DEFAULT_PORT = 9092
SECURE_ENV_FILE = REPO_ROOT / ".local" / "kafka" / "secure.env"
SECURE_MTLS_ENV_FILE = REPO_ROOT / ".local" / "kafka" / "secure-mtls.env"


def _script_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env["KAFKA_PORT"] = str(port)
    if port != DEFAULT_PORT:
        # A second broker must not share the default instance's data dir or controller port.
        env.setdefault("KAFKA_DATA_DIR", str(REPO_ROOT / ".local" / "kafka" / f"data-{port}"))
        env.setdefault("KAFKA_CONTROLLER_PORT", str(port + 1))
    return env


def _run_script(
    command: str, port: int, timeout: float, *, args: Sequence[str] = (), secure: bool = False
) -> subprocess.CompletedProcess[str]:
    # The secure broker's commands take their ports from KAFKA_SECURE_* (or the defaults).
    env = dict(os.environ) if secure else _script_env(port)
    try:
        return subprocess.run(
            ["bash", str(KAFKA_SH), command, *args],
            env=env,
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


def _secure_command(command: str, *args: str, timeout: float = 120.0) -> None:
    done = _run_script(command, DEFAULT_PORT, timeout, args=args, secure=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"`{KAFKA_SH} {command}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )


def read_env_file(path: Path) -> dict[str, str]:
    """Parse ``KEY=value`` lines (no quotes, no ``export``; blank and ``#`` lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"{path}: not a KEY=value line: {line!r}")
            values[key.strip()] = value
    return values


def ensure_secure_broker(timeout: float = 600.0) -> dict[str, str]:
    """Start the secure broker unless it runs; return its ``secure.env`` (SASL_SSL with
    SCRAM-SHA-512 as user ``sla-timer``: ``SLA_KAFKA_BROKERS``, ``SLA_KAFKA_SECURITY_PROTOCOL``,
    ``SLA_KAFKA_SASL_MECHANISM``, ``SLA_KAFKA_SASL_USERNAME``, ``SLA_KAFKA_SASL_PASSWORD``,
    ``SLA_KAFKA_SSL_CAFILE``).

    ``kafka.sh up-secure`` is idempotent and cheap when the broker runs (it only rewrites the
    env files), so it is always called: the files then match the running broker.
    """
    _secure_command("up-secure", timeout=timeout)
    return read_env_file(SECURE_ENV_FILE)


def stop_secure_broker(timeout: float = 120.0) -> None:
    """Stop the secure broker (its data stays; ``ensure_secure_broker`` starts it again)."""
    _secure_command("down-secure", timeout=timeout)


def secure_mtls_env(timeout: float = 600.0) -> dict[str, str]:
    """``secure-mtls.env`` of the secure broker (started if needed): ``SLA_KAFKA_BROKERS``,
    ``SLA_KAFKA_SECURITY_PROTOCOL=SSL``, ``SLA_KAFKA_SSL_CAFILE``, ``SLA_KAFKA_SSL_CERTFILE``,
    ``SLA_KAFKA_SSL_KEYFILE``. The client certificate's principal is ``User:sla-timer``."""
    ensure_secure_broker(timeout)
    return read_env_file(SECURE_MTLS_ENV_FILE)


def secure_admin_bootstrap() -> str:
    """The secure broker's loopback PLAINTEXT listener, whose principal is a super user."""
    return f"127.0.0.1:{os.environ.get('KAFKA_SECURE_INTERNAL_PORT', '9196')}"


def add_user(username: str, password: str, *, timeout: float = 120.0) -> None:
    """Create (or replace) SCRAM-SHA-256 and SCRAM-SHA-512 credentials on the secure broker.

    The broker applies them from its metadata log a moment after this returns."""
    _secure_command("add-user", username, password, timeout=timeout)


def grant_worker(
    user: str,
    app_id: str,
    output_prefix: str = "",
    input_topics: Sequence[str] = ("ticket-events",),
    *,
    timeout: float = 120.0,
) -> None:
    """Allow ``user`` (a name, or ``User:...``) what an SLA Timer worker with this app id,
    output prefix and input topics needs on the secure broker (``kafka.sh grant-worker``)."""
    _secure_command(
        "grant-worker", user, app_id, output_prefix, ",".join(input_topics), timeout=timeout
    )


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
