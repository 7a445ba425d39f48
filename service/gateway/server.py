"""The gateway's HTTP server (aiohttp): ``POST /hooks/{source}`` turns a helpdesk's webhook
into input events on Kafka; ``/healthz``, ``/readyz`` and ``/metrics`` for operations.

What a delivery is answered (docs/gateway.md):

- 404: no such source;  413: the body is over the limit;  401: the signature (or token) is
  missing, wrong or stale: nothing is produced;
- 200 ``{"events": n}``: every mapped event was acknowledged by Kafka;
- 200 ``{"ignored": kind}``: verified, a kind of event SLA clocks do not use;
- 202 ``{"dead_letter": reason}``: verified but not mappable: the delivery went to the
  dead-letter topic (so the helpdesk does not retry it forever);
- 503 with ``Retry-After``: Kafka did not acknowledge in time; the helpdesk retries and, the
  ids being the helpdesk's own, a retry is a duplicate the worker drops.
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.core.instant import Instant
from service.gateway import Ignored, Mapped, Source, Sources, Unauthorized, Unmappable, adapt
from service.gateway.delivery import Delivery, KafkaUnavailable, Record
from service.gateway.metrics import GatewayMetrics
from service.letter import dead_letter_body
from service.wire import decode

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class Topics:
    events: str  # the first input topic
    dead_letters: str


class Gateway:
    def __init__(
        self,
        sources: Sources,
        delivery: Delivery,
        topics: Topics,
        max_body: int,
        clock: Callable[[], Instant],
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.sources = sources
        self.delivery = delivery
        self.topics = topics
        self.max_body = max_body
        self.clock = clock
        self.metrics = metrics or GatewayMetrics(sources.sources)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body)
        app.router.add_post("/hooks/{source}", self.hook)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_view)
        return app

    async def hook(self, request: web.Request) -> web.Response:
        source = self.sources.get(request.match_info["source"])
        if source is None:
            self.metrics.requests.labels("", "", "unknown_source").inc()
            return _answer(404, {"error": "no such source"})
        kind = source.kind
        if request.content_length is not None and request.content_length > self.max_body:
            return self._done(source, "too_large", 413, {"error": "body over the limit"})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._done(source, "too_large", 413, {"error": "body over the limit"})
        secret = self.sources.secrets.get(source.name, "")
        outcome = adapt(request.headers, body, source, secret, self.clock())
        if isinstance(outcome, Unauthorized):
            self.metrics.signature_failures.labels(source.name, kind).inc()
            log.warning("%s: refused: %s", source.name, outcome.reason)
            return self._done(source, "unauthorized", 401, {"error": "unauthorized"})
        if isinstance(outcome, Ignored):
            return self._done(source, "ignored", 200, {"ignored": outcome.kind})
        if isinstance(outcome, Mapped):
            records, problem = self._records(outcome)
            if problem is None:
                return await self._produce(source, records, "accepted", {"events": len(records)})
            outcome = Unmappable(problem)
        self.metrics.mapping_failures.labels(source.name, kind).inc()
        letter = dead_letter_body(
            body,
            None,
            outcome.reason,
            None,
            None,
            None,
            self.clock(),
            extra={"source": source.name, "kind": kind},
        )
        record = Record(self.topics.dead_letters, None, letter)
        return await self._produce(source, [record], "dead_letter", {"dead_letter": outcome.reason})

    def _records(self, mapped: Mapped) -> tuple[list[Record], str | None]:
        """The Kafka records of the mapped events, each checked as the worker will read it;
        a reason instead when one would be refused there."""
        records = []
        for event in mapped.events:
            value = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
            try:
                decode(value)
            except Exception as error:  # any refusal: the delivery is dead-lettered
                return [], f"mapped event not valid: {error}"
            records.append(Record(self.topics.events, str(event["ticket_id"]).encode(), value))
        return records, None

    async def _produce(
        self, source: Source, records: list[Record], outcome: str, answer: dict[str, object]
    ) -> web.Response:
        try:
            seconds = await self.delivery.send(records)
        except KafkaUnavailable as error:
            log.warning("%s: Kafka unavailable: %s", source.name, error)
            response = self._done(source, "unavailable", 503, {"error": "Kafka unavailable"})
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        self.metrics.produce_seconds.observe(seconds)
        if outcome == "accepted":
            self.metrics.events.labels(source.name, source.kind).inc(len(records))
        return self._done(source, outcome, 202 if outcome == "dead_letter" else 200, answer)

    def _done(
        self, source: Source, outcome: str, status: int, body: dict[str, object]
    ) -> web.Response:
        self.metrics.requests.labels(source.name, source.kind, outcome).inc()
        return _answer(status, body)

    async def healthz(self, request: web.Request) -> web.Response:
        return _answer(200, {"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        if self.delivery.ready:
            return _answer(200, {"status": "ready"})
        return _answer(503, {"status": "kafka unavailable", "reason": self.delivery.last_error})

    async def metrics_view(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _answer(status: int, body: dict[str, object]) -> web.Response:
    return web.json_response(body, status=status)


def now_micros() -> Instant:
    return time.time_ns() // 1000
