"""Where the worker's memory per open ticket goes, measured without a broker.

``python -m tests.bench.memory_bench [--tickets 100000] [--events 200000]``, each part in a
fresh process:

* Python objects: the worker's batch step (``service.worker.step``: the engine, its due
  heaps, the log texts, the compliance tally) takes ``--tickets`` tickets made by the worker
  benchmark's script for open ones (``worker_bench --memory``: one ``ticket_created``, a first
  response owed) in batches of ``BATCH_MAX`` over four partitions, with a table that stores
  nothing (RocksDB's share is measured apart). Per ticket: the resident memory added between
  the first and the second half of the tickets (so the batches in flight, a fixed share, are
  left out), the Python heap (tracemalloc) and, by part, the objects each of ``SAMPLE``
  tickets reaches alone (``sys.getsizeof``; what two sampled tickets share, the policies and
  the types are left out; a dict or list that holds every ticket counts its size over its
  length). Then the same walk over the tickets open halfway through ``--events`` generated
  events (``tests/bench/generate.py``, event time as the engine's clock), whose logs hold more;
* RocksDB: the changelog values of those tickets written into four partition databases
  opened with the worker's table options (``service.worker.app.TABLE_OPTIONS``), as the worker
  writes them: each new key looked up first, then one write batch per partition and batch.
  RocksDB's own counts (memtables, block cache, table readers) and the resident memory added;
* the fixed share: the resident memory of a bare interpreter, after the worker's imports,
  and with the seed policies loaded.

``worker_bench --memory`` measures the whole, in a real worker over the local broker.
"""

import argparse
import gc
import random
import subprocess
import sys
import tempfile
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from types import FunctionType, ModuleType, SimpleNamespace
from typing import Any

import orjson
from faust.stores.rocksdb import RocksDBOptions
from rocksdict import WriteBatch

from service.core.engine import Engine, Lifecycle
from service.core.instant import DAY, Instant
from service.policyfile import load_policies
from service.wire import parse_timestamp
from service.worker.app import BATCH_MAX, KEEP_SETTLED, TABLE_OPTIONS
from service.worker.changelog import rocksdb_memory
from service.worker.compliance import LiveCompliance
from service.worker.metrics import Metrics
from service.worker.step import Message, Plan, Step, Topics
from service.worker.tickets import StoredTickets
from tests.bench.generate import stream

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_POLICIES = REPO_ROOT / "deploy" / "policies"
PARTITIONS = 4  # as worker_bench --memory
SAMPLE = 200  # tickets walked object by object
TOPICS = Topics("events", "warnings", "breaches", "dlq", "tickets-changelog", "due")
STOP_TYPES = (type, ModuleType, FunctionType)
TOP_SITES = 6  # allocation sites shown
PARTS = ("resident", "heap", "rocksdb", "generated")  # each run in a fresh process
STAGES = {
    "bare interpreter": "",
    "+ the worker's imports": "import service.worker.main",
    "+ the seed policies loaded": (
        "import service.worker.main\nfrom service.policyfile import load_policies\n"
        f"policies = load_policies({str(SEED_POLICIES)!r})"
    ),
}
READ_RSS = (
    "import pathlib\n"
    "status = pathlib.Path('/proc/self/status').read_text().splitlines()\n"
    "print(int(next(s for s in status if s.startswith('VmRSS:')).split()[1]) * 1024)"
)


class Worker:
    """The worker's step as the shell builds it. ``table`` None: a table that stores
    nothing (every ticket is new; RocksDB's share is measured apart); else the acked
    values are written to it, as the shell does, and a ticket that left memory comes back."""

    def __init__(self, table: dict[bytes, bytes] | None = None) -> None:
        self.policies = load_policies(SEED_POLICIES)
        self.compliance = LiveCompliance(self.policies, Metrics())
        self.table = table
        stored = StoredTickets(table or {}, self.policies, self.compliance)
        lifecycle = Lifecycle(35 * DAY, DAY, KEEP_SETTLED)  # SLA_RETENTION, SLA_HOLD defaults
        self.engine = Engine(self.policies, lifecycle, stored.load)
        self.engine.reset(range(PARTITIONS))
        self.step = Step(self.engine, TOPICS, Metrics(), self.compliance)

    def run(self, events: Iterable[tuple[bytes, str]]) -> Iterator[Plan]:
        """Step (line, ticket id) pairs in batches of ``BATCH_MAX``, each to a partition by
        its key's CRC, with a due command for every partition at the end of each batch (the
        worker's timer); the engine's clock is the latest ``occurred_at`` so far."""
        now, batch = 0, []
        for offset, (line, ticket) in enumerate(events):
            now = max(now, parse_timestamp(orjson.loads(line)["occurred_at"]))
            key = ticket.encode()
            batch.append(Message("ticket-events", zlib.crc32(key) % PARTITIONS, offset, key, line))
            if len(batch) == BATCH_MAX:
                yield self._step(batch, now)
                batch = []
        if batch:
            yield self._step(batch, now)

    def _step(self, batch: list[Message], now: Instant) -> Plan:
        batch += [Message(TOPICS.due, p, 0, b"", b"") for p in range(PARTITIONS)]
        plan = self.step.run(batch, now)
        if self.table is not None:
            for _, key, value in plan.values.values():
                if value is None:
                    self.table.pop(key, None)
                else:
                    self.table[key] = value
        return plan

    def warm(self) -> None:
        """A batch's worth of other tickets first: allocators, caches and the settled tickets
        kept are there before anything is counted."""
        for _ in self.run(open_tickets(BATCH_MAX, "warm")):
            pass
        gc.collect()


def open_tickets(count: int, prefix: str = "open") -> Iterator[tuple[bytes, str]]:
    """The worker benchmark's open tickets (``worker_bench.memory``): one ticket_created."""
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for number in range(count):
        ticket = f"{prefix}-{number}"
        body = {
            "event_id": f"{ticket}-0",
            "type": "ticket_created",
            "tenant": "westock",
            "ticket_id": ticket,
            "occurred_at": at,
            "attributes": {"tier": "essential", "category": "general"},
        }
        yield orjson.dumps(body), ticket


def rss() -> int:
    """This process's resident set size in bytes (Linux)."""
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


# -- the walk ---------------------------------------------------------------------------------


def _walk(roots: Iterable[Any], stop: set[int], claimed: set[int]) -> Iterator[Any]:
    """Every object reachable from ``roots`` outside ``stop`` and ``claimed`` (which it
    extends): instance dicts included, types, modules and functions not."""
    todo = list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in stop or id(obj) in claimed or isinstance(obj, STOP_TYPES):
            continue
        claimed.add(id(obj))
        yield obj
        todo.extend(gc.get_referents(obj))
        # An instance's attributes, unless it is a dict (a Counter's __dict__ would be made).
        attributes = None if isinstance(obj, dict) else getattr(obj, "__dict__", None)
        if type(attributes) is dict:
            todo.append(attributes)


def reachable(roots: Iterable[Any], stop: set[int]) -> set[int]:
    """The ids of every object reachable from ``roots`` outside ``stop``."""
    found: set[int] = set()
    for _ in _walk(roots, stop, found):
        pass
    return found


def parts(worker: Worker, key: str, heap_entries: list[Any]) -> dict[str, list[Any]]:
    """The roots of each part of one ticket, in the order they claim what they reach (the
    Ticket object is claimed before, see ``breakdown``)."""
    ticket = worker.engine.tickets[key]
    clocks = ticket.clocks
    return {
        "engine: key and dict entry": [key],
        "due heap: entry": heap_entries,
        "log: the input events": [ticket.log, ticket._order, ticket._created],
        "seen event ids": [ticket.seen, ticket.folded_ids],
        "cycles": [clocks.cycles] if clocks is not None else [],
        "clocks: TicketClocks, attributes, facts": [clocks],
        "published SLA events": [ticket.standing],
        "checkpoints": [ticket._checkpoints],
        "other Ticket fields": [getattr(ticket, name) for name in type(ticket).__slots__],
        "worker: log text (LogJson)": [worker.step.log_json._done.get(key)],
        "worker: compliance outcomes": [worker.compliance.by_ticket.get(key)],
    }


def breakdown(worker: Worker, keys: list[str]) -> dict[str, int]:
    """Average bytes per ticket and part over ``keys`` (sampled tickets)."""
    engine = worker.engine
    sampled = set(keys)
    entries: dict[str, list[Any]] = {key: [] for key in keys}
    for heap in engine.heaps.values():
        for entry in heap._heap:
            if entry[1] in sampled:
                entries[entry[1]].append(entry)
    stop = reachable([worker.policies], set())
    seen: Counter[int] = Counter()
    for key in keys:
        roots = [root for roots in parts(worker, key, entries[key]).values() for root in roots]
        seen.update(reachable([engine.tickets[key], *roots], stop))
    shared = stop | {ident for ident, times in seen.items() if times > 1}
    heaps = engine.heaps.values()
    amortized = {  # each container's size over its length
        "engine: key and dict entry": _per_entry(engine.tickets),
        "due heap: entry": sum(sys.getsizeof(h._heap) + sys.getsizeof(h._due) for h in heaps)
        / sum(len(h) for h in heaps),
        "worker: log text (LogJson)": _per_entry(worker.step.log_json._done),
        "worker: compliance outcomes": _per_entry(worker.compliance.by_ticket),
    }
    total: Counter[str] = Counter()
    for key in keys:
        ticket = engine.tickets[key]
        claimed = {id(ticket)}  # a Ticket has slots: no attribute dict
        total["Ticket object"] += sys.getsizeof(ticket)
        for name, roots in parts(worker, key, entries[key]).items():
            found = sum(sys.getsizeof(obj) for obj in _walk(roots, shared, claimed))
            total[name] += found + round(amortized.get(name, 0))
    return {name: found // len(keys) for name, found in total.items()}


def _per_entry(container: dict[Any, Any]) -> float:
    return sys.getsizeof(container) / len(container) if container else 0.0


def print_breakdown(title: str, found: dict[str, int]) -> None:
    print(f"  {title}")
    for name, bytes_ in found.items():
        if bytes_:
            print(f"    {name:<42} {bytes_:>7,} B")
    print(f"    {'sum':<42} {sum(found.values()):>7,} B")


# -- the parts, each in its own process ----------------------------------------------------------


def resident(tickets: int) -> None:
    """Resident memory per open ticket: the growth over the second half of the tickets."""
    worker = Worker()
    worker.warm()
    half = tickets // 2
    made = open_tickets(tickets)
    marks = [rss()]
    for count in (half, tickets - half):
        for _ in worker.run(islice(made, count)):
            pass
        gc.collect()
        marks.append(rss())
    slope = (marks[2] - marks[1]) / (tickets - half)
    first = marks[1] - marks[0] - slope * half
    print(
        f"  python objects, {tickets:,} open tickets (worker_bench's script), resident: "
        f"{slope:,.0f} B per ticket (second half), and {first / 2**20:,.0f} MiB once (the "
        "first batches in flight)"
    )


def heap(tickets: int, spool: Path) -> None:
    """The Python heap per open ticket (tracemalloc), its largest allocation sites, and the
    parts; the changelog values go to ``spool``."""
    worker = Worker()
    worker.warm()
    tracemalloc.start()
    first = tracemalloc.take_snapshot()
    with spool.open("wb") as out:
        for plan in worker.run(open_tickets(tickets)):
            values = [(p, k.decode(), v.decode()) for p, k, v in plan.values.values() if v]
            out.write(orjson.dumps(values) + b"\n")
    del plan, values
    gc.collect()
    last = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = last.compare_to(first, "lineno")
    print(
        f"  python heap (tracemalloc): {sum(s.size_diff for s in grown) / tickets:,.0f} B per "
        "ticket; the largest allocation sites:"
    )
    for stat in grown[:TOP_SITES]:
        frame = stat.traceback[0]
        where = f"{_short(frame.filename)}:{frame.lineno}"
        print(f"    {where:<58} {stat.size_diff / tickets:>7,.0f} B")
    keys = random.Random(7).sample([k for k in worker.engine.tickets if "open" in k], SAMPLE)
    print_breakdown(f"by part ({SAMPLE} tickets walked, sys.getsizeof):", breakdown(worker, keys))


def _short(filename: str) -> str:
    for prefix in (f"{REPO_ROOT}/", "site-packages/"):
        if prefix in filename:
            return filename.split(prefix, 1)[1]
    return filename


def rocksdb(tickets: int, spool: Path) -> None:
    """The spooled changelog values into the worker's RocksDB databases, as it writes them."""
    options = RocksDBOptions(**TABLE_OPTIONS)
    written = 0
    with tempfile.TemporaryDirectory() as folder:
        before = rss()
        dbs = [options.open(Path(folder) / f"tickets-{p}.db") for p in range(PARTITIONS)]
        opened = rss()
        with spool.open("rb") as batches:
            for line in batches:
                values = orjson.loads(line)
                for partition, key, _ in values:  # a new ticket is looked up first
                    dbs[partition].get(key.encode())
                for partition, db in enumerate(dbs):
                    batch = WriteBatch(raw_mode=True)
                    for at, key, value in values:
                        if at == partition:
                            batch.put(key.encode(), value.encode())
                            written += len(value)
                    db.write(batch)
        after = rss()
        found = rocksdb_memory(SimpleNamespace(_dbs=dict(enumerate(dbs))))
        for db in dbs:
            db.close()
    cache = options.block_cache_size / 2**20
    print(
        f"  rocksdb, {PARTITIONS} partitions, {TABLE_OPTIONS} over Faust's defaults (up to "
        f"{options.max_write_buffer_number} memtables, block cache {cache:,.0f} MiB, per "
        f"partition): {written / tickets:,.0f} B of value per ticket; resident "
        f"{(opened - before) / 2**20:,.1f} MiB to open, then {(after - opened) / tickets:,.0f} B "
        "per ticket; by RocksDB's count:"
    )
    for name, bytes_ in found.items():
        print(f"    {name:<42} {bytes_ / 2**20:>7,.1f} MiB, {bytes_ / tickets:>5,.0f} B per ticket")


def generated(events: int) -> None:
    """The tickets open halfway through generated traffic (its quarter's middle), by part."""
    worker = Worker(table={})
    lines = islice(stream(events // 10, events, 0.01), events // 2)
    traffic = [(line.encode(), orjson.loads(line)["ticket_id"]) for line in lines]
    for _ in worker.run(traffic):
        pass
    held = worker.engine.tickets
    still_open = [
        key for key, ticket in held.items() if ticket.is_created and not ticket.is_settled
    ]
    logs = sum(len(held[key].log) for key in still_open) / len(still_open)
    keys = random.Random(7).sample(still_open, min(SAMPLE, len(still_open)))
    title = (
        f"{len(still_open):,} tickets open after the first {events // 2:,} of {events:,} "
        f"generated events (logs of {logs:.1f} events on average), by part:"
    )
    print_breakdown(title, breakdown(worker, keys))


def fixed_share() -> None:
    """Resident memory of fresh processes: interpreter, the worker's imports, policies."""
    print("  fixed share, fresh processes:")
    for name, code in STAGES.items():
        script = f"{code}\n{READ_RSS}"
        found = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        print(f"    {name:<42} {int(found.stdout) / 2**20:>7,.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200_000, help="generated; 0: none")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--spool", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    gc.set_threshold(50_000, 10, 10)  # as the worker (service/worker/main.py)
    if args.part == "resident":
        resident(args.tickets)
    elif args.part == "heap":
        heap(args.tickets, args.spool)
    elif args.part == "rocksdb":
        rocksdb(args.tickets, args.spool)
    elif args.part == "generated":
        generated(args.events)
    else:
        print("worker memory per open ticket, without a broker")
        with tempfile.TemporaryDirectory() as folder:
            spool = Path(folder) / "values.jsonl"
            for part in PARTS if args.events else PARTS[:-1]:
                command = [sys.executable, "-m", "tests.bench.memory_bench", "--part", part]
                more = ["--tickets", str(args.tickets), "--events", str(args.events)]
                subprocess.run([*command, *more, "--spool", str(spool)], check=True)
        fixed_share()


if __name__ == "__main__":
    main()
