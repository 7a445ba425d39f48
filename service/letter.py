"""The body of a dead letter (docs/worker.md, "Topics"), for the worker and the gateway alike.

A pure function, so its size bound is tested without a broker. The body is JSON with the
message as text; a message of control bytes grows six-fold as JSON escapes (``\\u0001``), so
a body over ``MAX_DEAD_LETTER_BYTES`` keeps the longest prefix of the text that fits and says
so: ``truncated``, the full size in ``original_bytes`` and its SHA-256 in ``original_sha256``.
Reason and key are cut to a few KiB first, so the bound always holds.
"""

import hashlib
from collections.abc import Mapping

import orjson

from service.core.instant import Instant, format_instant
from service.wire import (
    MAX_DEAD_LETTER_BYTES,
    MAX_DEAD_LETTER_KEY_CHARS,
    MAX_DEAD_LETTER_REASON_CHARS,
)


def dead_letter_body(  # noqa: PLR0913 (a dead letter's fields, each named)
    value: bytes,
    key: bytes | None,
    reason: str,
    topic: str | None,
    partition: int | None,
    offset: int | None,
    failed_at: Instant,
    *,
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """The JSON body of a dead letter, at most ``MAX_DEAD_LETTER_BYTES`` long. ``extra``
    adds short fields (the gateway's source, kind and delivery id), each cut to the key's
    limit."""
    original = value.decode("utf-8", errors="replace")
    body: dict[str, object] = {
        "reason": cut(reason, MAX_DEAD_LETTER_REASON_CHARS),
        "original": original,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": cut(key.decode("utf-8", errors="replace"), MAX_DEAD_LETTER_KEY_CHARS)
        if key is not None
        else None,
        "failed_at": format_instant(failed_at),
    }
    for name, text in (extra or {}).items():
        body[name] = cut(text, MAX_DEAD_LETTER_KEY_CHARS)
    encoded = orjson.dumps(body)
    if len(encoded) <= MAX_DEAD_LETTER_BYTES:
        return encoded
    body["original"] = ""
    body["truncated"] = True
    body["original_bytes"] = len(value)
    body["original_sha256"] = hashlib.sha256(value).hexdigest()
    room = MAX_DEAD_LETTER_BYTES - len(orjson.dumps(body))
    body["original"] = _longest_prefix(original, room)
    return orjson.dumps(body)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters (the last three ``...`` when cut), encodable as UTF-8."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    # A lone surrogate (from an exception's text, say) would make orjson refuse the body.
    return text.encode("utf-8", errors="backslashreplace").decode()


def _longest_prefix(text: str, room: int) -> str:
    """The longest prefix of ``text`` whose JSON string content takes at most ``room`` bytes."""

    def size(count: int) -> int:
        return len(orjson.dumps(text[:count])) - 2  # without the quotes

    low, high = 0, min(len(text), room)  # every character takes at least one byte
    while low < high:
        middle = (low + high + 1) // 2
        if size(middle) <= room:
            low = middle
        else:
            high = middle - 1
    return text[:low]
