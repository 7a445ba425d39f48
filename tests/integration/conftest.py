"""Integration tests use the real local Kafka broker, started by the session if needed."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.kafka_broker import (
    _run_script,
    ensure_broker,
    ensure_secure_broker,
    secure_mtls_env,
)
from tests.integration.worker_process import WorkerProcess, free_port

POLICY = """
calendars:
  always: {timezone: UTC, hours: 24x7}
policies:
  - name: live
    calendar: always
    pause_statuses: [pending]
    clocks:
      - {metric: first_response, targets: [{breach_after: 3s, warn_at: ["50%"]}]}
      - {metric: resolution, targets: [{breach_after: 6s}]}
"""


@pytest.fixture(scope="session")
def bootstrap() -> str:
    return ensure_broker()


@pytest.fixture(scope="session")
def secure_env() -> dict[str, str]:
    """The secure broker's secure.env (SASL_SSL, SCRAM-SHA-512, user sla-timer); started once."""
    return ensure_secure_broker()


@pytest.fixture(scope="session")
def secure_mtls(secure_env: dict[str, str]) -> dict[str, str]:
    """The secure broker's secure-mtls.env (mutual TLS, principal User:sla-timer)."""
    return secure_mtls_env()


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "live.yaml").write_text(POLICY)
    return folder


@pytest.fixture
def worker(bootstrap: str, policy_dir: Path, tmp_path: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(policy_dir, tmp_path / "data")
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def second_broker() -> Iterator[str]:
    """A broker of the test module's own on another port (one per module that asks for it):
    freezing, stopping or restarting it under a worker leaves the shared one alone. Its data
    dir is .local/kafka/data-PORT, so a `kafka.sh down` then `up` on that port keeps its
    topics and offsets; it is stopped and its data deleted after the module."""
    port = free_port()
    while _busy(port + 1):  # its controller listens on port + 1
        port = free_port()
    bootstrap = ensure_broker(port)
    yield bootstrap
    _run_script("reset", port, timeout=120)  # stops it and deletes its data


def _busy(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
