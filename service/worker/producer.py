"""The worker's batch producer: how a failed send is judged, and the slot that replaces a
producer a send left unusable.

A failed send is one of three kinds (``classify``):

- ``retry``: the broker or the network may accept it later (aiokafka's ``retriable``
  errors: broker or leader not available, request timed out, not enough replicas..., and
  timeouts). Sent again, with backoff, until acknowledged or the caller stops.
- ``renew``: the producer's own state is wrong, not the record (an idempotent producer's
  sequence numbers after a refused batch: ``OutOfOrderSequenceNumber``...). Sent again with
  a new producer.
- ``refused``: the broker will never accept this record (too large, invalid topic, corrupt,
  bad timestamp...). Returned to the caller, never retried.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Literal

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka

log = logging.getLogger(__name__)
Kind = Literal["retry", "renew", "refused"]

# Refusals about the record or its topic: sending the same record again cannot succeed.
REFUSED: tuple[type[BaseException], ...] = (
    kafka.MessageSizeTooLargeError,
    kafka.RecordListTooLargeError,
    kafka.RecordTooLargeError,
    kafka.InvalidTopicError,
    kafka.CorruptRecordException,
    kafka.InvalidTimestampError,
    kafka.UnsupportedForMessageFormatError,
    kafka.PolicyViolationError,
)
# The producer's state, not the record: a new producer (new id, sequences from 0) succeeds.
RENEW: tuple[type[BaseException], ...] = (
    kafka.OutOfOrderSequenceNumber,
    kafka.UnknownProducerId,
    kafka.InvalidProducerEpoch,
    kafka.InvalidProducerIdMapping,
    kafka.ProducerFenced,
    kafka.ProducerClosed,
    kafka.IllegalStateError,
)
# Not retriable for aiokafka, but about the cluster or its configuration, not the record:
# waiting (and /readyz saying so) is better than dead-lettering every record.
RETRY: tuple[type[BaseException], ...] = (
    kafka.KafkaTimeoutError,
    asyncio.TimeoutError,
    kafka.TopicAuthorizationFailedError,
    kafka.ClusterAuthorizationFailedError,
    kafka.NoBrokersAvailable,
    kafka.KafkaConnectionError,
    kafka.BrokerNotAvailableError,  # not marked retriable by aiokafka, but it is
    kafka.ReplicaNotAvailableError,
)


def classify(error: BaseException) -> Kind:
    """What to do about a failed send (see the module docstring)."""
    if isinstance(error, REFUSED):
        return "refused"
    if isinstance(error, RENEW):
        return "renew"
    if isinstance(error, RETRY) or getattr(error, "retriable", False):
        return "retry"
    if isinstance(error, kafka.BrokerResponseError):
        return "refused"  # any other error code the broker answers with, not retriable
    return "renew"  # the producer failed (its sender died...): a new one


class ProducerSlot:
    """Holds the producer ``flush`` uses and replaces it when a send left it unusable."""

    def __init__(self, factory: Callable[[], AIOKafkaProducer]) -> None:
        self.factory = factory
        self.producer: AIOKafkaProducer | None = None
        self.spoiled = False
        self.renewals = 0

    async def get(self) -> AIOKafkaProducer:
        if self.producer is not None and self.spoiled:
            log.warning("replacing the producer: a refused or failed batch spoiled its state")
            await self.stop(timeout=5.0)
            self.renewals += 1
        if self.producer is None:
            producer = self.factory()
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self.producer, self.spoiled = producer, False
        return self.producer

    async def stop(self, timeout: float) -> None:
        """Stop the producer; what it could not deliver within ``timeout`` is abandoned."""
        producer, self.producer = self.producer, None
        if producer is None:
            return
        stopping = asyncio.ensure_future(producer.stop())
        done, _ = await asyncio.wait({stopping}, timeout=timeout)
        if not done:
            log.warning("the producer did not stop within %.0f s: abandoned", timeout)
            stopping.cancel()
            sender = getattr(getattr(producer, "_sender", None), "sender_task", None)
            if sender is not None:
                sender.cancel()
        elif stopping.exception() is not None:
            log.warning("stopping the producer failed: %r", stopping.exception())
