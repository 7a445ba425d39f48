"""Which tickets can come out differently under the proposed policies, so that the others are
replayed once, not twice (docs/whatif.md).

A ticket's clocks read the policies only through the first policy whose match fits its facts
(``PolicySet.select``), that policy's rules, and the calendars its rules name; its facts
always hold its tenant. So a ticket can be matched only by the policies with no condition on
``tenant`` or one its tenant fits. When those are the same in both directories, in the same
order and with the same versions (a digest of a policy's whole content and of every calendar
it uses, docs/policies.md), every ticket of the tenant selects the same policy under both, at
every event, and its SLA events are the same: replaying it under the current policies says
what the proposed ones would.
"""

from collections.abc import Callable

from service.core.policy import PolicySet

Scope = Callable[[str], bool]
"""Whether the tickets of a tenant may come out differently (and need both replays)."""


def differing_tenants(current: PolicySet, proposed: PolicySet) -> Scope:
    """The tenants whose candidate policies differ between the directories (cached)."""
    known: dict[str, bool] = {}

    def differs(tenant: str) -> bool:
        found = known.get(tenant)
        if found is None:
            found = known[tenant] = _candidates(current, tenant) != _candidates(proposed, tenant)
        return found

    return differs


def every_tenant(tenant: str) -> bool:
    """Replay every ticket under both (what ``differing_tenants`` saves, for tests)."""
    return True


def _candidates(policies: PolicySet, tenant: str) -> list[tuple[str, str]]:
    """The policies that could match a ticket of ``tenant``, in precedence order."""
    facts = {"tenant": tenant}
    return [
        (policy.name, policy.version)
        for policy in policies.policies
        if all(c.fits(facts) for c in policy.match.conditions if c.key == "tenant")
    ]
