"""Kafka for the gateway: one idempotent producer, started again whenever Kafka returns,
and the answer a webhook gets depends on what Kafka acknowledged.

A delivery's events are produced together and the helpdesk hears 2xx only once the broker
acknowledged every one (``acks=all``); any failure or ``timeout`` answers 503, so the
helpdesk retries, and a retry produces the same ``event_id``s, which the worker drops.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from service.connection import Connection
from service.core.errors import SlaTimerError
from service.handshake import LoginRefused, check_login

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes


class KafkaUnavailable(SlaTimerError):
    """Kafka did not acknowledge in time (or is not connected): answer 503."""


class Delivery:
    """The gateway's producer. ``ready`` is true while Kafka answers: it is checked every
    ``check_every`` seconds, and a producer that could not start is started again then."""

    def __init__(self, kafka: Connection, timeout: float, check_every: float = 5.0) -> None:
        self.kafka = kafka
        self.timeout = timeout
        self.check_every = check_every
        self.producer: AIOKafkaProducer | None = None
        self.ready = False
        self.last_error = ""
        self._watch: asyncio.Task[None] | None = None

    @property
    def watch(self) -> "asyncio.Task[None]":
        """The background task that keeps Kafka connected; it ends only with
        ``LoginRefused``."""
        assert self._watch is not None, "start() first"
        return self._watch

    async def start(self) -> None:
        """Log in once (``LoginRefused`` ends the gateway: retrying cannot help), then keep
        the producer connected in the background."""
        unreachable = await check_login(self.kafka, timeout=self.timeout)
        if unreachable is not None:
            self.last_error = unreachable
            log.warning("Kafka did not answer (%s): %s", self.kafka.describe(), unreachable)
        self._watch = asyncio.create_task(self._keep_connected())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        if self.producer is not None:
            await self.producer.stop()

    async def send(self, records: Sequence[Record]) -> float:
        """Produce ``records``; return the seconds Kafka took to acknowledge all of them.
        ``KafkaUnavailable`` when it did not within the timeout."""
        producer = self.producer
        if producer is None:
            raise KafkaUnavailable(self.last_error or "not connected to Kafka yet")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                acks = [await producer.send(r.topic, r.value, key=r.key) for r in records]
                await asyncio.gather(*acks)
        except (KafkaError, TimeoutError) as error:
            self.last_error = repr(error)
            raise KafkaUnavailable(self.last_error) from None
        return time.perf_counter() - started

    async def _keep_connected(self) -> None:
        while True:
            try:
                await self._check()
            except LoginRefused:
                raise
            except Exception as error:  # any failure: not ready, try again
                self.ready, self.last_error = False, repr(error)
                log.warning("Kafka not ready: %r", error)
            await asyncio.sleep(self.check_every)

    async def _check(self) -> None:
        if self.producer is None:
            producer = AIOKafkaProducer(
                **self.kafka.client_options(),
                acks="all",
                enable_idempotence=True,  # a retried batch is not written twice
                request_timeout_ms=int(self.timeout * 1000),
            )
            try:
                await asyncio.wait_for(producer.start(), self.timeout)
            except BaseException:
                await producer.stop()
                why = await check_login(self.kafka, timeout=self.timeout)  # refused: raises
                raise KafkaUnavailable(why or "the producer did not start") from None
            self.producer = producer
        async with asyncio.timeout(self.timeout):
            fresh = await self.producer.client.force_metadata_update()
        if not fresh:
            raise KafkaUnavailable("no broker answered a metadata request")
        if not self.ready:
            log.info("Kafka ready (%s)", self.kafka.describe())
        self.ready, self.last_error = True, ""
