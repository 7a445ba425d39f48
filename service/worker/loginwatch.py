"""The worker's side of logging in to Kafka: Faust's credentials from the connection, and
a watch that ends the process when the brokers refuse the login while it runs."""

import logging
import os
import ssl
import time

import faust
from faust.types.auth import CredentialsT

from service.connection import Connection
from service.handshake import AUTHENTICATION_ERRORS, LoginRefused, check_login

log = logging.getLogger(__name__)

SUSPECT_ERRORS = (*AUTHENTICATION_ERRORS, ssl.SSLError)

# Exit code of a worker whose Kafka login was refused (the configuration is wrong: 2 too).
EXIT_LOGIN_REFUSED = 2


def faust_credentials(connection: Connection) -> CredentialsT | None:
    """What Faust's consumer and producer log in with (None: PLAINTEXT)."""
    if connection.uses_sasl:
        return faust.SASLCredentials(
            username=connection.username,
            password=connection.password,
            ssl_context=connection.ssl_context if connection.uses_tls else None,
            mechanism=connection.mechanism,
        )
    if connection.uses_tls:
        return faust.SSLCredentials(connection.ssl_context)
    return None


class LoginWatch(logging.Handler):
    """Ends the process when the brokers refuse the login while the worker runs (a rotated
    password, a revoked user): aiokafka's clients log the refusal and retry it forever.

    As a handler on aiokafka's logger it notices a logged authentication or TLS error; and
    while the worker is not ready or stalled it suspects one anyway. Then, every ``every``
    seconds, it logs in again on a fresh connection (``check_login``); a refusal confirmed
    there ends the process with exit code 2 and a message that names authentication."""

    def __init__(self, connection: Connection, every: float = 15.0) -> None:
        super().__init__(logging.WARNING)
        self.connection = connection
        self.every = every
        self.suspect = False
        self._next = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if any(isinstance(arg, SUSPECT_ERRORS) for arg in args):
            self.suspect = True

    async def check(self, healthy: bool) -> None:
        now = time.monotonic()
        if (healthy and not self.suspect) or now < self._next:
            return
        self._next, self.suspect = now + self.every, False
        try:
            await check_login(self.connection, timeout=min(10.0, self.every))
        except LoginRefused as refused:
            log.critical("%s", refused)
            # on file descriptor 2 itself: mode replaces sys.stderr with its logger
            os.write(2, f"sla-timer worker: {refused}\n".encode())
            os._exit(EXIT_LOGIN_REFUSED)
