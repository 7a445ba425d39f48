"""The one root of every exception SLA Timer raises on purpose.

    SlaTimerError                       invalid input or configuration (a refusal, not a bug)
    ├── InvalidDuration (ValueError)    a duration or threshold that does not parse
    ├── CalendarError                   a calendar that cannot answer (never open, ...)
    ├── InvalidConfiguration            environment variables' problems, all of them
    ├── InvalidPolicies                 a policy directory's problems, all of them
    ├── (policyfile.regex) InvalidRegex a pattern the safe regex engine refuses
    ├── InvalidEvent                    an input event that cannot be used (dead-lettered)
    ├── InvalidSources                  a gateway sources file's problems, all of them
    ├── (handshake) LoginRefused        Kafka refused the login, or TLS failed
    ├── (replay) ReplayFailed           a replay that could not finish (a worker died)
    ├── (whatif.play) WhatifFailed      a whatif whose replay process died
    ├── (report.kafka) TopicError       an SLA events topic that cannot be read
    └── (gateway.delivery) KafkaUnavailable
                                        Kafka did not acknowledge a delivery in time (503)

Subclasses outside the core live beside the code that raises them. Control flow inside the
worker (``outbox.FlushStopped``: stopping while a flush waits) is not an error of the service
and does not derive from it; nor does ``policyfile.yaml_loader.PolicyYamlError``, which is a
``yaml.YAMLError`` the loader turns into a policy problem.
"""


class SlaTimerError(Exception):
    """Invalid input or misconfiguration; outcomes such as breaches are events, not errors."""


class InvalidDuration(SlaTimerError, ValueError):
    """A duration or threshold string that does not parse."""


class CalendarError(SlaTimerError):
    """A calendar that cannot answer a question, e.g. one that is never open."""


class InvalidConfiguration(SlaTimerError):
    """Settings from the environment with problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class InvalidPolicies(SlaTimerError):
    """A policy directory with problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        super().__init__(f"invalid policies ({count}):\n" + "\n".join(f"  - {p}" for p in problems))


class InvalidEvent(SlaTimerError):
    """An input event that cannot be used; ``reason`` says why, for the dead-letter topic,
    and ``kind`` names the class of problem in a few words, for metrics labels."""

    def __init__(self, reason: str, kind: str = "schema") -> None:
        self.reason = reason
        self.kind = kind
        super().__init__(reason)


class InvalidSources(SlaTimerError):
    """A gateway sources file with problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        super().__init__(f"invalid sources ({count}):\n" + "\n".join(f"  - {p}" for p in problems))
