"""The policy file format as pydantic models: the shape, before meaning is checked."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

MAX_CLOCKS = 16
"""Most clocks in one policy."""

MAX_TARGETS = 64
"""Most targets in one clock (picking a target, and checking each against the earlier ones,
takes time in their number)."""

Scalar = StrictStr | StrictBool | StrictInt | StrictFloat
DurationText = Annotated[StrictStr, Field(max_length=32)]
"""``4h``, ``1d4h30m``, ``75%``, ``-30m``: short, so no number is too large to convert."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Regex(Strict):
    regex: StrictStr


MatchValue = Scalar | list[Scalar] | Regex
MatchSpec = dict[StrictStr, MatchValue]


class Holidays(Strict):
    country: StrictStr | None = None
    subdivision: StrictStr | None = None
    dates: list[StrictStr] = []


class Calendar(Strict):
    timezone: StrictStr
    hours: Literal["24x7"] | dict[StrictStr, list[StrictStr]]
    holidays: Holidays | None = None
    overrides: dict[StrictStr, list[StrictStr]] = {}
    business_day: DurationText | None = None


class Target(Strict):
    match: MatchSpec = {}
    breach_after: DurationText
    warn_at: list[DurationText] = []
    calendar: StrictStr | None = None


class EventCondition(Strict):
    type: StrictStr | list[StrictStr]
    status: MatchValue | None = None
    reason: MatchValue | None = None
    public: StrictBool | None = None
    automated: StrictBool | None = None
    attributes: MatchSpec = {}
    changes: MatchSpec = {}


class Clock(Strict):
    metric: StrictStr
    pausable: StrictBool = True
    on_target_change: Literal["recompute", "restart"] = "recompute"
    on_reopen: Literal["resume", "new_cycle"] = "resume"
    targets: Annotated[list[Target], Field(min_length=1, max_length=MAX_TARGETS)]
    start_on: list[EventCondition] = []
    stop_on: list[EventCondition] = []


class Compliance(Strict):
    target: StrictStr | StrictFloat | StrictInt
    period: Literal["month"] = "month"
    exclude: list[MatchSpec] = []


class Policy(Strict):
    name: Annotated[StrictStr, Field(min_length=1)]
    match: MatchSpec = {}
    calendar: StrictStr
    pause_statuses: list[StrictStr] = []
    resolved_statuses: list[StrictStr] = ["solved", "closed"]
    compliance: Compliance | None = None
    clocks: Annotated[list[Clock], Field(min_length=1, max_length=MAX_CLOCKS)]


class PolicyFileEntries(Strict):
    """A file's top level; its entries are validated one by one so one bad entry
    does not hide the problems of the others."""

    calendars: dict[StrictStr, dict[str, Any]] = {}
    policies: list[dict[str, Any]] = []


class PolicyFile(Strict):
    calendars: dict[StrictStr, Calendar] = {}
    policies: list[Policy] = []
