"""The worker's configuration, from environment variables, checked once at start (docs/worker.md).

Every variable is listed in ``VARIABLES`` with its default and meaning; the table of
docs/worker.md is this list. Problems are reported together, naming the variable and the
valid values.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from service import connection
from service.connection import Connection
from service.core.durations import parse_duration
from service.core.errors import InvalidConfiguration, SlaTimerError
from service.core.instant import DAY

ROCKSDB_BLOCK_CACHE_MIB = 16
"""The block cache of each partition's RocksDB database, by default (Faust's is 2 GiB each)."""

VARIABLES: dict[str, tuple[str, str]] = {
    **connection.VARIABLES,
    "SLA_REPLICATION_FACTOR": (
        "1",
        "replication factor of the topics the worker creates (3 on a production cluster)",
    ),
    "SLA_POLICY_DIR": ("deploy/policies", "directory of policy files"),
    "SLA_INPUT_TOPICS": ("ticket-events", "input topics, comma-separated, keyed by ticket id"),
    "SLA_OUTPUT_PREFIX": ("", "prefix of the output, dead-letter and internal topic names"),
    "SLA_DATA_DIR": (
        ".local/worker",
        "local state: the RocksDB tables; created at start with its parents if missing "
        "(refused if it cannot be)",
    ),
    "SLA_WEB_HOST": ("127.0.0.1", "address the HTTP server binds"),
    "SLA_WEB_PORT": ("6066", "HTTP port: tickets, health, readiness, metrics"),
    "SLA_GRACE": ("0s", "late-data grace: warnings and breaches wait this long past their instant"),
    "SLA_PARTITIONS": ("4", "partitions of the topics the worker creates (inputs included)"),
    "SLA_APP_ID": ("sla-timer", "Kafka consumer group and prefix of the changelog topics"),
    "SLA_STORE": ("rocksdb", "table store: rocksdb (durable, embedded) or memory (tests)"),
    "SLA_ROCKSDB_BLOCK_CACHE_MIB": (
        str(ROCKSDB_BLOCK_CACHE_MIB),
        "MiB of RocksDB block cache for each partition's database (reads of stored tickets)",
    ),
    "SLA_TICK": ("0.2s", "how often due warnings and breaches are looked for"),
    "SLA_SESSION_TIMEOUT": (
        "10s",
        "Kafka consumer session: how soon a dead worker's partitions move",
    ),
    "SLA_RETENTION": (
        "35d",
        "a ticket with nothing left to count and no event for this long is forgotten",
    ),
    "SLA_HOLD": (
        "1d",
        "events of a ticket whose ticket_created has not come wait this long past their time",
    ),
    "SLA_HTTP_TOKEN": (
        "",
        "when set, GET /tickets/... answers only requests with Authorization: Bearer <token>",
    ),
    "SLA_STALL_TIMEOUT": (
        "30s",
        "/readyz answers 503 when no batch completed this long with input waiting, or a "
        "batch's sends waited on Kafka this long",
    ),
}


@dataclass(frozen=True)
class Settings:
    kafka: Connection
    policy_dir: Path
    input_topics: tuple[str, ...]
    output_prefix: str
    data_dir: Path
    web_host: str
    web_port: int
    grace: int  # microseconds
    partitions: int
    app_id: str
    store: str
    tick_seconds: float
    session_timeout: int  # microseconds
    stall_timeout: int  # microseconds
    http_token: str = field(default="", repr=False)  # never printed
    retention: int = 35 * DAY  # microseconds
    hold: int = DAY  # microseconds
    replication_factor: int = 1
    rocksdb_block_cache: int = ROCKSDB_BLOCK_CACHE_MIB * 2**20  # bytes per partition database

    @property
    def brokers(self) -> str:
        return self.kafka.brokers

    def topic(self, name: str) -> str:
        return f"{self.output_prefix}{name}"

    @property
    def warnings_topic(self) -> str:
        return self.topic("sla-warnings")

    @property
    def breaches_topic(self) -> str:
        return self.topic("sla-breaches")

    @property
    def events_topic(self) -> str:
        return self.topic("sla-events")

    @property
    def dead_letter_topic(self) -> str:
        return self.topic("ticket-events-dlq")

    @property
    def due_topic(self) -> str:
        """Internal: due commands from the timer to the agent, co-partitioned with the inputs."""
        return self.topic("sla-timer-due")

    @property
    def store_url(self) -> str:
        return "rocksdb://" if self.store == "rocksdb" else "memory://"

    def create_data_dir(self) -> None:
        """Create ``data_dir`` and its parents if missing (Faust creates only the last part);
        ``SlaTimerError`` if that fails after all (``from_env`` checked that it can)."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SlaTimerError(
                f"SLA_DATA_DIR={str(self.data_dir)!r}: cannot create it: {error.strerror}"
            ) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        """Settings from the environment; ``SlaTimerError`` lists every problem."""
        value = {name: env.get(name, default) for name, (default, _) in VARIABLES.items()}
        problems: list[str] = []

        def number(name: str, low: int, high: int) -> int:
            return whole_number(value, name, low, high, problems)

        def seconds(name: str, allow_zero: bool) -> int:
            text = value[name].strip()
            if allow_zero and text in ("0", "0s"):
                return 0
            try:
                micros = parse_duration(text).resolve(DAY)  # here a day is 24 hours
                if micros > 0:
                    return micros
            except SlaTimerError:
                pass
            problems.append(
                f"{name}={text!r}: use a duration such as 30s, 5m, 1h or 35d (0s: none)"
            )
            return 0

        topics = tuple(t.strip() for t in value["SLA_INPUT_TOPICS"].split(",") if t.strip())
        if not topics:
            problems.append("SLA_INPUT_TOPICS is empty: name at least one topic")
        if value["SLA_STORE"] not in ("rocksdb", "memory"):
            problems.append(f"SLA_STORE={value['SLA_STORE']!r}: use rocksdb or memory")
        data_dir_problem = _data_dir_problem(value["SLA_DATA_DIR"])
        if data_dir_problem:
            problems.append(f"SLA_DATA_DIR={value['SLA_DATA_DIR']!r}: {data_dir_problem}")
        tick = value["SLA_TICK"].strip()
        tick_seconds = float(tick[:-1]) if tick.endswith("s") and _is_float(tick[:-1]) else -1.0
        if not 0 < tick_seconds <= 10:
            problems.append(f"SLA_TICK={tick!r}: use seconds from 0.01s to 10s, e.g. 0.2s")
        settings = cls(
            kafka=Connection.read(env, problems),
            policy_dir=Path(value["SLA_POLICY_DIR"]),
            input_topics=topics,
            output_prefix=value["SLA_OUTPUT_PREFIX"],
            data_dir=Path(value["SLA_DATA_DIR"]),
            web_host=value["SLA_WEB_HOST"],
            web_port=number("SLA_WEB_PORT", 1, 65535),
            grace=seconds("SLA_GRACE", allow_zero=True),
            partitions=number("SLA_PARTITIONS", 1, 1000),
            app_id=value["SLA_APP_ID"],
            store=value["SLA_STORE"],
            tick_seconds=tick_seconds,
            session_timeout=seconds("SLA_SESSION_TIMEOUT", allow_zero=False),
            stall_timeout=seconds("SLA_STALL_TIMEOUT", allow_zero=False),
            http_token=value["SLA_HTTP_TOKEN"].strip(),
            retention=seconds("SLA_RETENTION", allow_zero=False),
            hold=seconds("SLA_HOLD", allow_zero=True),
            replication_factor=number("SLA_REPLICATION_FACTOR", 1, 32),
            rocksdb_block_cache=number("SLA_ROCKSDB_BLOCK_CACHE_MIB", 1, 65536) * 2**20,
        )
        if problems:
            raise InvalidConfiguration(problems)
        return settings


def whole_number(
    value: Mapping[str, str], name: str, low: int, high: int, problems: list[str]
) -> int:
    """``value[name]`` as a whole number from ``low`` to ``high``; else ``low``, after adding
    the problem (naming the variable and the range) to ``problems``."""
    try:
        parsed = int(value[name])
        if low <= parsed <= high:
            return parsed
    except ValueError:
        pass
    problems.append(f"{name}={value[name]!r}: use a whole number from {low} to {high}")
    return low


def _data_dir_problem(text: str) -> str | None:
    """Why ``text`` cannot be, or be created as, a writable directory; None if it can."""
    if not text.strip():
        return "empty: name a directory"
    path = Path(text)
    if path.exists():
        if not path.is_dir():
            return "exists and is not a directory"
        return None if os.access(path, os.W_OK | os.X_OK) else "is not writable"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {parent} is not writable"
    return None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
