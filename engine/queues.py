"""Per-channel priority queues, split into sub-queues by skill requirement.

Each waiting interaction has a fixed key: priority (higher first), then deadline, then arrival
order. The key never changes while it waits, so the order never has to be recomputed. A channel's
queue is a set of sub-queues, one per requirement signature (language and required skills); each
sub-queue is a heap. A freed advisor compares only the heads of the sub-queues it is eligible for,
never the whole queue. Removal from the middle (an abandon, a transfer, an offer) is O(1): the
entry is forgotten in an index and dropped lazily when it reaches a head.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from itertools import count

from .instants import Instant
from .policies import CHANNELS, Channel

__all__ = ["Entry", "Queues", "Signature", "SubQueue", "queue_key"]

Signature = tuple[str, tuple[tuple[str, int], ...]]
"""``(language, ((skill, minimum level), ...))`` with skills sorted by name."""

Entry = tuple[int, Instant, int, int, int]
"""``(-priority, deadline, arrival order, token, interaction id)``: heap order is queue order."""


def queue_key(priority: int, deadline: Instant, arrival: int) -> tuple[int, Instant, int]:
    """Return the fixed ordering key of a waiting interaction (smaller is served first)."""
    return (-priority, deadline, arrival)


class SubQueue:
    """The waiting interactions of one channel that share one requirement signature."""

    __slots__ = ("channel", "heap", "signature", "stale")

    def __init__(self, channel: Channel, signature: Signature) -> None:
        self.channel = channel
        self.signature = signature
        self.heap: list[Entry] = []
        self.stale = 0
        """Entries in ``heap`` that no longer stand for a waiting interaction."""


class Queues:
    """Every channel's sub-queues, with an index of what is waiting where."""

    def __init__(self) -> None:
        self._subqueues: dict[Channel, dict[Signature, SubQueue]] = {c: {} for c in CHANNELS}
        self.live: dict[int, tuple[int, SubQueue]] = {}
        """Interaction id -> (token of its live entry, its sub-queue); absent when not waiting.
        An entry in a heap whose token is not the live one is stale."""
        self._waiting: dict[Channel, int] = dict.fromkeys(CHANNELS, 0)
        self._tokens = count()
        self.created: list[SubQueue] = []
        """Every sub-queue, in the order created (they are never removed): a cache of which
        ones an advisor serves needs only look at those created since it last looked."""

    def push(
        self,
        interaction_id: int,
        channel: Channel,
        signature: Signature,
        key: tuple[int, Instant, int],
    ) -> None:
        """Put an interaction in the sub-queue of its signature, at the place its key gives."""
        if interaction_id in self.live:
            self.remove(interaction_id)
        subqueue = self._subqueues[channel].get(signature)
        if subqueue is None:
            subqueue = self._subqueues[channel][signature] = SubQueue(channel, signature)
            self.created.append(subqueue)
        token = next(self._tokens)
        heapq.heappush(subqueue.heap, (key[0], key[1], key[2], token, interaction_id))
        self.live[interaction_id] = (token, subqueue)
        self._waiting[channel] += 1

    def remove(self, interaction_id: int) -> None:
        """Take an interaction out of its queue, wherever it stands; no-op when not waiting."""
        live = self.live.pop(interaction_id, None)
        if live is None:
            return
        subqueue = live[1]
        self._waiting[subqueue.channel] -= 1
        subqueue.stale += 1
        # Lazy removal leaves the entry in the heap; a sub-queue nobody serves would keep
        # them forever, so once they are the majority the heap is rebuilt without them.
        if subqueue.stale > 32 and 2 * subqueue.stale > len(subqueue.heap):
            self._compact(subqueue)

    def _compact(self, subqueue: SubQueue) -> None:
        live = self.live
        subqueue.heap = [
            entry
            for entry in subqueue.heap
            if (current := live.get(entry[4])) is not None and current[0] == entry[3]
        ]
        heapq.heapify(subqueue.heap)
        subqueue.stale = 0

    def __contains__(self, interaction_id: int) -> bool:
        return interaction_id in self.live

    def waiting(self, channel: Channel) -> int:
        """Return how many interactions wait in a channel."""
        return self._waiting[channel]

    def subqueues(self, channel: Channel) -> dict[Signature, SubQueue]:
        return self._subqueues[channel]

    def head(self, subqueue: SubQueue) -> Entry | None:
        """Return the first live entry of a sub-queue, dropping stale entries on the way."""
        heap = subqueue.heap
        live = self.live
        while heap:
            entry = heap[0]
            current = live.get(entry[4])
            if current is not None and current[0] == entry[3]:
                return entry
            heapq.heappop(heap)
            subqueue.stale -= 1
        return None

    def first_where(self, subqueue: SubQueue, allowed: Callable[[int], bool]) -> Entry | None:
        """Return the first live entry whose interaction ``allowed`` accepts.

        The head is tried first. Past it, the heap is walked in queue order from its root
        (a frontier of the smallest entries not yet seen) until an allowed entry: O(k log k) for
        k entries refused before it. Routing refuses only the work an advisor declined or missed
        within the re-offer delay, and callbacks waiting for their next attempt, so k is bounded
        by that advisor's own recent refusals and the callbacks missed lately, not by the length
        of the queue; no entry past an arbitrary limit is ever left unseen beside a
        free advisor. Stale entries are passed over (compaction keeps them few), so the answer
        depends on what waits, never on how the heap was built: a queue rebuilt from a snapshot
        or a replay decides as the original would.
        """
        head = self.head(subqueue)
        if head is None or allowed(head[4]):
            return head
        heap = subqueue.heap
        live = self.live
        # The head, refused, is the heap's root (head() dropped the stale entries above it).
        frontier = [(heap[child], child) for child in (1, 2) if child < len(heap)]
        heapq.heapify(frontier)
        while frontier:
            entry, position = heapq.heappop(frontier)
            current = live.get(entry[4])
            if current is not None and current[0] == entry[3] and allowed(entry[4]):
                return entry
            for child in (2 * position + 1, 2 * position + 2):
                if child < len(heap):
                    heapq.heappush(frontier, (heap[child], child))
        return None

    def ordered(self, channel: Channel) -> list[int]:
        """Return the ids waiting in a channel in queue order (for inspection and tests)."""
        entries = [
            entry
            for subqueue in self._subqueues[channel].values()
            for entry in subqueue.heap
            if (current := self.live.get(entry[4])) is not None and current[0] == entry[3]
        ]
        return [entry[4] for entry in sorted(entries)]

    def __iter__(self) -> Iterator[int]:
        return iter(self.live)
