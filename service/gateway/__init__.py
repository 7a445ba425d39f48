"""The gateway's pure half (docs/gateway.md): the sources file, and one adapter per helpdesk kind
turning a webhook delivery (headers, raw body) into SLA Timer input events (docs/events.md).

No server, no Kafka, no wall clock: the time of receipt is an argument. ``adapt`` picks
the source's adapter; every adapter verifies the signature first, then parses, and never
raises: it returns an ``Outcome``.
"""

from collections.abc import Mapping

from service.core.instant import Instant

from . import freshdesk, helpscout, jira, zammad, zendesk
from .kinds import Kind
from .outcome import Adapter, Ignored, InputEvent, Mapped, Outcome, Unauthorized, Unmappable
from .sources import Source, Sources, check_sources_text, load_sources

ADAPTERS: Mapping[Kind, Adapter] = {
    "zendesk": zendesk.adapt,
    "jira": jira.adapt,
    "freshdesk": freshdesk.adapt,
    "zammad": zammad.adapt,
    "helpscout": helpscout.adapt,
}


def adapt(
    headers: Mapping[str, str], body: bytes, source: Source, secret: str, now: Instant
) -> Outcome:
    """The outcome of one delivery to ``source``'s endpoint."""
    return ADAPTERS[source.kind](headers, body, source, secret, now)


__all__ = [
    "ADAPTERS",
    "Adapter",
    "Ignored",
    "InputEvent",
    "Mapped",
    "Outcome",
    "Source",
    "Sources",
    "Unauthorized",
    "Unmappable",
    "adapt",
    "check_sources_text",
    "load_sources",
]
