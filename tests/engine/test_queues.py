"""Tests of the queues: key order, sub-queues by signature, lazy removal and stale entries."""

from __future__ import annotations

from aiguillage.engine.instants import SECOND
from aiguillage.engine.policies import Channel
from aiguillage.engine.queues import Queues, Signature, SubQueue, queue_key

FRENCH: Signature = ("fr", ())
REFUNDS: Signature = ("fr", (("refunds", 3),))
ENGLISH: Signature = ("en", ())
EARLY = 1_000 * SECOND
LATE = 2_000 * SECOND


def key(priority: int = 0, deadline: int = LATE, arrival: int = 0) -> tuple[int, int, int]:
    return queue_key(priority, deadline, arrival)


def sub(queues: Queues, signature: Signature = FRENCH, channel: Channel = "written") -> SubQueue:
    return queues.subqueues(channel)[signature]


def filled(*interaction_ids: int) -> Queues:
    """Return queues holding the given written interactions, in that queue order."""
    queues = Queues()
    for arrival, interaction_id in enumerate(interaction_ids):
        queues.push(interaction_id, "written", FRENCH, key(arrival=arrival))
    return queues


def head_id(queues: Queues, subqueue: SubQueue) -> int | None:
    entry = queues.head(subqueue)
    return None if entry is None else entry[4]


# -- queue_key ----------------------------------------------------------------------------------


def test_queue_key_serves_higher_priority_first_whatever_the_deadline() -> None:
    assert queue_key(5, LATE, 9) < queue_key(0, EARLY, 1)


def test_queue_key_serves_the_earlier_deadline_first_at_equal_priority() -> None:
    assert queue_key(1, EARLY, 9) < queue_key(1, LATE, 1)


def test_queue_key_serves_the_earlier_arrival_first_at_equal_priority_and_deadline() -> None:
    assert queue_key(1, EARLY, 1) < queue_key(1, EARLY, 2)


# -- push, head, remove -------------------------------------------------------------------------


def test_head_is_the_entry_with_the_smallest_key_whatever_the_push_order() -> None:
    queues = Queues()
    queues.push(1, "written", FRENCH, key(priority=0, arrival=1))
    queues.push(2, "written", FRENCH, key(priority=0, deadline=EARLY, arrival=2))
    queues.push(3, "written", FRENCH, key(priority=0, arrival=3))
    assert head_id(queues, sub(queues)) == 2


def test_an_entry_carries_its_key_then_the_interaction_id() -> None:
    queues = Queues()
    queues.push(7, "written", FRENCH, key(priority=4, deadline=EARLY, arrival=3))
    entry = queues.head(sub(queues))
    assert entry is not None
    assert (entry[0], entry[1], entry[2], entry[4]) == (-4, EARLY, 3, 7)


def test_a_pushed_interaction_is_waiting_and_a_removed_one_is_not() -> None:
    queues = filled(1, 2)
    queues.remove(1)
    assert (1 in queues, 2 in queues) == (False, True)
    assert list(queues) == [2]


def test_removing_the_head_makes_the_next_entry_the_head() -> None:
    queues = filled(1, 2, 3)
    queues.remove(1)
    assert head_id(queues, sub(queues)) == 2


def test_removing_from_the_middle_leaves_the_heap_untouched() -> None:
    # Removal forgets the entry in the index only (O(1)); the heap is not searched or rebuilt.
    queues = filled(1, 2, 3)
    heap_before = list(sub(queues).heap)
    queues.remove(2)
    assert sub(queues).heap == heap_before


def test_a_removed_entry_is_dropped_when_it_reaches_the_head() -> None:
    queues = filled(1, 2, 3)
    queues.remove(2)
    queues.remove(1)
    assert head_id(queues, sub(queues)) == 3
    assert [entry[4] for entry in sub(queues).heap] == [3]


def test_a_sub_queue_whose_entries_were_all_removed_has_no_head() -> None:
    queues = filled(1, 2)
    queues.remove(1)
    queues.remove(2)
    assert queues.head(sub(queues)) is None


def test_removing_an_interaction_that_is_not_waiting_changes_nothing() -> None:
    queues = filled(1)
    queues.remove(99)
    assert (queues.waiting("written"), queues.ordered("written")) == (1, [1])


def test_removing_an_interaction_twice_counts_it_out_once() -> None:
    queues = filled(1, 2)
    queues.remove(1)
    queues.remove(1)
    assert queues.waiting("written") == 1


# -- re-push ------------------------------------------------------------------------------------


def test_a_re_pushed_interaction_waits_once_at_its_new_place() -> None:
    queues = Queues()
    queues.push(1, "written", FRENCH, key(priority=9, arrival=1))
    queues.push(2, "written", FRENCH, key(priority=5, arrival=2))
    queues.push(1, "written", FRENCH, key(priority=0, arrival=1))
    assert queues.ordered("written") == [2, 1]


def test_the_stale_entry_of_a_re_pushed_interaction_is_never_its_head() -> None:
    queues = Queues()
    queues.push(1, "written", FRENCH, key(priority=9, arrival=1))
    queues.push(2, "written", FRENCH, key(priority=5, arrival=2))
    queues.push(1, "written", FRENCH, key(priority=0, arrival=1))
    entry = queues.head(sub(queues))
    assert entry is not None
    assert (entry[0], entry[4]) == (-5, 2)


def test_re_pushing_the_same_interaction_counts_it_once() -> None:
    queues = Queues()
    queues.push(1, "written", FRENCH, key(arrival=1))
    queues.push(1, "written", FRENCH, key(arrival=1))
    assert queues.waiting("written") == 1


def test_a_re_push_under_another_signature_leaves_nothing_in_the_old_sub_queue() -> None:
    queues = Queues()
    queues.push(1, "written", REFUNDS, key(arrival=1))
    queues.push(1, "written", FRENCH, key(arrival=1))
    assert queues.head(sub(queues, REFUNDS)) is None
    assert head_id(queues, sub(queues, FRENCH)) == 1


def test_a_re_push_into_another_channel_moves_the_waiting_count() -> None:
    queues = Queues()
    queues.push(1, "written", FRENCH, key(arrival=1))
    queues.push(1, "social", FRENCH, key(arrival=1))
    assert (queues.waiting("written"), queues.waiting("social")) == (0, 1)
    assert (queues.ordered("written"), queues.ordered("social")) == ([], [1])


# -- first_where --------------------------------------------------------------------------------


def test_first_where_returns_the_head_when_it_is_allowed() -> None:
    queues = filled(1, 2)
    entry = queues.first_where(sub(queues), lambda interaction_id: True)
    assert entry is not None
    assert entry[4] == 1


def test_first_where_skips_a_refused_head_for_the_next_allowed_entry() -> None:
    queues = filled(1, 2, 3)
    entry = queues.first_where(sub(queues), lambda interaction_id: interaction_id != 1)
    assert entry is not None
    assert entry[4] == 2


def test_first_where_never_returns_a_removed_entry() -> None:
    queues = filled(1, 2, 3)
    queues.remove(2)
    entry = queues.first_where(sub(queues), lambda interaction_id: interaction_id != 1)
    assert entry is not None
    assert entry[4] == 3


def test_first_where_never_returns_the_stale_entry_of_a_re_pushed_interaction() -> None:
    queues = filled(1, 2, 3)
    queues.push(2, "written", REFUNDS, key(arrival=1))
    entry = queues.first_where(sub(queues), lambda interaction_id: interaction_id != 1)
    assert entry is not None
    assert entry[4] == 3


def test_first_where_returns_none_when_every_entry_is_refused() -> None:
    queues = filled(1, 2, 3)
    assert queues.first_where(sub(queues), lambda interaction_id: False) is None


def test_first_where_finds_the_same_entry_in_a_queue_rebuilt_without_its_stale_entries() -> None:
    # Stale entries between the refused head and the allowed one: a queue rebuilt with only
    # the waiting work (from a snapshot) must find the same entry as the original.
    queues = filled(*range(1, 13))
    for removed in range(2, 12):
        queues.remove(removed)
    rebuilt = filled(1, 12)
    for walked in (queues, rebuilt):
        entry = walked.first_where(sub(walked), lambda i: i != 1)
        assert entry is not None
        assert entry[4] == 12


def test_first_where_on_an_empty_sub_queue_returns_none() -> None:
    queues = filled(1)
    queues.remove(1)
    assert queues.first_where(sub(queues), lambda interaction_id: True) is None


# -- ordered and waiting ------------------------------------------------------------------------


def test_ordered_merges_the_sub_queues_of_a_channel_in_key_order() -> None:
    queues = Queues()
    queues.push(1, "written", FRENCH, key(priority=0, arrival=1))
    queues.push(2, "written", REFUNDS, key(priority=5, arrival=2))
    queues.push(3, "written", ENGLISH, key(priority=0, deadline=EARLY, arrival=3))
    queues.push(4, "written", REFUNDS, key(priority=0, arrival=4))
    assert queues.ordered("written") == [2, 3, 1, 4]


def test_ordered_leaves_out_removed_interactions_and_other_channels() -> None:
    queues = filled(1, 2, 3)
    queues.push(4, "social", FRENCH, key(arrival=0))
    queues.remove(2)
    assert queues.ordered("written") == [1, 3]


def test_waiting_counts_each_channel_apart() -> None:
    queues = filled(1, 2)
    queues.push(3, "social", FRENCH, key(arrival=3))
    assert [queues.waiting(c) for c in ("voice", "written", "social")] == [0, 2, 1]


def test_waiting_goes_down_when_an_interaction_is_removed() -> None:
    queues = filled(1, 2, 3)
    queues.remove(2)
    assert queues.waiting("written") == 2


# -- created ------------------------------------------------------------------------------------


def test_a_sub_queue_is_created_once_per_channel_and_signature() -> None:
    queues = Queues()
    queues.push(1, "written", FRENCH, key(arrival=1))
    queues.push(2, "written", FRENCH, key(arrival=2))
    queues.push(3, "written", REFUNDS, key(arrival=3))
    queues.push(4, "social", FRENCH, key(arrival=4))
    assert [(s.channel, s.signature) for s in queues.created] == [
        ("written", FRENCH),
        ("written", REFUNDS),
        ("social", FRENCH),
    ]


def test_a_sub_queue_emptied_and_used_again_is_not_created_again() -> None:
    queues = filled(1)
    queues.remove(1)
    queues.push(2, "written", FRENCH, key(arrival=2))
    assert len(queues.created) == 1
    assert queues.created[0] is sub(queues)


# -- bounded costs ------------------------------------------------------------------------------


def test_first_where_reads_only_the_entries_before_the_first_allowed_however_long_the_queue() -> (
    None
):
    queues = filled(*range(1, 100_001))
    asked: list[int] = []

    def refuse_forty(interaction_id: int) -> bool:
        asked.append(interaction_id)
        return interaction_id > 40

    found = queues.first_where(sub(queues), refuse_forty)
    assert found is not None
    assert found[4] == 41
    assert asked == list(range(1, 42))  # in queue order, and not one more


def test_removed_entries_do_not_pile_up_in_a_sub_queue_nobody_serves() -> None:
    queues = filled(*range(1, 1_001))
    for interaction_id in range(1, 1_001):
        queues.remove(interaction_id)
    assert len(sub(queues).heap) <= 64
    assert queues.head(sub(queues)) is None


def test_first_where_finds_an_allowed_entry_past_any_number_of_refused_ones() -> None:
    # More than the 32 entries it once read at most: an advisor who declined 90 messages
    # within the re-offer delay still finds the 91st.
    queues = filled(*range(1, 101))
    entry = queues.first_where(sub(queues), lambda interaction_id: interaction_id > 90)
    assert entry is not None
    assert entry[4] == 91
