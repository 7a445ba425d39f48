"""Create the worker's topics when they are missing (Faust does not create source topics)."""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, for_code

from service.connection import Connection
from service.core.errors import SlaTimerError
from service.settings import Settings

_TOPIC_EXISTS = 36
_NOT_AUTHORIZED = (29, 31)  # TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED


def topic_plan(settings: Settings) -> dict[str, int]:
    """Every topic the worker reads or writes, with its partition count."""
    names = [
        *settings.input_topics,
        settings.due_topic,
        settings.events_topic,
        settings.warnings_topic,
        settings.breaches_topic,
        settings.dead_letter_topic,
    ]
    return dict.fromkeys(names, settings.partitions)


async def ensure_topics(
    kafka: Connection, topics: dict[str, int], replication: int = 1, timeout: float = 30.0
) -> list[str]:
    """Create missing topics; return the names created. Existing ones are left as they are
    (topics created beforehand need no Create permission)."""
    admin = AIOKafkaAdminClient(**kafka.client_options(), request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, count, replication)
            for name, count in topics.items()
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            problems = [
                _creation_problem(name, code, replication)
                for name, code, *_ in getattr(response, "topic_errors", [])
                if code not in (0, _TOPIC_EXISTS)
            ]
            if problems:
                raise SlaTimerError("\n".join(problems))
        return [topic.name for topic in missing]
    except (KafkaError, TimeoutError, OSError) as error:
        raise SlaTimerError(f"Kafka at {kafka.brokers} did not answer: {error!r}") from None
    finally:
        await admin.close()


def _creation_problem(name: str, code: int, replication: int) -> str:
    error = for_code(code)
    text = f"cannot create topic {name!r}: Kafka error {code} ({error.__name__})"
    if code in _NOT_AUTHORIZED:
        return (
            f"{text}: the worker's user may not create it; create it beforehand or grant "
            "Create (see the permissions the worker needs in the docs)"
        )
    if error.__name__ == "InvalidReplicationFactorError":
        return f"{text}: SLA_REPLICATION_FACTOR={replication} does not fit this cluster"
    return text
