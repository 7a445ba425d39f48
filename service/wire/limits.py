"""What the wire accepts, at most: the limits ``decode`` enforces at the door, the range and
shape of a timestamp, and the bounds of a dead letter's body.

The input models (``service.wire.inputs``) write them into the JSON Schema files, the codec
(``service.wire.codec``) enforces them, and the dead-letter model
(``service.wire.outputs``) and ``service.letter`` keep to them.
"""

import re
from datetime import UTC, datetime

from service.core.instant import from_datetime
from service.core.ticket import MAX_ATTRIBUTES_BYTES as TICKET_ATTRIBUTES_BYTES

MAX_EVENT_BYTES = 64 * 1024
"""A message (a Kafka value, a replay line) over this many bytes is refused unread."""
EARLIEST = from_datetime(datetime(1970, 1, 1, tzinfo=UTC))
"""The earliest instant a timestamp may name (inclusive): the Unix epoch."""
END = from_datetime(datetime(2200, 1, 1, tzinfo=UTC))
"""Timestamps must be before 2200-01-01T00:00:00Z: deadlines computed from them stay far
inside what ``datetime`` (year 9999) and the holiday calendars can represent."""
MAX_SAFE_INTEGER = 2**53 - 1
"""Integers in an event must be within ±(2^53 - 1), the range every JSON consumer reads
exactly (I-JSON, RFC 7493); orjson, which writes the outputs, refuses beyond 64 bits."""
MAX_ATTRIBUTES = 64
"""Keys in the ``attributes`` of one event."""
MAX_ATTRIBUTE_KEY_CHARS = 100
"""Characters in an attribute name."""
MAX_ATTRIBUTE_TEXT_CHARS = 4096
"""Characters in a text attribute value."""
MAX_ATTRIBUTES_BYTES = 16 * 1024
"""The ``attributes`` of one event as compact JSON (UTF-8), in bytes, at most."""
MAX_TICKET_ATTRIBUTES_BYTES = TICKET_ATTRIBUTES_BYTES
"""The budget of a ticket's accumulated attributes (merged over its events) as compact JSON,
in bytes, enforced by the engine (``service.core.ticket``): one event cannot know the
ticket's other attributes, so ``decode`` does not. It holds any single event's attributes
twice over."""

MAX_DEAD_LETTER_BYTES = 256 * 1024
"""The body of a dead letter is at most this many bytes (``service.worker.deadletter``): a
quarter of Kafka's default 1 MB message limit, which the dead-letter topic has too."""
MAX_DEAD_LETTER_REASON_CHARS = 4096
"""Characters of the reason a dead letter keeps (decode's are far shorter; an exception's
text may not be)."""
MAX_DEAD_LETTER_KEY_CHARS = 1024
"""Characters of the message key a dead letter's body keeps (its Kafka key is the original)."""

RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)", re.ASCII
)
"""An RFC 3339 timestamp with an offset (``parse_timestamp`` then checks its range)."""
