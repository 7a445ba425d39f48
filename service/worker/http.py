"""HTTP on the worker's port (SPEC §7): ticket state, health, readiness, Prometheus metrics."""

import hmac
from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.views import ticket_state
from service.worker import state

if TYPE_CHECKING:
    from service.worker.app import SlaWorker


def is_authorized(header: str | None, token: str) -> bool:
    """Whether a request may read tickets: always when no token is set (SLA_HTTP_TOKEN), else
    only with ``Authorization: Bearer <token>``, compared in constant time."""
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    expected = token.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


def register_views(worker: "SlaWorker") -> None:
    app = worker.app

    @app.page("/tickets/{tenant}/{ticket_id}")
    class TicketView(View):
        async def get(self, request: Request, tenant: str, ticket_id: str) -> Response:
            if not is_authorized(request.headers.get("Authorization"), worker.settings.http_token):
                return self.json(
                    {"error": "this ticket API needs Authorization: Bearer <SLA_HTTP_TOKEN>"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="sla-timer"'},
                )
            key = state.table_key(tenant, ticket_id)
            ticket = worker.tickets.get(key)
            if ticket is None:
                raw = worker.table.get(key.encode())
                ticket = state.load(raw, worker.policies) if raw is not None else None
                if ticket is not None:  # a copy: nothing is published
                    ticket.restore(worker.clock() - worker.settings.grace)
            if ticket is None or (ticket.tenant, ticket.ticket_id) != (tenant, ticket_id):
                return self.json(
                    {"error": f"no ticket {ticket_id!r} of tenant {tenant!r}"}, status=404
                )
            return self.json(ticket_state(ticket, worker.clock()))

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request, **_: Any) -> Response:
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request, **_: Any) -> Response:
            if not worker.ready:
                return self.json({"status": "recovering"}, status=503)
            if worker.progress.stalled is not None:
                return self.json(
                    {"status": "stalled", "reason": worker.progress.stalled}, status=503
                )
            return self.json({"status": "ready"})

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request, **_: Any) -> Response:
            body = generate_latest(worker.metrics.registry)
            # aiohttp refuses a charset inside content_type; the exposition format is UTF-8.
            return self.bytes(body, content_type=CONTENT_TYPE_LATEST.split("; charset")[0])
