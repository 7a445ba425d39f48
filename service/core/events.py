"""Domain events: what the helpdesk tells us and what the engine says (docs/events.md)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import blake2b

from .instant import Instant
from .matching import Scalar


class EventType(StrEnum):
    TICKET_CREATED = "ticket_created"
    FIRST_RESPONSE = "first_response"
    AGENT_REPLY = "agent_reply"
    CUSTOMER_REPLY = "customer_reply"
    STATUS_CHANGE = "status_change"
    ATTRIBUTE_CHANGE = "attribute_change"


# Events are built on the hot path, so they are plain slotted dataclasses: a frozen one
# initialises each field through ``object.__setattr__`` (about twice the cost measured).
# Treat them as immutable all the same; ``dataclasses.replace`` makes changed copies.


@dataclass(slots=True)
class TicketEvent:
    """One helpdesk event, already validated by the wire codec."""

    event_id: str
    type: EventType
    ticket_id: str
    occurred_at: Instant
    tenant: str = "default"
    attributes: Mapping[str, Scalar] = field(default_factory=dict)
    status: str | None = None
    reason: str | None = None
    public: bool = True
    automated: bool = False

    @property
    def is_answer(self) -> bool:
        """A reply that answers the customer: public and written by a person (docs/semantics.md)."""
        return self.public and not self.automated

    def fields(self) -> dict[str, Scalar]:
        """The event's own fields that custom clock conditions can test."""
        found: dict[str, Scalar] = {"public": self.public, "automated": self.automated}
        if self.status is not None:
            found["status"] = self.status
        if self.reason is not None:
            found["reason"] = self.reason
        return found


class SlaEventType(StrEnum):
    STARTED = "sla.started"
    PAUSED = "sla.paused"
    RESUMED = "sla.resumed"
    WARNING = "sla.warning"
    BREACH = "sla.breach"
    MET = "sla.met"
    STOPPED = "sla.stopped"
    CANCELLED = "sla.cancelled"
    RETRACTED = "sla.retracted"


@dataclass(slots=True)
class SlaEvent:
    """An outcome of the engine. ``emitted_at`` is added by the shell that publishes it."""

    event_id: str
    type: SlaEventType
    tenant: str
    ticket_id: str
    policy: str
    policy_version: str
    metric: str
    cycle: int
    calendar: str
    target: int  # business microseconds
    deadline: Instant | None
    occurred_at: Instant
    elapsed: int  # business microseconds counted at occurred_at
    attributes: Mapping[str, Scalar]
    threshold: str | None = None
    caused_by: str | None = None  # the input event, when one caused it
    retracted_event_id: str | None = None
    compliance_excluded: bool = False


def sla_event_id(digest: str, generation: int) -> str:
    """The id of an SLA event of this content (docs/semantics.md): its digest, made new for each
    generation of a ticket's retractions, so that an id never names two contents and an
    id retracted once never comes back (``ticket.Ticket`` counts the generations)."""
    if generation == 0:
        return digest
    return blake2b(f"{digest}\x1f{generation}".encode(), digest_size=16).hexdigest()


def retraction_id(retracted: str) -> str:
    """The id of the ``sla.retracted`` of an event: an id is retracted at most once."""
    return blake2b(f"retracted\x1f{retracted}".encode(), digest_size=16).hexdigest()


def content_digest(event: SlaEvent, attributes_text: str) -> str:
    """A digest of every field a consumer reads but the id and ``emitted_at``: two events
    with the same digest say the same thing. ``attributes_text`` is the attributes in a
    canonical text (``attributes_text``), passed in so a ticket computes it once."""
    # One f-string: what "\x1f".join(map(str, fields)) gives (str() and format() agree on
    # these types: text, StrEnum, int, bool, None), at half the cost.
    e = event
    text = (
        f"{e.tenant}\x1f{e.ticket_id}\x1f{e.type}\x1f{e.policy}\x1f{e.policy_version}\x1f"
        f"{e.metric}\x1f{e.cycle}\x1f{e.calendar}\x1f{e.target}\x1f{e.deadline}\x1f"
        f"{e.occurred_at}\x1f{e.elapsed}\x1f{e.threshold}\x1f{e.caused_by}\x1f"
        f"{e.compliance_excluded}\x1f{attributes_text}"
    )
    return blake2b(text.encode(), digest_size=16).hexdigest()


def attributes_text(attributes: Mapping[str, Scalar]) -> str:
    """Attributes as a canonical text: sorted by name, each value with its type."""
    return repr(sorted(attributes.items()))
