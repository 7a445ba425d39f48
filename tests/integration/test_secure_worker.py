"""The worker end to end over TLS and SASL, on the secure local broker (`make kafka-up-secure`),
as a principal that has exactly the permissions docs/kafka.md lists; and a refused login.

The test itself produces and collects on the broker's loopback PLAINTEXT listener (a super
user), so what is tested is the worker's connection, not the test's."""

import os
import secrets
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.kafka_broker import (
    add_user,
    ensure_secure_broker,
    grant_worker,
    secure_admin_bootstrap,
    stop_secure_broker,
)
from tests.integration.worker_process import (
    SLA_TIMER,
    Tickets,
    WorkerProcess,
    produce_and_collect,
    run,
)

pytestmark = pytest.mark.integration


class DottedWorker(WorkerProcess):
    """Topics named ``<name>.<topic>``: apart from the changelog's prefix ``<name>-``, so the
    literal grants of the input, due and output topics are what lets the worker use them."""

    def topic(self, name: str) -> str:
        return f"{self.name}.{name}"

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "SLA_OUTPUT_PREFIX": f"{self.name}.", **self.extra_env}


def secure_worker(policy_dir: Path, tmp_path: Path, env: dict[str, str]) -> WorkerProcess:
    worker = DottedWorker(policy_dir, tmp_path / "data", extra_env=env)
    worker.bootstrap = secure_admin_bootstrap()  # the test's own clients
    return worker


def scram_user(worker: WorkerProcess, secure_env: dict[str, str]) -> dict[str, str]:
    """A fresh SCRAM user allowed what this worker needs (docs/kafka.md), and its env."""
    user, password = f"w-{worker.name}", secrets.token_urlsafe(18)
    add_user(user, password)
    grant_worker(user, worker.name, f"{worker.name}.", [worker.topic("ticket-events")])
    return {**secure_env, "SLA_KAFKA_SASL_USERNAME": user, "SLA_KAFKA_SASL_PASSWORD": password}


def restart_secure_broker() -> None:
    stop_secure_broker()
    ensure_secure_broker()


def breaches_arrive(worker: WorkerProcess) -> None:
    tickets = Tickets()
    messages = [
        (b"A", tickets.event("A", "ticket_created")),  # never answered: breaches
        (b"B", tickets.event("B", "ticket_created")),
        (b"B", tickets.event("B", "agent_reply", after=0.5)),  # first response met
    ]
    topics = ["sla-events", "sla-breaches"]
    received = run(produce_and_collect(worker, topics, messages, seconds=10))
    breaches = Counter(
        (r.body["ticket_id"], r.body["metric"])
        for r in received
        if r.topic == worker.topic("sla-breaches")
    )
    assert breaches == {("A", "first_response"): 1, ("A", "resolution"): 1, ("B", "resolution"): 1}
    met = [r.body for r in received if r.body["type"] == "sla.met"]
    assert [(m["ticket_id"], m["metric"]) for m in met] == [("B", "first_response")]


def test_a_least_privilege_scram_user_over_sasl_ssl_gets_its_alerts(
    secure_env: dict[str, str], policy_dir: Path, tmp_path: Path
) -> None:
    worker = secure_worker(policy_dir, tmp_path, {})
    worker.extra_env = scram_user(worker, secure_env)
    assert worker.extra_env["SLA_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    worker.start()
    try:
        breaches_arrive(worker)
    finally:
        worker.stop()


def test_a_worker_with_a_client_certificate_over_mutual_tls_gets_its_alerts(
    secure_mtls: dict[str, str], policy_dir: Path, tmp_path: Path
) -> None:
    worker = secure_worker(policy_dir, tmp_path, {})
    # The certificate's principal is User:sla-timer: grant it this worker's names too.
    grant_worker("sla-timer", worker.name, f"{worker.name}.", [worker.topic("ticket-events")])
    worker.extra_env = secure_mtls
    worker.start()
    try:
        breaches_arrive(worker)
    finally:
        worker.stop()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"SLA_KAFKA_SASL_PASSWORD": "wrong"}, "refused authentication as 'sla-timer'"),
        ({"SLA_KAFKA_SASL_MECHANISM": "PLAIN", "SLA_KAFKA_SASL_PASSWORD": "wrong"}, "with PLAIN"),
        ({"SLA_KAFKA_SSL_CAFILE": ""}, "the broker's certificate is not trusted"),
    ],
)
def test_a_refused_login_ends_the_worker_with_a_message_that_says_so(
    secure_env: dict[str, str],
    policy_dir: Path,
    tmp_path: Path,
    change: dict[str, str],
    expected: str,
) -> None:
    worker = secure_worker(policy_dir, tmp_path, {**secure_env, **change})
    started = time.monotonic()
    done = subprocess.run(
        [str(SLA_TIMER), "worker"],
        env=worker.env,
        capture_output=True,
        text=True,
        timeout=60,  # within a minute, never retried forever
        check=False,
    )
    assert done.returncode == 2
    assert expected in done.stderr
    assert secure_env["SLA_KAFKA_SASL_PASSWORD"] not in done.stderr + done.stdout
    assert time.monotonic() - started < 60


def test_report_names_a_refused_login(secure_env: dict[str, str]) -> None:
    policies = Path(__file__).parents[2] / "deploy" / "policies"
    env = {**os.environ, **secure_env}
    wrong = subprocess.run(
        [str(SLA_TIMER), "report", "--policies", str(policies), "--topic", "sla-events"],
        env={**env, "SLA_KAFKA_SASL_PASSWORD": "wrong"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 1
    assert "refused authentication" in wrong.stderr


def test_a_login_refused_while_running_ends_the_worker_within_a_minute(
    secure_env: dict[str, str], policy_dir: Path, tmp_path: Path
) -> None:
    """The user's password changes while the worker runs (a rotation it was not told of);
    the broker restarts, so every connection logs in again. The Kafka clients alone would
    retry forever; the worker exits with code 2 and says why."""
    worker = secure_worker(policy_dir, tmp_path, {})
    worker.extra_env = scram_user(worker, secure_env)
    worker.start()
    try:
        add_user(worker.extra_env["SLA_KAFKA_SASL_USERNAME"], secrets.token_urlsafe(18))
        restart_secure_broker()
        back = time.monotonic()
        assert worker.process is not None
        code = worker.process.wait(timeout=90)
        assert code == 2
        assert time.monotonic() - back < 60
        assert "refused authentication" in worker.log_tail(60)
    finally:
        worker.stop()
