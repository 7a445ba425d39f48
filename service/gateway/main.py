"""``sla-timer gateway``: settings and sources checked (every problem listed), then the HTTP
server runs until SIGTERM or SIGINT. A refused Kafka login ends it with exit code 2."""

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from service.connection import VARIABLES as KAFKA_VARIABLES
from service.connection import Connection
from service.core.durations import parse_duration
from service.core.errors import InvalidConfiguration, SlaTimerError
from service.core.instant import DAY, SECOND
from service.gateway import Sources, load_sources
from service.gateway.delivery import Delivery
from service.gateway.server import Gateway, Topics, now_micros
from service.handshake import LoginRefused
from service.settings import whole_number

log = logging.getLogger(__name__)

VARIABLES: dict[str, tuple[str, str]] = {
    "SLA_GATEWAY_HOST": ("127.0.0.1", "address the gateway's HTTP server binds"),
    "SLA_GATEWAY_PORT": ("8080", "the gateway's HTTP port: POST /hooks/{source}, health, metrics"),
    "SLA_GATEWAY_SOURCES": ("deploy/gateway/sources.yaml", "the sources file (docs/gateway.md)"),
    "SLA_GATEWAY_MAX_BODY": ("1048576", "largest webhook body accepted, in bytes (413 above)"),
    "SLA_GATEWAY_KAFKA_TIMEOUT": (
        "5s",
        "how long a delivery waits for Kafka's acknowledgement before answering 503",
    ),
    "SLA_INPUT_TOPICS": ("ticket-events", "the events go to the first of these topics"),
    "SLA_OUTPUT_PREFIX": ("", "prefix of the dead-letter topic (ticket-events-dlq)"),
    **KAFKA_VARIABLES,
}


@dataclass(frozen=True)
class GatewaySettings:
    host: str
    port: int
    sources: Sources = field(repr=False)
    max_body: int
    kafka_timeout: float  # seconds
    events_topic: str
    dead_letter_topic: str
    kafka: Connection

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "GatewaySettings":
        value = {name: env.get(name, default).strip() for name, (default, _) in VARIABLES.items()}
        problems: list[str] = []
        port = whole_number(value, "SLA_GATEWAY_PORT", 1, 65535, problems)
        max_body = whole_number(value, "SLA_GATEWAY_MAX_BODY", 1024, 64 * 1024 * 1024, problems)
        timeout = 0.0
        with contextlib.suppress(SlaTimerError):
            timeout = parse_duration(value["SLA_GATEWAY_KAFKA_TIMEOUT"]).resolve(DAY) / SECOND
        if not 0 < timeout <= 60:
            problems.append(
                f"SLA_GATEWAY_KAFKA_TIMEOUT={value['SLA_GATEWAY_KAFKA_TIMEOUT']!r}: use a "
                "duration from 1s to 60s (Zendesk gives up after 10 s)"
            )
        topics = [t.strip() for t in value["SLA_INPUT_TOPICS"].split(",") if t.strip()]
        if not topics:
            problems.append("SLA_INPUT_TOPICS is empty: name the topic the events go to")
        kafka = Connection.read(env, problems)
        sources = Sources(())
        try:
            sources = load_sources(Path(value["SLA_GATEWAY_SOURCES"]), env)
        except SlaTimerError as error:
            problems.append(f"SLA_GATEWAY_SOURCES={value['SLA_GATEWAY_SOURCES']!r}: {error}")
        if problems:
            raise InvalidConfiguration(problems)
        return cls(
            host=value["SLA_GATEWAY_HOST"],
            port=port,
            sources=sources,
            max_body=max_body,
            kafka_timeout=timeout,
            events_topic=topics[0],
            dead_letter_topic=f"{value['SLA_OUTPUT_PREFIX']}ticket-events-dlq",
            kafka=kafka,
        )


def run_gateway(env: Mapping[str, str]) -> int:
    try:
        settings = GatewaySettings.from_env(env)
    except SlaTimerError as error:
        print(f"sla-timer gateway: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(settings))
    except LoginRefused as refused:
        print(f"sla-timer gateway: {refused}", file=sys.stderr)
        return 2
    return 0


async def _serve(settings: GatewaySettings) -> None:
    delivery = Delivery(settings.kafka, settings.kafka_timeout)
    gateway = Gateway(
        settings.sources,
        delivery,
        Topics(settings.events_topic, settings.dead_letter_topic),
        settings.max_body,
        now_micros,
    )
    await delivery.start()
    runner = web.AppRunner(gateway.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    names = ", ".join(f"/hooks/{source.name}" for source in settings.sources.sources)
    log.info("gateway on http://%s:%d: %s", settings.host, settings.port, names or "no sources")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    watching = delivery.watch
    try:
        done, _ = await asyncio.wait({stopping, watching}, return_when=asyncio.FIRST_COMPLETED)
        if watching in done:
            watching.result()  # LoginRefused: ends the gateway
    finally:
        stopping.cancel()
        await runner.cleanup()  # answers the deliveries in flight first
        await delivery.stop()
