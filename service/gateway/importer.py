"""``sla-timer import``: the open tickets of a helpdesk export published as input events
(``adopt``), to the first input topic, keyed by ticket id, or printed with ``--dry-run``."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from service.connection import Connection
from service.core.errors import SlaTimerError
from service.core.instant import Instant
from service.handshake import check_login

from .adopt import Adoption, Format, adopt
from .sources import load_sources

MAX_EXPORT_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class ImportRequest:
    source: str
    form: Format
    file: Path
    include_closed: bool = False
    created_before: Instant | None = None
    dry_run: bool = False


def run_import(request: ImportRequest, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """0 when every ticket was published (or printed), 1 when some could not be read (the
    others are published), 2 for bad settings, sources or file, 3 when Kafka failed."""
    try:
        path = env.get("SLA_GATEWAY_SOURCES", "deploy/gateway/sources.yaml")
        sources = load_sources(path, env, with_secrets=False)
        source = sources.get(request.source)
        if source is None:
            names = ", ".join(s.name for s in sources.sources)
            raise SlaTimerError(f"no source {request.source!r} in the sources file ({names})")
        kafka = None if request.dry_run else Connection.from_env(env)
        if request.file.stat().st_size > MAX_EXPORT_BYTES:
            raise SlaTimerError(f"{request.file}: larger than {MAX_EXPORT_BYTES:,} bytes")
        data = request.file.read_bytes()
    except (SlaTimerError, OSError) as error:
        print(f"sla-timer import: {error}", file=err)
        return 2
    adoption = adopt(data, request.form, source, request.include_closed, request.created_before)
    for problem in adoption.problems:
        print(f"{request.file}: {problem}", file=err)
    if kafka is None:
        for event in adoption.events:
            out.write(orjson.dumps(event).decode() + "\n")
    else:
        topic = env.get("SLA_INPUT_TOPICS", "ticket-events").split(",")[0].strip()
        try:
            asyncio.run(_publish(kafka, topic, adoption))
        except (SlaTimerError, KafkaError, TimeoutError) as error:
            print(f"sla-timer import: nothing certain was published: {error}", file=err)
            return 3
    _summary(adoption, request, err)
    return 1 if adoption.problems else 0


async def _publish(kafka: Connection, topic: str, adoption: Adoption) -> None:
    unreachable = await check_login(kafka)  # LoginRefused says why
    if unreachable is not None:
        raise SlaTimerError(f"Kafka did not answer ({kafka.describe()}): {unreachable}")
    producer = AIOKafkaProducer(**kafka.client_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        acks = [
            await producer.send(topic, orjson.dumps(event), key=event["ticket_id"].encode())
            for event in adoption.events
        ]
        await asyncio.wait_for(asyncio.gather(*acks), timeout=120)
    finally:
        await producer.stop()


def _summary(adoption: Adoption, request: ImportRequest, err: TextIO) -> None:
    done = "printed" if request.dry_run else "published"
    answered = sum(1 for event in adoption.events if event["type"] == "first_response")
    print(
        f"{done} {adoption.open_tickets} tickets ({answered} already answered); skipped "
        f"{adoption.skipped_closed} solved or closed, {adoption.skipped_later} created too late; "
        f"{len(adoption.problems)} not readable",
        file=err,
    )
