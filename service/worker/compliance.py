"""Live compliance of the tickets a worker owns, as Prometheus gauges (docs/semantics.md).

Each ticket's counted outcomes (``service.core.compliance``) are kept per ticket and in a
``Tally``: when a batch publishes events for a ticket, its old outcomes are taken out and
its new ones put in. The outcomes are also stored with the ticket, so after a restart the
tally is rebuilt from the table's index fields without folding every ticket.
"""

from service.core.compliance import Outcome, Tally
from service.core.instant import Instant, to_datetime
from service.core.policy import PolicySet
from service.worker.metrics import Metrics


class LiveCompliance:
    def __init__(self, policies: PolicySet, metrics: Metrics) -> None:
        self.policies = policies
        self.metrics = metrics
        self.tally = Tally()
        self.by_ticket: dict[str, list[Outcome]] = {}
        self._shown: set[tuple[str, str, str]] = set()
        self.changed = False  # since the last export
        for policy in policies.policies:
            if policy.compliance is not None:
                metrics.compliance_target.labels(policy.name).set(policy.compliance.target)

    def set(self, key: str, found: list[Outcome]) -> None:
        """The ticket's outcomes are now ``found``."""
        old = self.by_ticket.get(key, [])
        if old != found:
            self.tally.remove(old)
            self.tally.add(found)
            self.by_ticket[key] = found
            self.changed = True

    def recall(self, key: str, found: list[Outcome]) -> None:
        """A ticket read back into memory: its outcomes, already in the tally."""
        self.by_ticket[key] = found

    def forget(self, key: str) -> None:
        """A ticket left memory: its outcomes stay in the tally and in its stored value."""
        self.by_ticket.pop(key, None)

    def count(self, found: list[Outcome]) -> None:
        """Outcomes of a stored ticket, at recovery (the ticket is not in memory)."""
        self.tally.add(found)

    def clear(self) -> None:
        self.tally = Tally()
        self.by_ticket.clear()

    def export(self, now: Instant) -> None:
        """Set the gauges from the tally; rows no longer counted lose their series. Only
        the months from a year before ``now`` to the next one are exported: a month label
        never takes a value an event's date alone chose (docs/worker.md)."""
        self.changed = False
        shown: set[tuple[str, str, str]] = set()
        cycles, attainment = self.metrics.compliance_cycles, self.metrics.compliance_attainment
        first, last = exported_months(now)
        for row in self.tally.rows():
            if not first <= row.month <= last:
                continue
            labels = (row.policy, row.metric, row.month)
            shown.add(labels)
            cycles.labels(*labels, "met").set(row.met)
            cycles.labels(*labels, "breached").set(row.breached)
            attainment.labels(*labels).set(row.attainment)
        for labels in self._shown - shown:
            cycles.remove(*labels, "met")
            cycles.remove(*labels, "breached")
            attainment.remove(*labels)
        self._shown = shown


def exported_months(now: Instant) -> tuple[str, str]:
    """The first and last month (``YYYY-MM``, UTC) whose compliance the gauges show: the
    twelve months before ``now``'s, its own and the next (time zones ahead of UTC)."""
    moment = to_datetime(now)
    index = moment.year * 12 + moment.month - 1
    first, last = divmod(index - 12, 12), divmod(index + 1, 12)
    return f"{first[0]:04d}-{first[1] + 1:02d}", f"{last[0]:04d}-{last[1] + 1:02d}"
