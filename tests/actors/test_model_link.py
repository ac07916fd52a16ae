"""ModelLink without a connection: the reconnect schedule, event ids, de-duplication, session age."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.model_link import RECONNECT_ATTEMPTS, SEEN_EVENT_IDS, ModelLink, reconnect_delay


def test_the_reconnect_schedule_doubles_to_its_cap_then_gives_up() -> None:
    delays = [reconnect_delay(attempt) for attempt in range(1, RECONNECT_ATTEMPTS + 1)]
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, None]


def test_event_ids_count_over_sessions_and_are_never_reused() -> None:
    link = ModelLink()
    first = [link.next_event_id() for _ in range(3)]
    link.connected(now=10.0)
    assert first == ["rt_1", "rt_2", "rt_3"]
    assert link.next_event_id() == "rt_4"


def test_a_session_is_ready_only_between_its_acknowledgement_and_its_drop() -> None:
    link = ModelLink()
    link.connected(now=5.0)
    assert not link.ready
    link.acknowledged()
    assert link.ready
    assert link.rotation_due_at(1500.0) == 1505.0
    link.dropped()
    assert not link.ready
    link.acknowledged()
    link.connected(now=20.0)
    assert not link.ready and link.rotation_due_at(1500.0) == 1520.0


def test_an_event_without_a_usable_id_is_never_a_duplicate() -> None:
    link = ModelLink()
    for event_id in (None, "", 7, None, ""):
        assert not link.is_duplicate(event_id)


def test_a_new_session_forgets_the_ids_of_the_old_one() -> None:
    link = ModelLink()
    assert not link.is_duplicate("event_1")
    assert link.is_duplicate("event_1")
    link.connected(now=1.0)
    assert not link.is_duplicate("event_1")


def test_only_the_newest_ids_are_remembered() -> None:
    link = ModelLink()
    for n in range(SEEN_EVENT_IDS + 1):
        assert not link.is_duplicate(f"event_{n}")
    assert not link.is_duplicate("event_0")  # the oldest was forgotten
    assert link.is_duplicate(f"event_{SEEN_EVENT_IDS}")


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=200))
def test_a_repeat_within_the_window_is_skipped_and_a_first_delivery_never_is(stream: list[int]) -> None:
    link = ModelLink()
    seen: set[int] = set()
    for n in stream:
        # Fewer distinct ids than the window: every repeat is still remembered.
        assert link.is_duplicate(f"event_{n}") == (n in seen)
        seen.add(n)
