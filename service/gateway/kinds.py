"""What each helpdesk kind brings by default: its status mapping and its standard fields.

A source's ``statuses`` and ``attributes`` are merged over these (``sources``). Status keys
are normalised (``normalise_status``): a helpdesk status is looked up case-insensitively,
with runs of spaces and punctuation read as one ``_``; a status found in no mapping passes
through normalised (``Waiting on Customer`` becomes ``waiting_on_customer``), and the
policy's ``pause_statuses`` and ``resolved_statuses`` decide what it means.
"""

import re
from typing import Literal

Kind = Literal["zendesk", "jira", "freshdesk", "zammad", "helpscout"]
KINDS: tuple[Kind, ...] = ("zendesk", "jira", "freshdesk", "zammad", "helpscout")

CUSTOM_FIELD = "custom_field:"
"""A field spec naming a helpdesk custom field: ``custom_field:<id or name>``."""

MAX_STATUS_CHARS = 100
_SEPARATORS = re.compile(r"[\W_]+")

# Helpdesk words for "this ticket is gone" (deleted, merged, spam) become a status_change
# with that word as the status and reason; by default they map to ``closed`` so clocks stop.
_GONE = {"deleted": "closed", "merged": "closed", "spam": "closed"}

DEFAULT_STATUSES: dict[Kind, dict[str, str]] = {
    "zendesk": {
        "new": "new",
        "open": "open",
        "pending": "pending",
        "hold": "on_hold",
        "on_hold": "on_hold",
        "solved": "solved",
        "closed": "closed",
        "archived": "closed",
        "scrubbed": "closed",
        **_GONE,
    },
    "jira": {  # Jira Service Management's default service-request workflow
        "waiting_for_support": "open",
        "waiting_for_customer": "pending",
        "pending": "on_hold",
        "escalated": "open",
        "work_in_progress": "open",
        "in_progress": "open",
        "resolved": "solved",
        "done": "solved",
        "closed": "closed",
        "canceled": "closed",
        "cancelled": "closed",
        **_GONE,
    },
    "freshdesk": {  # labels, and the numeric codes of ``{{triggered_event}}``
        "open": "open",
        "pending": "pending",
        "waiting_on_customer": "pending",
        "waiting_on_third_party": "on_hold",
        "resolved": "solved",
        "closed": "closed",
        "2": "open",
        "3": "pending",
        "4": "solved",
        "5": "closed",
        **_GONE,
    },
    "zammad": {
        "new": "new",
        "open": "open",
        "pending_reminder": "pending",
        "pending_close": "pending",
        "closed": "closed",
        "removed": "closed",
        **_GONE,
    },
    "helpscout": {
        "active": "open",
        "open": "open",
        "pending": "pending",
        "closed": "closed",
        **_GONE,
    },
}

STANDARD_FIELDS: dict[Kind, tuple[str, ...]] = {
    "zendesk": ("priority", "type", "group", "brand", "form", "organization", "tags", "subject",
                "channel"),
    "jira": ("priority", "type", "project", "tags", "components", "subject"),
    "freshdesk": ("priority", "type", "group", "tags", "subject", "channel"),
    "zammad": ("priority", "group", "organization", "subject", "channel"),
    "helpscout": ("mailbox", "tags", "subject", "channel"),
}  # fmt: skip
"""The fields each kind reads; the default ``attributes`` map each to the same name, except
``DEFAULT_OFF``."""

DEFAULT_OFF = frozenset({"form", "organization", "components"})
"""Standard fields not mapped unless a source asks (ids of little use to most policies)."""


def default_attributes(kind: Kind) -> dict[str, str]:
    return {field: field for field in STANDARD_FIELDS[kind] if field not in DEFAULT_OFF}


def normalise_status(text: str) -> str:
    """A helpdesk status as a mapping key and fallback status: case-folded, each run of
    spaces, punctuation and underscores one ``_``, trimmed, at most ``MAX_STATUS_CHARS``."""
    return _SEPARATORS.sub("_", text.casefold()).strip("_")[:MAX_STATUS_CHARS]
