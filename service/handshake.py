"""Log in to Kafka once, as every client of a ``Connection`` will, and say plainly when the
brokers refuse: aiokafka's clients log a refused login and retry it forever, so without
this a wrong password looks like a broker that is down."""

import asyncio
import ssl

from aiokafka import errors
from aiokafka.conn import create_conn
from aiokafka.protocol.metadata import MetadataRequest

from service.connection import Connection
from service.core.errors import SlaTimerError

AUTHENTICATION_ERRORS = (
    errors.SaslAuthenticationFailed,
    errors.AuthenticationFailedError,
    errors.AuthenticationMethodNotSupported,
    errors.UnsupportedSaslMechanismError,
    errors.IllegalSaslStateError,
)


class LoginRefused(SlaTimerError):
    """The brokers refused who we say we are (SASL) or we refused who they are (TLS)."""


async def check_login(connection: Connection, timeout: float = 20.0) -> str | None:
    """Connect to each bootstrap server in turn as every client will (TLS handshake, SASL
    login, one metadata request) until one answers. Return None when one did, else why
    none did (unreachable, timed out...). ``LoginRefused`` when a broker refused the login
    or TLS failed: retrying cannot help, so callers stop with its message."""
    why = "no bootstrap server"
    for server in connection.brokers.split(","):
        host, _, port = server.strip().rpartition(":")
        options = connection.client_options()
        del options["bootstrap_servers"]
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **options),
                timeout,
            )
            try:
                await asyncio.wait_for(conn.send(MetadataRequest([])), timeout)
            finally:
                conn.close()
            return None
        except AUTHENTICATION_ERRORS as error:
            raise LoginRefused(
                f"Kafka at {server.strip()} refused authentication as "
                f"{connection.username!r} with {connection.mechanism}: {_said(error)} "
                "(check SLA_KAFKA_SASL_USERNAME, SLA_KAFKA_SASL_PASSWORD and "
                "SLA_KAFKA_SASL_MECHANISM)"
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise LoginRefused(
                f"TLS to Kafka at {server.strip()}: the broker's certificate is not trusted: "
                f"{error.verify_message} (check SLA_KAFKA_SSL_CAFILE)"
            ) from None
        except ssl.SSLError as error:
            raise LoginRefused(
                f"TLS to Kafka at {server.strip()} failed: {error.reason or error} (is it a "
                "TLS listener? check SLA_KAFKA_SECURITY_PROTOCOL and the client certificate)"
            ) from None
        except (OSError, errors.KafkaError, TimeoutError, ValueError) as error:
            why = f"{server.strip()}: {_said(error)}"
    return why


def _said(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
