"""What an adapter makes of one webhook delivery (docs/gateway.md): exactly one of four outcomes.

Outcomes are values, not exceptions: an adapter never raises, whatever the headers and
body, and the server turns each outcome into its answer (401, or 2xx once Kafka has
acknowledged what there is to produce).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from service.core.instant import Instant

from .sources import Source

InputEvent = dict[str, Any]
"""A canonical input event (docs/events.md) as a JSON-ready dict; ``service.wire.decode`` accepts
``json.dumps`` of it."""


@dataclass(frozen=True, slots=True)
class Unauthorized:
    """The signature (or shared token) is missing, wrong or stale: answer 401, produce
    nothing. ``reason`` names the header and the problem, never a secret or a digest."""

    reason: str


@dataclass(frozen=True, slots=True)
class Mapped:
    """Verified and mapped: produce every event (keyed by its ``ticket_id``), then 2xx."""

    events: tuple[InputEvent, ...]


@dataclass(frozen=True, slots=True)
class Ignored:
    """Verified, of a kind SLA Timer does not use (``kind``: the helpdesk's name for it, at
    most 100 printable characters; text from the delivery, so not a metric label): count
    it and answer 2xx."""

    kind: str


@dataclass(frozen=True, slots=True)
class Unmappable:
    """Verified but not mappable (``reason`` says why): dead-letter the body, answer 2xx
    so the helpdesk does not retry it forever."""

    reason: str


Outcome = Unauthorized | Mapped | Ignored | Unmappable

Adapter = Callable[[Mapping[str, str], bytes, Source, str, Instant], Outcome]
"""``adapter(headers, body, source, secret, now)``: headers in any case, the raw body, the
source it came in by, its secret (or shared token), and the time of receipt (µs)."""
