"""How the worker's batch sender judges a failed send (service.worker.producer.classify)."""

import pytest
from aiokafka import errors

from service.worker.producer import classify


@pytest.mark.parametrize(
    "error",
    [
        errors.MessageSizeTooLargeError(),
        errors.RecordListTooLargeError(),
        errors.RecordTooLargeError("3000000 bytes fit no batch"),
        errors.InvalidTopicError(),
        errors.CorruptRecordException(),
        errors.InvalidTimestampError(),
        errors.UnknownError(),  # any other non-retriable answer of the broker
    ],
)
def test_what_the_broker_will_never_accept_is_refused(error: BaseException) -> None:
    assert classify(error) == "refused"


@pytest.mark.parametrize(
    "error",
    [
        errors.BrokerNotAvailableError(),
        errors.LeaderNotAvailableError(),
        errors.NotLeaderForPartitionError(),
        errors.RequestTimedOutError(),
        errors.NotEnoughReplicasError(),
        errors.NotEnoughReplicasAfterAppendError(),
        errors.KafkaConnectionError(),
        errors.NodeNotReadyError(),
        errors.UnknownTopicOrPartitionError(),
        errors.KafkaTimeoutError(),  # not retriable for aiokafka, but about time, not data
        TimeoutError(),
        errors.TopicAuthorizationFailedError(),  # configuration: wait, and say so
    ],
)
def test_what_may_succeed_later_is_retried(error: BaseException) -> None:
    assert classify(error) == "retry"


@pytest.mark.parametrize(
    "error",
    [
        errors.OutOfOrderSequenceNumber(),  # the gap a refused batch leaves
        errors.UnknownProducerId(),
        errors.ProducerFenced(),
        errors.ProducerClosed(),
        errors.KafkaError("Unexpected error during batch delivery"),  # the sender died
        RuntimeError("anything else"),
    ],
)
def test_a_spoiled_producer_is_replaced_and_the_record_sent_again(error: BaseException) -> None:
    assert classify(error) == "renew"
