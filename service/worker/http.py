"""HTTP on the worker's port (docs/worker.md): ticket state, health, readiness, metrics."""

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from service.core.instant import Instant
from service.core.ticket import Ticket
from service.views import ticket_state


def is_authorized(header: str | None, token: str) -> bool:
    """Whether a request may read tickets: always when no token is set (SLA_HTTP_TOKEN), else
    only with ``Authorization: Bearer <token>``, compared in constant time."""
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    expected = token.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


@dataclass(frozen=True)
class Views:
    """What the views need from the worker."""

    find_ticket: Callable[[str, str], Ticket | None]  # tenant, ticket id
    clock: Callable[[], Instant]
    is_ready: Callable[[], bool]
    stalled: Callable[[], str | None]  # why the worker is stalled, or None
    registry: CollectorRegistry
    http_token: str = ""


def register_views(app: faust.App, views: Views) -> None:
    @app.page("/tickets/{tenant}/{ticket_id}")
    class TicketView(View):
        async def get(self, request: Request, tenant: str, ticket_id: str) -> Response:
            if not is_authorized(request.headers.get("Authorization"), views.http_token):
                return self.json(
                    {"error": "this ticket API needs Authorization: Bearer <SLA_HTTP_TOKEN>"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="sla-timer"'},
                )
            ticket = views.find_ticket(tenant, ticket_id)
            if ticket is None:
                return self.json(
                    {"error": f"no ticket {ticket_id!r} of tenant {tenant!r}"}, status=404
                )
            return self.json(ticket_state(ticket, views.clock()))

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request, **_: Any) -> Response:
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request, **_: Any) -> Response:
            if not views.is_ready():
                return self.json({"status": "recovering"}, status=503)
            stalled = views.stalled()
            if stalled is not None:
                return self.json({"status": "stalled", "reason": stalled}, status=503)
            return self.json({"status": "ready"})

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request, **_: Any) -> Response:
            body = generate_latest(views.registry)
            # aiohttp refuses a charset inside content_type; the exposition format is UTF-8.
            return self.bytes(body, content_type=CONTENT_TYPE_LATEST.split("; charset")[0])
