"""How every Kafka client of the service connects: brokers, TLS and SASL (docs/worker.md).

The worker (Faust's consumer and producer, the outbox's producer, the changelog preloader,
the topic creator), ``report --topic`` and the demo all connect with one ``Connection``
read from the ``SLA_KAFKA_*`` variables, so a setting can never reach one client and miss
another. ``Connection.from_env`` checks the variables together and lists every problem;
the TLS files are read then, so a wrong path or a key that does not match its certificate
is refused at start, not at the first connection.
"""

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.core.errors import InvalidConfiguration

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

VARIABLES: dict[str, tuple[str, str]] = {
    "SLA_KAFKA_BROKERS": ("127.0.0.1:9092", "Kafka bootstrap servers, comma-separated host:port"),
    "SLA_KAFKA_SECURITY_PROTOCOL": ("PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    "SLA_KAFKA_SASL_MECHANISM": (
        "",
        "with SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (required)",
    ),
    "SLA_KAFKA_SASL_USERNAME": ("", "with SASL_*: the user name (required)"),
    "SLA_KAFKA_SASL_PASSWORD": ("", "with SASL_*: the password (required; never printed)"),
    "SLA_KAFKA_SSL_CAFILE": (
        "",
        "with SSL or SASL_SSL: PEM file of the CA certificates to trust (default: the "
        "system's trust store)",
    ),
    "SLA_KAFKA_SSL_CERTFILE": (
        "",
        "with SSL or SASL_SSL: PEM client certificate for mutual TLS (with SLA_KAFKA_SSL_KEYFILE)",
    ),
    "SLA_KAFKA_SSL_KEYFILE": ("", "PEM private key of SLA_KAFKA_SSL_CERTFILE"),
    "SLA_KAFKA_SSL_KEY_PASSWORD": ("", "password of SLA_KAFKA_SSL_KEYFILE, if it is encrypted"),
}


@dataclass(frozen=True)
class Connection:
    """Where the brokers are and how to log in. ``str()`` and ``repr()`` never show secrets."""

    brokers: str = "127.0.0.1:9092"
    protocol: str = "PLAINTEXT"
    mechanism: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""
    key_password: str = field(default="", repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def describe(self) -> str:
        """One line for logs and error messages: brokers, protocol, mechanism and user."""
        parts = [self.brokers, self.protocol]
        if self.uses_sasl:
            parts.append(f"{self.mechanism} as {self.username!r}")
        if self.certfile:
            parts.append(f"client certificate {self.certfile}")
        return ", ".join(parts)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.brokers,
            "security_protocol": self.protocol,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context
        if self.uses_sasl:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options

    @classmethod
    def from_env(cls, env: Mapping[str, str], brokers: str | None = None) -> "Connection":
        """The connection the environment describes (``brokers`` overrides
        ``SLA_KAFKA_BROKERS``); ``SlaTimerError`` lists every problem."""
        problems: list[str] = []
        connection = cls.read(env, problems, brokers)
        if problems:
            raise InvalidConfiguration(problems)
        return connection

    @classmethod
    def read(
        cls, env: Mapping[str, str], problems: list[str], brokers: str | None = None
    ) -> "Connection":
        """Like ``from_env``, adding its problems to ``problems`` (for callers that check
        more variables and report them all together)."""
        value = {name: env.get(name, default).strip() for name, (default, _) in VARIABLES.items()}
        if brokers is not None:
            value["SLA_KAFKA_BROKERS"] = brokers.strip()
        protocol = value["SLA_KAFKA_SECURITY_PROTOCOL"].upper()
        mechanism = value["SLA_KAFKA_SASL_MECHANISM"].upper()
        if not value["SLA_KAFKA_BROKERS"]:
            problems.append("SLA_KAFKA_BROKERS is empty: use host:port[,host:port]")
        if protocol not in PROTOCOLS:
            problems.append(
                f"SLA_KAFKA_SECURITY_PROTOCOL={protocol!r}: use one of {', '.join(PROTOCOLS)}"
            )
        sasl = protocol.startswith("SASL_")
        tls = protocol in ("SSL", "SASL_SSL")
        if sasl:
            if mechanism not in MECHANISMS:
                problems.append(
                    f"SLA_KAFKA_SASL_MECHANISM={mechanism!r}: with {protocol} use one of "
                    f"{', '.join(MECHANISMS)}"
                )
            for name in ("SLA_KAFKA_SASL_USERNAME", "SLA_KAFKA_SASL_PASSWORD"):
                if not value[name]:
                    problems.append(f"{name} is empty: {protocol} needs it")
        else:
            given = [name for name in VARIABLES if "_SASL_" in name and value[name]]
            if given:
                problems.append(
                    f"{', '.join(given)} set but SLA_KAFKA_SECURITY_PROTOCOL={protocol}: "
                    "use SASL_SSL or SASL_PLAINTEXT to log in, or unset them"
                )
        context = None
        if tls:
            context = _ssl_context(value, problems)
        else:
            given = [name for name in VARIABLES if "_SSL_" in name and value[name]]
            if given:
                problems.append(
                    f"{', '.join(given)} set but SLA_KAFKA_SECURITY_PROTOCOL={protocol}: "
                    "use SSL or SASL_SSL for TLS, or unset them"
                )
        return cls(
            brokers=value["SLA_KAFKA_BROKERS"],
            protocol=protocol,
            mechanism=mechanism if sasl else "",
            username=value["SLA_KAFKA_SASL_USERNAME"],
            password=value["SLA_KAFKA_SASL_PASSWORD"],
            cafile=value["SLA_KAFKA_SSL_CAFILE"],
            certfile=value["SLA_KAFKA_SSL_CERTFILE"],
            keyfile=value["SLA_KAFKA_SSL_KEYFILE"],
            key_password=value["SLA_KAFKA_SSL_KEY_PASSWORD"],
            ssl_context=context,
        )


def _ssl_context(value: Mapping[str, str], problems: list[str]) -> ssl.SSLContext | None:
    """A client TLS context that verifies the brokers' certificates and host names (against
    SLA_KAFKA_SSL_CAFILE, else the system's trust store), with the client certificate if
    one is given; None after adding what is wrong to ``problems``."""
    cafile = value["SLA_KAFKA_SSL_CAFILE"]
    certfile, keyfile = value["SLA_KAFKA_SSL_CERTFILE"], value["SLA_KAFKA_SSL_KEYFILE"]
    if bool(certfile) != bool(keyfile):
        problems.append(
            "SLA_KAFKA_SSL_CERTFILE and SLA_KAFKA_SSL_KEYFILE go together: set both for "
            "mutual TLS, or neither"
        )
        return None
    if value["SLA_KAFKA_SSL_KEY_PASSWORD"] and not keyfile:
        problems.append("SLA_KAFKA_SSL_KEY_PASSWORD is set but SLA_KAFKA_SSL_KEYFILE is not")
        return None
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile or None)
    except (OSError, ssl.SSLError) as error:
        problems.append(f"SLA_KAFKA_SSL_CAFILE={cafile!r}: {_why(error)}")
        return None
    if certfile:
        try:
            context.load_cert_chain(
                certfile, keyfile, password=value["SLA_KAFKA_SSL_KEY_PASSWORD"] or None
            )
        except (OSError, ssl.SSLError) as error:
            problems.append(
                f"SLA_KAFKA_SSL_CERTFILE={certfile!r} with SLA_KAFKA_SSL_KEYFILE={keyfile!r}: "
                f"{_why(error)}"
            )
            return None
    return context


def _why(error: OSError | ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLError):
        return f"not usable: {error.reason or error}"
    if isinstance(error, FileNotFoundError):
        return "no such file"
    return error.strerror or str(error)
