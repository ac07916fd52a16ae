"""The playout clock without trio: marks, what the caller heard, cuts, restarts and the hang-up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import AiAudio, AiAudioDone, HangUpAfterPlayout, MarkPlayed
from actors.playout_clock import MARK_OVERDUE_GRACE_MS, MarkEcho, PlayoutClock, PlayoutItem, mark_name, parse_mark

CHUNK = b"\xff" * 1040  # 130 ms


def clock(epoch: int = 1, *, backlog: int = 0, items_taken: set[str] | None = None) -> PlayoutClock:
    return PlayoutClock(epoch, backlog=backlog, items_taken=set() if items_taken is None else items_taken)


def audio(item: str = "item_1", response: str = "resp_1", payload: bytes = CHUNK) -> AiAudio:
    return AiAudio(response_id=response, item_id=item, payload=payload)


def done(item: str = "item_1", response: str = "resp_1") -> AiAudioDone:
    return AiAudioDone(response_id=response, item_id=item)


def test_mark_names_round_trip() -> None:
    assert parse_mark(mark_name("item_a@b#c.d", 1170, 3, 42)) == ("item_a@b#c.d", 1170, 3, 42)
    assert parse_mark("someone-else's mark") is None


def test_each_chunk_is_marked_with_the_items_audio_so_far() -> None:
    playout = clock(epoch=2)
    marks = [playout.add_audio(audio(), 0.0) for _ in range(3)]
    assert marks == ["item_1@130#2.1", "item_1@260#2.2", "item_1@390#2.3"]
    assert playout.playing and not playout.idle and playout.unechoed_marks == 3


def test_an_item_is_finished_when_its_last_mark_is_echoed_after_its_audio_is_done() -> None:
    playout = clock()
    marks = [playout.add_audio(audio(), 0.0) for _ in range(3)]
    assert playout.mark_echoed(str(marks[0])) == (MarkEcho.HEARD, None)
    assert playout.playing_item().heard_ms == 130
    assert playout.audio_done(done()) is None  # two marks still out
    # Twilio echoes marks in order: the last one says everything before it was heard too.
    echo, finished = playout.mark_echoed(str(marks[2]))
    assert echo is MarkEcho.HEARD
    assert finished == PlayoutItem("item_1", "resp_1", sent_bytes=3 * 1040, heard_ms=390, done=True)
    assert playout.idle and not playout.playing and playout.items == {}


def test_an_item_without_audio_is_finished_at_once() -> None:
    finished = clock().audio_done(done())
    assert finished is not None and finished.sent_bytes == 0 and finished.heard_ms == 0


def test_marks_of_cleared_audio_are_stale_and_late_audio_of_a_cut_response_is_dropped() -> None:
    playout = clock()
    marks = [playout.add_audio(audio(), 0.0) for _ in range(4)]
    playout.mark_echoed(str(marks[0]))
    heard = playout.heard_ms("item_1")
    cut = playout.drop_unplayed()
    assert heard == 130 and cut.playing_item_id == "item_1" and cut.was_playing
    assert [(item.item_id, item.heard_ms) for item in cut.items] == [("item_1", 130)]
    assert [playout.mark_echoed(str(mark))[0] for mark in marks[1:]] == [MarkEcho.STALE] * 3
    assert playout.add_audio(audio(), 0.0) is None and playout.add_audio(audio(item="item_2"), 0.0) is None
    assert playout.audio_done(done()) is None
    # A new response plays on the same clock, its marks numbered after the cleared ones.
    assert playout.add_audio(audio(item="item_3", response="resp_2"), 0.0) == "item_3@130#1.5"


def test_a_finished_item_is_not_cut_by_a_later_clear() -> None:
    playout = clock()
    mark = str(playout.add_audio(audio(), 0.0))
    playout.audio_done(done())
    playout.mark_echoed(mark)
    playout.add_audio(audio(item="item_2", response="resp_2"), 0.0)
    cut = playout.drop_unplayed()
    assert [item.item_id for item in cut.items] == ["item_2"] and cut.playing_item_id == "item_2"
    assert playout.heard_ms("item_2") == 0 and playout.heard_ms(None) == 0


def test_a_clear_with_nothing_playing_cuts_nothing() -> None:
    cut = clock().drop_unplayed()
    assert (cut.playing_item_id, cut.items, cut.was_playing) == (None, [], False)


def test_marks_that_are_not_ours_are_unknown() -> None:
    assert clock().mark_echoed("greeting-done") == (MarkEcho.UNKNOWN, None)


def test_a_restarted_clock_drops_its_predecessors_items_and_plays_new_ones_whole() -> None:
    taken = {"item_1"}
    playout = clock(epoch=2, backlog=2, items_taken=taken)
    # The backlog: the rest of the predecessor's item, and the first chunk of an item nobody played yet.
    for message in (audio(), audio(item="greeting", response="resp_g")):
        playout.take(message)
    assert playout.add_audio(audio(), 0.0) is None
    assert playout.add_audio(audio(item="greeting", response="resp_g"), 0.0) == "greeting@130#2.1"
    assert taken == {"item_1", "greeting"}
    # After the backlog, a predecessor's mark names an item cut by the restart's clear: it is never resumed.
    playout.take(MarkPlayed(mark_name("item_0", 650, 1, 7)))
    assert playout.mark_echoed(mark_name("item_0", 650, 1, 7)) == (MarkEcho.STALE, None)
    assert playout.add_audio(audio(item="item_0", response="resp_0"), 0.0) is None
    assert playout.add_audio(audio(item="item_4", response="resp_0"), 0.0) == "item_4@130#2.2"


def test_a_hang_up_waits_for_the_unheard_audio_and_takes_no_more() -> None:
    playout = clock()
    first = str(playout.add_audio(audio(), 0.0))
    playout.add_audio(audio(), 0.0)
    playout.mark_echoed(first)
    assert playout.request_hang_up("goodbye", now=10.0) == 130
    # The deadline: the unheard audio, and a grace for the last mark.
    assert playout.hang_up_deadline == pytest.approx(10.0 + 0.130 + 3.0)
    assert playout.request_hang_up("silence", now=11.0) is None and playout.hang_up_reason == "goodbye"
    assert playout.hang_up_deadline == pytest.approx(13.13)
    assert not playout.playing and not playout.idle  # no barge-in, but the last mark is still awaited
    assert playout.add_audio(audio(), 0.0) is None
    assert playout.unechoed_marks == 1


def test_the_backlog_counts_messages_not_chunks() -> None:
    playout = clock(epoch=2, backlog=2, items_taken={"item_1"})
    for message in (HangUpAfterPlayout("silence"), MarkPlayed("x"), audio()):
        playout.take(message)
    # The chunk came after the two messages that were waiting: it was sent to this instance, which plays it.
    assert playout.add_audio(audio(), 0.0) == "item_1@130#2.1"


ITEMS = ("item_a", "item_b", "item_c")
operations = st.lists(
    st.one_of(
        st.tuples(st.just("audio"), st.sampled_from(ITEMS), st.integers(0, 3000)),
        st.tuples(st.just("done"), st.sampled_from(ITEMS), st.just(0)),
        st.tuples(st.just("echo"), st.just(""), st.integers(0, 200)),
        st.tuples(st.just("stop"), st.just(""), st.just(0)),
    ),
    max_size=80,
)


@given(operations)
def test_heard_ms_never_exceeds_the_audio_sent_nor_goes_back(ops: list[tuple[str, str, int]]) -> None:
    """Whatever arrives in whatever order (marks echoed late, twice, after a clear), what the clock says the
    caller heard of an item is a mark it echoed, within the audio sent, and never less than it said before."""
    playout = clock()
    marks: list[str] = []
    echoed_ms: dict[str, set[int]] = {item_id: {0} for item_id in ITEMS}
    said: dict[int, tuple[PlayoutItem, int]] = {}  # id(item) -> the item (kept alive) and the heard_ms it said

    def check(item: PlayoutItem) -> None:
        assert item.heard_ms <= item.sent_bytes // 8
        assert item.heard_ms in echoed_ms[item.item_id]
        assert item.heard_ms >= said.get(id(item), (item, 0))[1]
        said[id(item)] = (item, item.heard_ms)

    for op, item_id, number in ops:
        if op == "audio":
            mark = playout.add_audio(audio(item=item_id, response=f"resp_{item_id}", payload=b"\xff" * number), 0.0)
            if mark is not None:
                marks.append(mark)
        elif op == "done":
            finished = playout.audio_done(done(item=item_id, response=f"resp_{item_id}"))
            if finished is not None:
                check(finished)
        elif op == "echo" and marks:
            echoed = marks[number % len(marks)]
            item_id, ms, _, _ = parse_mark(echoed) or ("", 0, 0, 0)
            echoed_ms[item_id].add(ms)
            _, finished = playout.mark_echoed(echoed)
            if finished is not None:
                check(finished)
        elif op == "stop":
            if not playout.idle:
                check(playout.playing_item())  # what a barge-in would report as audio_end_ms
            for item in playout.drop_unplayed().items:
                check(item)
        for item in playout.items.values():
            check(item)


def test_marks_never_echoed_count_as_played_once_overdue() -> None:
    playout = clock()
    playout.add_audio(audio(), 10.0)
    playout.add_audio(audio(), 10.0)  # sent at once: played back to back, the second ends at 10.26 s
    playout.add_audio(audio("item_2", "resp_2"), 20.0)  # sent later: plays from when it is sent
    playout.audio_done(done())
    grace = MARK_OVERDUE_GRACE_MS / 1000.0
    assert playout.overdue_at == pytest.approx(10.13 + grace)
    assert playout.expire_overdue(10.13 + grace - 0.001) == (0, [])
    expired, finished = playout.expire_overdue(10.26 + grace + 1e-9)
    assert expired == 2 and [item.item_id for item in finished] == ["item_1"]
    assert finished[0].heard_ms == 260
    assert playout.overdue_at == pytest.approx(20.13 + grace)
    assert playout.expire_overdue(20.13 + grace + 1e-9) == (1, [])  # item_2's audio is not done: not finished
    assert playout.idle and playout.overdue_at == float("inf")
