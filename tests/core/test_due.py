"""The heap of due instants shared by the replay engine and the worker's timers."""

from service.core.due import DueHeap


def test_keys_come_out_earliest_first_and_once() -> None:
    heap: DueHeap[str] = DueHeap()
    heap.schedule("b", 20)
    heap.schedule("a", 10)
    heap.schedule("a", 10)  # the same due again adds nothing
    heap.schedule("c", None)  # nothing due
    assert list(heap.pop_due(25)) == ["a", "b"]
    assert list(heap.pop_due(25)) == []
    assert len(heap) == 0


def test_rescheduling_makes_the_older_entry_stale() -> None:
    heap: DueHeap[str] = DueHeap()
    heap.schedule("a", 10)
    heap.schedule("a", 30)
    assert list(heap.pop_due(15)) == []
    assert len(heap) == 1
    assert list(heap.pop_due(30)) == ["a"]


def test_a_key_scheduled_again_while_popping_comes_out_in_its_turn() -> None:
    heap: DueHeap[str] = DueHeap()
    heap.schedule("a", 10)
    heap.schedule("b", 40)
    taken = []
    for key in heap.pop_due(30):
        taken.append(key)
        if key == "a" and taken.count("a") == 1:
            heap.schedule("a", 20)
    assert taken == ["a", "a"]
    assert list(heap.pop_due(40)) == ["b"]


def test_earliest_skips_entries_made_stale_by_rescheduling() -> None:
    heap: DueHeap[str] = DueHeap()
    assert heap.earliest() is None
    heap.schedule("a", 10)
    heap.schedule("b", 20)
    heap.schedule("a", 30)  # a moves later: its entry at 10 is stale
    assert heap.earliest() == 20
    assert list(heap.pop_due(25)) == ["b"]
    assert heap.earliest() == 30
    assert list(heap.pop_due(30)) == ["a"]
    assert heap.earliest() is None
