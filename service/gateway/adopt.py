"""Adopting a live helpdesk: tickets already open when the gateway is switched on never had
their ``ticket_created`` sent. From a helpdesk's ticket export, one ``ticket_created`` per
open ticket, at its real creation time with its current status and attributes, and a
``first_response`` when the export shows one (``sla-timer import``; docs/gateway.md).

Pure: bytes in, events out. Ids derive from the helpdesk's ticket ids, so importing the same
export twice publishes the same ids and the worker drops the second copy.

Formats:

- ``zendesk``: the Tickets API's JSON (``{"tickets": [...]}``, from the list or the
  incremental export, with ``metric_sets`` side-loaded or ``metric_set`` per ticket), or
  Zendesk's JSON data export (one ticket object per line). The first response is
  ``created_at`` plus the metric set's ``reply_time_in_minutes.calendar`` (minutes: Zendesk
  keeps no finer time) when ``replies`` is above 0.
- ``jira``: the search API's JSON (``{"issues": [...]}``), as the webhook adapter reads an
  issue; the export carries no first-reply time.
- ``csv``: a header row with ``ticket_id``, ``created_at`` (RFC 3339 with offset) and
  ``status``, optionally ``first_response_at``; every other column is an attribute of that
  name (empty cells are left out).
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from service.core.instant import MINUTE, Instant, format_instant

from . import common, jira, zendesk
from .outcome import InputEvent, Mapped
from .sources import Source

Format = Literal["zendesk", "jira", "csv"]
FORMATS: tuple[Format, ...] = ("zendesk", "jira", "csv")
CLOSED = frozenset({"solved", "closed"})  # not imported unless asked
MAX_PROBLEMS = 1000


@dataclass
class Adoption:
    events: list[InputEvent] = field(default_factory=list)
    open_tickets: int = 0
    skipped_closed: int = 0
    skipped_later: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


@dataclass(frozen=True)
class Ticket:
    """One exported ticket as we need it: what ``ticket_created`` says, and when it was first
    answered if the export knows."""

    ticket_id: str
    created_at: str
    status: str
    attributes: dict[str, Any]
    first_response_at: str | None = None


def adopt(
    data: bytes,
    form: Format,
    source: Source,
    include_closed: bool = False,
    created_before: Instant | None = None,
) -> Adoption:
    """The events that bring the export's open tickets under SLA clocks."""
    adoption = Adoption()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        adoption.problem(f"not UTF-8 (byte {error.start})")
        return adoption
    reader = {"zendesk": _zendesk, "jira": _jira, "csv": _csv}[form]
    for where, ticket in reader(text, source, adoption):
        if ticket.status in CLOSED and not include_closed:
            adoption.skipped_closed += 1
            continue
        created = common.instant(ticket.created_at)
        if created_before is not None and created is not None and created >= created_before:
            adoption.skipped_later += 1
            continue
        made = _events(ticket, source, form)
        checked = common.finish(made, "")
        if isinstance(checked, Mapped):
            adoption.events += checked.events
            adoption.open_tickets += 1
        else:
            adoption.problem(f"{where}: {getattr(checked, 'reason', checked)}")
    return adoption


def _events(ticket: Ticket, source: Source, form: str) -> list[InputEvent]:
    prefix, ticket_id = f"{form}-import:{ticket.ticket_id}", ticket.ticket_id
    fields = {"attributes": ticket.attributes, "status": ticket.status}
    created = common.event(
        source, "ticket_created", ticket_id, ticket.created_at, f"{prefix}:created", **fields
    )
    if ticket.first_response_at is None:
        return [created]
    answered = common.event(
        source, "first_response", ticket_id, ticket.first_response_at, f"{prefix}:first_response"
    )
    return [created, answered]


Read = Iterator[tuple[str, Ticket]]


def _zendesk(text: str, source: Source, adoption: Adoption) -> Read:
    stripped = text.lstrip()
    rows: list[Any]
    metrics: dict[str, Any] = {}
    try:
        whole = json.loads(stripped) if stripped.startswith("{") else None
    except ValueError:
        whole = None  # one ticket per line, then
    if isinstance(whole, dict) and isinstance(whole.get("tickets"), list):
        rows = whole["tickets"]
        for item in whole.get("metric_sets") or []:
            if isinstance(item, dict) and common.ident(item.get("ticket_id")):
                metrics[str(common.ident(item.get("ticket_id")))] = item
    else:
        rows = list(_lines(text, adoption))
    for index, row in enumerate(rows):
        where = f"ticket #{index + 1}"
        if not isinstance(row, dict):
            adoption.problem(f"{where}: not an object")
            continue
        ticket_id = common.ident(row.get("id"))
        created = common.timestamp(row.get("created_at"))
        if ticket_id is None or created is None:
            adoption.problem(f"{where}: no id or created_at")
            continue
        custom = {
            str(common.ident(item.get("id"))): item.get("value")
            for item in row.get("custom_fields") or []
            if isinstance(item, dict) and common.ident(item.get("id"))
        }
        metric = row.get("metric_set") or metrics.get(ticket_id) or {}
        yield (
            f"ticket {ticket_id}",
            Ticket(
                ticket_id=ticket_id,
                created_at=created,
                status=common.status(source, row.get("status")) or "new",
                attributes=common.pick_attributes(source, zendesk.detail_fields(row), custom),
                first_response_at=_zendesk_first_reply(created, metric),
            ),
        )


def _zendesk_first_reply(created: str, metric: Any) -> str | None:
    if not isinstance(metric, dict):
        return None
    replies = metric.get("replies")
    minutes = (metric.get("reply_time_in_minutes") or {}).get("calendar")
    if not isinstance(replies, int) or replies < 1 or not isinstance(minutes, int) or minutes < 0:
        return None
    start = common.instant(created)
    return format_instant(start + minutes * MINUTE) if start is not None else None


def _jira(text: str, source: Source, adoption: Adoption) -> Read:
    try:
        whole = json.loads(text)
    except ValueError as error:
        adoption.problem(f"not JSON: {error}")
        return
    issues = whole.get("issues") if isinstance(whole, dict) else None
    if not isinstance(issues, list):
        adoption.problem('no "issues" list: export the search API\'s JSON')
        return
    for index, issue in enumerate(issues):
        where = f"issue #{index + 1}"
        fields = common.obj(issue, "fields") if isinstance(issue, dict) else {}
        ticket_id = common.ident(issue.get("id")) if isinstance(issue, dict) else None
        created = common.timestamp(fields.get("created"))
        if ticket_id is None or created is None:
            adoption.problem(f"{where}: no id or fields.created")
            continue
        status = common.status(source, common.obj(fields, "status").get("name")) or "new"
        standard, custom = jira.standard_fields(fields), jira.custom_fields(fields)
        attributes = common.pick_attributes(source, standard, custom)
        yield (
            f"issue {issue.get('key') or ticket_id}",
            Ticket(ticket_id, created, status, attributes),
        )


def _csv(text: str, source: Source, adoption: Adoption) -> Read:
    rows = csv.DictReader(io.StringIO(text, newline=""))
    required = {"ticket_id", "created_at", "status"}
    try:
        missing = required - set(rows.fieldnames or [])
    except csv.Error as error:
        adoption.problem(f"not CSV: {error}")
        return
    if missing:
        adoption.problem(f"the header lacks {', '.join(sorted(missing))}")
        return
    try:
        read = list(rows)
    except csv.Error as error:  # a stray quote or NUL: nothing is published from this file
        adoption.problem(f"not CSV: line {rows.line_num}: {error}")
        return
    for number, row in enumerate(read, start=2):
        where = f"line {number}"
        ticket_id = common.ident(row.get("ticket_id"))
        created = common.timestamp(row.get("created_at"))
        if ticket_id is None or created is None:
            adoption.problem(f"{where}: no ticket_id, or created_at is not RFC 3339 with offset")
            continue
        first = row.get("first_response_at") or None
        first_at = common.timestamp(first) if first else None
        if first and first_at is None:
            adoption.problem(f"{where}: first_response_at is not RFC 3339 with offset")
            continue
        attributes = {
            name: common.attribute_value(value)
            for name, value in row.items()
            if name and name not in required | {"first_response_at"} and value
        }
        yield (
            where,
            Ticket(
                ticket_id,
                created,
                common.status(source, row["status"]) or "new",
                attributes,
                first_at,
            ),
        )


def _lines(text: str, adoption: Adoption) -> Iterable[Any]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError:
                adoption.problem(f"line {number}: not JSON")
