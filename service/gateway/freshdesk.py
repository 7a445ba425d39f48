"""Freshdesk: automation rules whose "Trigger webhook" action posts the SLA Timer template
(``template``) as JSON "Advanced" content.

Freshdesk signs nothing: each delivery must carry the source's shared token, in a header
(default ``X-SLA-Timer-Token``, set in the action's custom headers) or as the password or
user name of basic authentication ("Requires authentication"). Its payloads carry no event
time and no delivery id: ``occurred_at`` is the time of receipt, unless the template
supplies one, and the event id is a digest of the body, so a retry (the same body) gets the
same id.
"""

from collections.abc import Mapping
from typing import Any

from service.core.instant import Instant

from . import common, template
from .common import Json
from .outcome import Outcome, Unauthorized, Unmappable
from .signatures import check_basic, check_token
from .sources import Source

WRAPPER = "freshdesk_webhook"  # Freshdesk's "Simple" content wraps the fields in this key


def adapt(
    headers: Mapping[str, str], body: bytes, source: Source, secret: str, now: Instant
) -> Outcome:
    lowered = common.lower_headers(headers)
    if source.token_auth == "basic":
        problem = check_basic(lowered.get("authorization"), secret)
    else:
        header = source.token_header
        problem = check_token(f"{header} header", lowered.get(header.lower()), secret)
    if problem:
        return Unauthorized(problem)
    parsed = common.parse_object(body)
    if isinstance(parsed, str):
        return Unmappable(parsed)
    if set(parsed) == {WRAPPER}:
        parsed = common.obj(parsed, WRAPPER)
    delivery = template.Delivery(f"freshdesk:{common.digest(body)}", common.received(now))
    return template.map_template(parsed, source, delivery, _fields)


def _fields(fields: Json) -> dict[str, Any]:
    """The template's ``fields`` as Freshdesk placeholders render them: labels such as
    ``High`` or ``Email``, tags separated by commas."""
    read: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("priority", "type", "channel"):
            read[name] = common.lower(value)
        elif name == "tags":
            tags = value.split(",") if isinstance(value, str) else []
            read[name] = common.tags_value(tag.strip() for tag in tags)
        else:
            read[name] = value
    return read
