"""The secure local broker (``kafka.sh up-secure``) with aiokafka directly: SASL_SSL with
SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, mutual TLS, how bad credentials fail, and the ACLs.

What a client sees when it is refused (aiokafka 0.14): ``start()`` of a producer, consumer or
admin client raises ``KafkaConnectionError("Unable to bootstrap from [...]")`` within a second;
the cause (``SaslAuthenticationFailed`` [Error 58], ``CERTIFICATE_VERIFY_FAILED``, or the broker
closing the connection of a client without a certificate) is only in an ERROR record of the
``aiokafka`` logger, not in the exception. A topic the principal may not use fails later, at
``send()``: ``TopicAuthorizationFailedError``.
"""

from __future__ import annotations

import asyncio
import logging
import stat
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from aiokafka.helpers import create_ssl_context

from tests.integration.kafka_broker import (
    SECURE_ENV_FILE,
    SECURE_MTLS_ENV_FILE,
    acreate_topics,
    add_user,
    adelete_topics,
    grant_worker,
    secure_admin_bootstrap,
)

pytestmark = pytest.mark.integration

MESSAGES = 20
REFUSED_WITHIN = 5.0  # seconds; each refusal below takes about 0.3 s (SASL) or 0.02 s (TLS)


def sasl_client(
    env: dict[str, str],
    mechanism: str,
    *,
    username: str | None = None,
    password: str | None = None,
    cafile: str | None = "from env",
) -> dict[str, Any]:
    """aiokafka keyword arguments for SASL_SSL from secure.env (cafile=None: system CAs)."""
    return {
        "bootstrap_servers": env["SLA_KAFKA_BROKERS"],
        "security_protocol": env["SLA_KAFKA_SECURITY_PROTOCOL"],
        "sasl_mechanism": mechanism,
        "sasl_plain_username": username or env["SLA_KAFKA_SASL_USERNAME"],
        "sasl_plain_password": password or env["SLA_KAFKA_SASL_PASSWORD"],
        "ssl_context": create_ssl_context(
            cafile=env["SLA_KAFKA_SSL_CAFILE"] if cafile == "from env" else cafile
        ),
    }


def mtls_client(
    env: dict[str, str], *, certificate: bool = True, cafile: str | None = "from env"
) -> dict[str, Any]:
    """aiokafka keyword arguments for mutual TLS from secure-mtls.env."""
    return {
        "bootstrap_servers": env["SLA_KAFKA_BROKERS"],
        "security_protocol": env["SLA_KAFKA_SECURITY_PROTOCOL"],
        "ssl_context": create_ssl_context(
            cafile=env["SLA_KAFKA_SSL_CAFILE"] if cafile == "from env" else cafile,
            certfile=env["SLA_KAFKA_SSL_CERTFILE"] if certificate else None,
            keyfile=env["SLA_KAFKA_SSL_KEYFILE"] if certificate else None,
        ),
    }


@pytest.fixture
def worker_topic(secure_env: dict[str, str]) -> Iterator[str]:
    """A fresh topic under the `sla-timer-` prefix (User:sla-timer may read and write it),
    created and deleted over the admin listener."""
    topic = f"sla-timer-it-{uuid.uuid4().hex[:8]}"
    asyncio.run(acreate_topics(secure_admin_bootstrap(), {topic: 2}))
    yield topic
    asyncio.run(adelete_topics(secure_admin_bootstrap(), [topic]))


async def roundtrip(
    client: dict[str, Any], topic: str, *, group_id: str | None = None
) -> dict[bytes, bytes]:
    """Produce MESSAGES keyed records, then read them back with the same credentials."""
    producer = AIOKafkaProducer(acks="all", **client)
    await producer.start()
    try:
        for i in range(MESSAGES):
            await producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client,
    )
    await consumer.start()
    received: dict[bytes, bytes] = {}
    try:
        async with asyncio.timeout(30):
            while len(received) < MESSAGES:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        assert record.key is not None and record.value is not None
                        received[record.key] = record.value
        if group_id is not None:
            await consumer.commit()  # needs Read on the group
    finally:
        await consumer.stop()
    return received


EXPECTED = {f"k{i}".encode(): f"v{i}".encode() for i in range(MESSAGES)}


async def refused_at_start(client: dict[str, Any]) -> float:
    """Start a producer that must be refused; return how long the refusal took."""
    producer = AIOKafkaProducer(**client)
    started = time.monotonic()
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await producer.start()
    elapsed = time.monotonic() - started
    await producer.stop()
    return elapsed


# ---------------------------------------------------------------- the env files


def test_env_files_hold_exactly_what_a_client_needs(
    secure_env: dict[str, str], secure_mtls: dict[str, str]
) -> None:
    assert set(secure_env) == {
        "SLA_KAFKA_BROKERS",
        "SLA_KAFKA_SECURITY_PROTOCOL",
        "SLA_KAFKA_SASL_MECHANISM",
        "SLA_KAFKA_SASL_USERNAME",
        "SLA_KAFKA_SASL_PASSWORD",
        "SLA_KAFKA_SSL_CAFILE",
    }
    assert secure_env["SLA_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert secure_env["SLA_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert secure_env["SLA_KAFKA_SASL_USERNAME"] == "sla-timer"
    assert len(secure_env["SLA_KAFKA_SASL_PASSWORD"]) >= 16
    assert set(secure_mtls) == {
        "SLA_KAFKA_BROKERS",
        "SLA_KAFKA_SECURITY_PROTOCOL",
        "SLA_KAFKA_SSL_CAFILE",
        "SLA_KAFKA_SSL_CERTFILE",
        "SLA_KAFKA_SSL_KEYFILE",
    }
    assert secure_mtls["SLA_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    for env in (secure_env, secure_mtls):
        assert env["SLA_KAFKA_BROKERS"].startswith("127.0.0.1:")
    for path in (SECURE_ENV_FILE, SECURE_MTLS_ENV_FILE):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert all('"' not in line and not line.startswith("export ") for line in path.open())


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_roundtrip_over_sasl_ssl(
    secure_env: dict[str, str], worker_topic: str, mechanism: str
) -> None:
    received = asyncio.run(roundtrip(sasl_client(secure_env, mechanism), worker_topic))
    assert received == EXPECTED


def test_roundtrip_over_mutual_tls(secure_mtls: dict[str, str], worker_topic: str) -> None:
    received = asyncio.run(roundtrip(mtls_client(secure_mtls), worker_topic))
    assert received == EXPECTED


def test_plain_broker_answers_next_to_the_secure_one(
    bootstrap: str, secure_env: dict[str, str]
) -> None:
    topic = f"it-beside-secure-{uuid.uuid4().hex[:8]}"
    asyncio.run(acreate_topics(bootstrap, {topic: 1}))
    try:
        received = asyncio.run(roundtrip({"bootstrap_servers": bootstrap}, topic))
    finally:
        asyncio.run(adelete_topics(bootstrap, [topic]))
    assert received == EXPECTED


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_wrong_password_is_refused_at_start(
    secure_env: dict[str, str], mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="aiokafka")
    client = sasl_client(secure_env, mechanism, password="not-the-password")
    elapsed = asyncio.run(refused_at_start(client))
    assert elapsed < REFUSED_WITHIN
    assert "SaslAuthenticationFailed" in caplog.text
    assert mechanism in caplog.text or "Invalid username or password" in caplog.text


@pytest.mark.parametrize("listener", ["sasl_ssl", "mtls"])
def test_a_client_without_the_ca_is_refused_at_start(
    secure_env: dict[str, str],
    secure_mtls: dict[str, str],
    listener: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="aiokafka")
    # cafile=None: the system's CAs, which do not include the broker's local CA.
    if listener == "sasl_ssl":
        client = sasl_client(secure_env, "SCRAM-SHA-512", cafile=None)
    else:
        client = mtls_client(secure_mtls, cafile=None)
    assert asyncio.run(refused_at_start(client)) < REFUSED_WITHIN
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


def test_mutual_tls_without_a_client_certificate_is_refused_at_start(
    secure_mtls: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="aiokafka")
    client = mtls_client(secure_mtls, certificate=False)
    assert asyncio.run(refused_at_start(client)) < REFUSED_WITHIN
    assert "closed" in caplog.text  # TLS 1.3: the broker drops the connection after the handshake


# ---------------------------------------------------------------- authorization


async def produce_one(client: dict[str, Any], topic: str) -> None:
    producer = AIOKafkaProducer(request_timeout_ms=10_000, **client)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"probe")
    finally:
        await producer.stop()


@pytest.mark.parametrize("auth", ["scram", "mtls"])
def test_sla_timer_may_produce_to_sla_breaches_but_not_to_another_topic(
    secure_env: dict[str, str], secure_mtls: dict[str, str], auth: str
) -> None:
    unrelated = f"it-unrelated-{uuid.uuid4().hex[:8]}"
    asyncio.run(acreate_topics(secure_admin_bootstrap(), {"sla-breaches": 1, unrelated: 1}))
    if auth == "scram":
        client = sasl_client(secure_env, "SCRAM-SHA-512")
    else:
        client = mtls_client(secure_mtls)  # its certificate's principal is User:sla-timer
    try:
        asyncio.run(produce_one(client, "sla-breaches"))
        started = time.monotonic()
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(produce_one(client, unrelated))
        assert time.monotonic() - started < REFUSED_WITHIN
    finally:
        asyncio.run(adelete_topics(secure_admin_bootstrap(), [unrelated]))


async def connect_with_retry(client: dict[str, Any], timeout: float = 15.0) -> None:
    """A new SCRAM user is live once the broker has applied the metadata record."""
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(**client)
        try:
            await admin.start()
            return
        except KafkaConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


async def create_as(client: dict[str, Any], topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(t, n, 1) for t, n in topics.items()])
        assert all(error[1] in (0, 36) for error in response.topic_errors), response  # 36: exists
    finally:
        await admin.close()


def test_a_fresh_user_gets_exactly_a_workers_acls(secure_env: dict[str, str]) -> None:
    run = uuid.uuid4().hex[:8]
    user, password = f"it-user-{run}", uuid.uuid4().hex
    app_id, prefix, source = f"it-app-{run}", f"it-{run}.", f"it-{run}.tickets"
    add_user(user, password)
    grant_worker(user, app_id, prefix, [source])
    client = sasl_client(secure_env, "SCRAM-SHA-256", username=user, password=password)
    asyncio.run(connect_with_retry(client))

    # Create: its input, due, output and Faust topics (each needs a Create ACL).
    own = {source: 1, f"{prefix}sla-timer-due": 1, f"{prefix}sla-breaches": 1}
    own[f"{app_id}-tickets-changelog"] = 1
    try:
        asyncio.run(create_as(client, own))
        # Read + Write + group: the due topic and a changelog, with the worker's group.
        for topic in (f"{prefix}sla-timer-due", f"{app_id}-tickets-changelog"):
            assert asyncio.run(roundtrip(client, topic, group_id=app_id)) == EXPECTED
        asyncio.run(produce_one(client, f"{prefix}sla-breaches"))
        # Not the default worker's outputs, nor another group's offsets.
        asyncio.run(acreate_topics(secure_admin_bootstrap(), {"sla-breaches": 1}))
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(produce_one(client, "sla-breaches"))
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(produce_one(client, source))  # an input: read only
    finally:
        asyncio.run(adelete_topics(secure_admin_bootstrap(), list(own)))
