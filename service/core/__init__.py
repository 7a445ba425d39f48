"""The pure core: calendars, durations, policies and the SLA clock engine.

Standard library only (plus the ``holidays`` package for holiday data). No Kafka,
no pydantic, no I/O and no wall clock: time is always an argument.
"""
