"""Keys by the instant they are next due, earliest first (the engine's and the worker's timers)."""

import heapq
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

from .instant import Instant

K = TypeVar("K", bound=Hashable)


class DueHeap(Generic[K]):
    """A heap with lazy deletion: scheduling a key again makes its older entry stale."""

    def __init__(self) -> None:
        self._heap: list[tuple[Instant, K]] = []
        self._due: dict[K, Instant] = {}  # the live entry of each key

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, key: K, due: Instant | None) -> None:
        if due is None or self._due.get(key) == due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, key))

    def earliest(self) -> Instant | None:
        """The earliest live due instant, or None when nothing is scheduled."""
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # stale entries on top are dropped on the way
        return heap[0][0] if heap else None

    def is_due(self, until: Instant) -> bool:
        """Whether an entry, perhaps stale, is due at or before ``until``."""
        return bool(self._heap) and self._heap[0][0] <= until

    def pop_due(self, until: Instant) -> Iterator[K]:
        """Each key due at or before ``until``, earliest first, unscheduled as it is taken;
        keys scheduled again meanwhile are seen when their turn comes."""
        while self._heap and self._heap[0][0] <= until:
            due, key = heapq.heappop(self._heap)
            if self._due.get(key) != due:
                continue  # stale: the key moved on since this entry
            del self._due[key]
            yield key
