"""The worker seeks an input partition back when the consumer's position passed messages
that were never delivered (Faust can drop fetched records while a rebalance interrupts
their delivery; tests/integration/test_failover.py met it on the worker taking over)."""

import asyncio

import pytest
from faust.types import TP

from service.worker import progress
from service.worker.progress import Progress

INPUT = TP("ticket-events", 2)
DUE = TP("sla-timer-due", 2)


class Consumer:
    """The few consumer calls the repair makes, over positions the test sets."""

    def __init__(self, positions: dict[TP, int], earliest: int = 0) -> None:
        self.positions = positions
        self.earliest = earliest
        self.sought: list[tuple[TP, int]] = []
        self.taken: dict[TP, tuple[int, float]] = {}  # as the batch consumer keeps it

    def assignment(self) -> set[TP]:
        return set(self.positions)

    async def position(self, tp: TP) -> int:
        return self.positions[tp]

    async def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp, offset))
        self.positions[tp] = offset

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, self.earliest)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.positions[tp] for tp in tps}


def committed(offsets: dict[TP, int]) -> progress.Committed:
    async def ask(tps: set[TP]) -> dict[TP, int]:
        return {tp: offsets.get(tp, -1) for tp in tps}

    return ask


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    return now


def check(tracker: Progress, consumer: Consumer) -> None:
    asyncio.run(tracker.check(True, consumer))


def test_a_partition_read_past_what_was_delivered_is_sought_back_to_its_committed_offset(
    clock: list[float],
) -> None:
    consumer = Consumer({INPUT: 16, DUE: 3})
    tracker = Progress(30.0, ["ticket-events"], committed({INPUT: 4}))
    check(tracker, consumer)  # ready: nothing delivered yet, but not long enough
    assert consumer.sought == []
    clock[0] += progress.GAP_SECONDS
    check(tracker, consumer)
    assert consumer.sought == [(INPUT, 4)]  # the due topic is not the repair's
    assert tracker.repairs == 1


def test_without_a_committed_offset_it_reads_from_the_partitions_first(clock: list[float]) -> None:
    consumer = Consumer({INPUT: 16}, earliest=2)
    tracker = Progress(30.0, ["ticket-events"], committed({}))
    check(tracker, consumer)
    clock[0] += progress.GAP_SECONDS
    check(tracker, consumer)
    assert consumer.sought == [(INPUT, 2)]


def test_a_partition_whose_messages_are_being_handed_over_is_left_alone(
    clock: list[float],
) -> None:
    # A backlog: the consumer fetched ahead of what was handed over, which keeps moving;
    # no batch has completed yet (a slow first batch on a loaded machine).
    consumer = Consumer({INPUT: 5000})
    tracker = Progress(30.0, ["ticket-events"], committed({INPUT: 0}))
    check(tracker, consumer)
    for taken in range(100, 1000, 100):
        clock[0] += 2.0
        consumer.taken[INPUT] = (taken, clock[0])
        check(tracker, consumer)
    assert consumer.sought == []
    clock[0] += progress.GAP_SECONDS  # then nothing more is handed over: sought back
    check(tracker, consumer)
    assert consumer.sought == [(INPUT, 900)]


def test_a_partition_at_its_committed_offset_is_not_sought(clock: list[float]) -> None:
    consumer = Consumer({INPUT: 4})
    tracker = Progress(30.0, ["ticket-events"], committed({INPUT: 4}))
    check(tracker, consumer)
    clock[0] += 10 * progress.GAP_SECONDS
    check(tracker, consumer)
    assert consumer.sought == []


def test_a_partition_is_sought_at_most_once_per_gap(clock: list[float]) -> None:
    consumer = Consumer({INPUT: 16})
    tracker = Progress(30.0, ["ticket-events"], committed({INPUT: 4}))
    check(tracker, consumer)
    clock[0] += progress.GAP_SECONDS
    check(tracker, consumer)
    consumer.positions[INPUT] = 16  # fetched again at once, not handed over yet
    clock[0] += 1.0
    check(tracker, consumer)
    assert consumer.sought == [(INPUT, 4)]


def test_the_start_offsets_of_every_quiet_partition_come_from_one_question(
    clock: list[float],
) -> None:
    other = TP("ticket-events", 3)
    consumer = Consumer({INPUT: 16, other: 9})
    asked: list[set[TP]] = []

    async def ask(tps: set[TP]) -> dict[TP, int]:
        asked.append(set(tps))
        return {INPUT: 4, other: -1}

    tracker = Progress(30.0, ["ticket-events"], ask)
    check(tracker, consumer)
    clock[0] += progress.GAP_SECONDS
    check(tracker, consumer)
    check(tracker, consumer)
    assert asked == [{INPUT, other}]  # once, for both, per assignment
    assert sorted(consumer.sought) == [(INPUT, 4), (other, 0)]  # 3 had no commit: its first
