"""The worker notices a login refused while it runs, and ends instead of retrying forever."""

import asyncio
import logging

import pytest
from aiokafka.errors import SaslAuthenticationFailed

from service.connection import Connection
from service.handshake import LoginRefused
from service.worker import loginwatch
from service.worker.loginwatch import EXIT_LOGIN_REFUSED, LoginWatch


class Exited(Exception):
    pass


@pytest.fixture
def logins(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each login attempt, refused; the process's exit raises ``Exited`` instead."""
    attempts: list[str] = []

    async def refused(connection: Connection, timeout: float = 20.0) -> str | None:
        attempts.append(connection.brokers)
        raise LoginRefused("Kafka at k:9096 refused authentication as 'sla-timer'")

    def exit_(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(loginwatch, "check_login", refused)
    monkeypatch.setattr(loginwatch.os, "_exit", exit_)
    return attempts


def aiokafka_logs(watch: LoginWatch, error: Exception) -> None:
    # As aiokafka's client logs a failed connection: the error among the arguments.
    logger = logging.getLogger("aiokafka.client")
    logger.addHandler(watch)
    try:
        logger.error("Unable connect to node with id %s: %s", 1, error)
    finally:
        logger.removeHandler(watch)


def test_a_healthy_worker_does_not_log_in_again(logins: list[str]) -> None:
    watch = LoginWatch(Connection(brokers="k:9096"), every=0.0)
    asyncio.run(watch.check(healthy=True))
    assert logins == []


def test_a_logged_refusal_is_confirmed_on_a_fresh_connection_and_ends_the_process(
    logins: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    watch = LoginWatch(Connection(brokers="k:9096"), every=0.0)
    aiokafka_logs(watch, SaslAuthenticationFailed("Authentication failed during authentication"))
    with pytest.raises(Exited) as exited:
        asyncio.run(watch.check(healthy=True))
    assert exited.value.args == (EXIT_LOGIN_REFUSED,)
    assert logins == ["k:9096"]
    assert "refused authentication" in capfd.readouterr().err


def test_other_connection_errors_raise_no_suspicion(logins: list[str]) -> None:
    watch = LoginWatch(Connection(brokers="k:9096"), every=0.0)
    aiokafka_logs(watch, ConnectionRefusedError(111, "Connect call failed"))
    asyncio.run(watch.check(healthy=True))
    assert logins == []


def test_a_stalled_worker_logs_in_again_at_most_every_period(
    logins: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def accepted(connection: Connection, timeout: float = 20.0) -> None:
        logins.append(connection.brokers)

    watch = LoginWatch(Connection(brokers="k:9096"), every=3600.0)
    monkeypatch.setattr(loginwatch, "check_login", accepted)
    for _ in range(5):
        asyncio.run(watch.check(healthy=False))
    assert logins == ["k:9096"]  # once, then not again within the hour
