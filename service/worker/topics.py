"""Create the worker's topics when they are missing (Faust does not create source topics)."""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from service.core.errors import SlaTimerError
from service.settings import Settings

_TOPIC_EXISTS = 36


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


async def ensure_topics(bootstrap: str, topics: dict[str, int], timeout: float = 30.0) -> list[str]:
    """Create missing topics; return the names created. Existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, count, 1) for name, count in topics.items() if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in getattr(response, "topic_errors", []):
                if code not in (0, _TOPIC_EXISTS):
                    raise SlaTimerError(f"cannot create topic {name!r}: Kafka error code {code}")
        return [topic.name for topic in missing]
    except (KafkaError, TimeoutError, OSError) as error:
        raise SlaTimerError(f"Kafka at {bootstrap} did not answer: {error!r}") from None
    finally:
        await admin.close()
