"""How every Kafka client connects (TLS, SASL): checked at start, every problem at once, and
the same options reach each client. The secure broker tests log in for real."""

import asyncio
import socket
import ssl
import subprocess
from pathlib import Path

import faust
import pytest

from service.connection import Connection
from service.core.errors import SlaTimerError
from service.handshake import check_login
from service.settings import Settings
from service.worker.loginwatch import faust_credentials

SCRAM = {
    "SLA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "SLA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "SLA_KAFKA_SASL_USERNAME": "sla-timer",
    "SLA_KAFKA_SASL_PASSWORD": "s3cret-password",
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a client certificate signed by it with its key, and a second, unrelated key."""
    where = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=where, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
            "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=client",
            "-keyout", "client.key", "-out", "client.csr")  # fmt: skip
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", "client.pem")  # fmt: skip
    openssl("genrsa", "-out", "other.key", "2048")
    (where / "not-pem.txt").write_text("not a certificate\n")
    return {path.name: path for path in where.iterdir()}


def test_plaintext_by_default_with_nothing_else_to_any_client() -> None:
    connection = Connection.from_env({})
    assert connection.client_options() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert faust_credentials(connection) is None


def test_sasl_ssl_with_scram_reaches_every_client_and_faust(tls: dict[str, Path]) -> None:
    env = {
        **SCRAM,
        "SLA_KAFKA_BROKERS": "k1:9094,k2:9094",
        "SLA_KAFKA_SSL_CAFILE": str(tls["ca.pem"]),
    }
    connection = Connection.from_env(env)
    options = connection.client_options()
    assert options["bootstrap_servers"] == "k1:9094,k2:9094"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "sla-timer",
        "s3cret-password",
    )
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    credentials = faust_credentials(connection)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.ssl_context is context


def test_mutual_tls_loads_the_client_certificate(tls: dict[str, Path]) -> None:
    connection = Connection.from_env(
        {
            "SLA_KAFKA_SECURITY_PROTOCOL": "SSL",
            "SLA_KAFKA_SSL_CAFILE": str(tls["ca.pem"]),
            "SLA_KAFKA_SSL_CERTFILE": str(tls["client.pem"]),
            "SLA_KAFKA_SSL_KEYFILE": str(tls["client.key"]),
        }
    )
    assert connection.client_options()["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in connection.client_options()
    credentials = faust_credentials(connection)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context is connection.ssl_context


def test_sasl_plaintext_has_no_tls_context() -> None:
    connection = Connection.from_env({**SCRAM, "SLA_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext"})
    assert connection.protocol == "SASL_PLAINTEXT"
    assert "ssl_context" not in connection.client_options()
    credentials = faust_credentials(connection)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"


def test_the_password_is_never_shown() -> None:
    connection = Connection.from_env({**SCRAM, "SLA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    for text in (repr(connection), str(connection), connection.describe()):
        assert "s3cret-password" not in text
    assert "SCRAM-SHA-512 as 'sla-timer'" in connection.describe()
    settings = Settings.from_env({**SCRAM, "SLA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    assert "s3cret-password" not in repr(settings)


def test_every_connection_problem_is_listed_with_the_other_settings() -> None:
    with pytest.raises(SlaTimerError) as error:
        Settings.from_env(
            {
                "SLA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "SLA_KAFKA_SASL_MECHANISM": "GSSAPI",
                "SLA_KAFKA_SSL_CAFILE": "/nowhere/ca.pem",
                "SLA_KAFKA_SSL_CERTFILE": "/nowhere/client.pem",
                "SLA_WEB_PORT": "http",
            }
        )
    message = str(error.value)
    assert "SLA_KAFKA_SASL_MECHANISM='GSSAPI': with SASL_SSL use one of PLAIN, SCRAM-SHA-256" in (
        message
    )
    assert "SLA_KAFKA_SASL_USERNAME is empty: SASL_SSL needs it" in message
    assert "SLA_KAFKA_SASL_PASSWORD is empty: SASL_SSL needs it" in message
    assert "SLA_KAFKA_SSL_CERTFILE and SLA_KAFKA_SSL_KEYFILE go together" in message
    assert "SLA_WEB_PORT='http'" in message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLA_KAFKA_SECURITY_PROTOCOL": "TLS"}, "SLA_KAFKA_SECURITY_PROTOCOL='TLS': use one of"),
        ({"SLA_KAFKA_BROKERS": " "}, "SLA_KAFKA_BROKERS is empty"),
        # Credentials given but the protocol forgotten would connect without logging in.
        ({"SLA_KAFKA_SASL_USERNAME": "u"}, "SLA_KAFKA_SASL_USERNAME set but"),
        ({"SLA_KAFKA_SSL_CAFILE": "/ca.pem"}, "SLA_KAFKA_SSL_CAFILE set but"),
    ],
)
def test_settings_that_cannot_work_are_refused(env: dict[str, str], expected: str) -> None:
    with pytest.raises(SlaTimerError, match="invalid configuration") as error:
        Connection.from_env(env)
    assert expected in str(error.value)


def test_tls_files_are_read_at_start(tls: dict[str, Path]) -> None:
    ssl_env = {"SLA_KAFKA_SECURITY_PROTOCOL": "SSL"}
    cases = {
        "no such file": {"SLA_KAFKA_SSL_CAFILE": str(tls["ca.pem"].parent / "missing.pem")},
        "not usable": {"SLA_KAFKA_SSL_CAFILE": str(tls["not-pem.txt"])},
        "KEY_VALUES_MISMATCH": {
            "SLA_KAFKA_SSL_CERTFILE": str(tls["client.pem"]),
            "SLA_KAFKA_SSL_KEYFILE": str(tls["other.key"]),
        },
    }
    for expected, env in cases.items():
        with pytest.raises(SlaTimerError) as error:
            Connection.from_env({**ssl_env, **env})
        assert expected in str(error.value), env


def test_tls_without_a_ca_file_trusts_the_system_store() -> None:
    # Managed clusters (Confluent Cloud, MSK, Aiven with a public CA) need no CA file.
    connection = Connection.from_env({**SCRAM})
    assert connection.ssl_context is not None
    assert connection.ssl_context.cert_store_stats()["x509_ca"] >= 0


def test_a_broker_that_does_not_answer_is_not_a_refused_login() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    why = asyncio.run(check_login(Connection(brokers=f"127.0.0.1:{port}"), timeout=5))
    assert why is not None and f"127.0.0.1:{port}" in why
