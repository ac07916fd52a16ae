"""Traced mailboxes: order and completeness on control mailboxes, drop-oldest on audio ones."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.mailbox import AUDIO_SUMMARY_WINDOW_MS, Mailbox
from actors.messages import CallerFrame, ServerNote, UtteranceStarted
from actors.trace import Trace
from tests.support.waiting import NotifyingList


@attrs.frozen
class Numbered:
    sender: int
    n: int


def run_virtual(fn, *args):  # type: ignore[no-untyped-def]
    return trio.run(fn, *args, clock=trio.testing.MockClock(autojump_threshold=0))


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=5),
    pauses=st.lists(st.sampled_from([0, 0, 0.001, 0.01]), min_size=1, max_size=8),
    _seed=st.random_module(),
)
def test_control_mailbox_loses_and_reorders_nothing_under_random_interleavings(
    counts: list[int], pauses: list[float], _seed: object
) -> None:
    """Several senders and a slow receiver, scheduled in orders chosen by Hypothesis."""

    async def scenario() -> list[Numbered]:
        trace = Trace("call-order")
        box: Mailbox[Numbered] = Mailbox("realtime", "realtime", trace)
        received: list[Numbered] = []

        async def sender(sender_id: int, count: int) -> None:
            outbox = box.outbox(f"s{sender_id}")
            for n in range(count):
                await outbox.send(Numbered(sender_id, n))
                await trio.sleep(pauses[(sender_id + n) % len(pauses)])

        async def receiver() -> None:
            async for message in box:
                received.append(message)
                await trio.sleep(pauses[len(received) % len(pauses)])

        async with trio.open_nursery() as outer:
            outer.start_soon(receiver)
            async with trio.open_nursery() as senders:
                for sender_id, count in enumerate(counts):
                    senders.start_soon(sender, sender_id, count)
            box.close()
        sends = [e for e in trace.events if e["ev"] == "send"]
        recvs = [e for e in trace.events if e["ev"] == "recv"]
        assert len(sends) == len(recvs) == sum(counts)
        assert [e["id"] for e in sends] == [e["id"] for e in recvs]
        return received

    received = run_virtual(scenario)
    for sender_id, count in enumerate(counts):
        assert [m.n for m in received if m.sender == sender_id] == list(range(count))


async def test_trace_records_every_control_send_and_receive_with_fields() -> None:
    trace = Trace("call-fields")
    box: Mailbox[ServerNote | UtteranceStarted] = Mailbox("realtime", "realtime", trace)
    box.outbox("booking").send_nowait(ServerNote(kind="appointment_created", text="appointment_created id=7"))
    box.outbox("audio").send_nowait(UtteranceStarted(at_ms=120.0, rms=900.0))
    assert isinstance(await box.receive(), ServerNote)
    assert isinstance(await box.receive(), UtteranceStarted)
    sends = [e for e in trace.events if e["ev"] == "send"]
    recvs = [e for e in trace.events if e["ev"] == "recv"]
    assert [(e["frm"], e["to"], e["type"]) for e in sends] == [
        ("booking", "realtime", "ServerNote"),
        ("audio", "realtime", "UtteranceStarted"),
    ]
    assert sends[0]["fields"] == {
        "kind": "appointment_created",
        "text": "appointment_created id=7",
        "appointment_id": None,
    }
    assert [e["id"] for e in recvs] == [e["id"] for e in sends]
    assert [e["depth"] for e in sends] == [1, 2]
    assert [e["depth"] for e in recvs] == [1, 0]


async def test_audio_mailbox_drops_oldest_when_full_and_counts_it(autojump_clock: trio.testing.MockClock) -> None:
    trace = Trace("call-audio")
    box: Mailbox[CallerFrame] = Mailbox("audio.frames", "audio", trace, capacity=5)
    outbox = box.outbox("line")
    for n in range(12):
        outbox.send_nowait(CallerFrame(payload=bytes(160), timestamp_ms=n * 20))
    assert box.dropped_total == 7
    kept = [box.receive_nowait().timestamp_ms for _ in range(5)]
    assert kept == [140, 160, 180, 200, 220]  # the freshest five survive, in order
    await trio.sleep(AUDIO_SUMMARY_WINDOW_MS / 1000)
    box.close()
    summaries = [e for e in trace.events if e["ev"] == "audio"]
    assert sum(e["sent"] for e in summaries) == 12
    assert sum(e["dropped"] for e in summaries) == 7
    assert sum(e["received"] for e in summaries) == 5
    assert sum(e["bytes"] for e in summaries) == 12 * 160
    assert not [e for e in trace.events if e["ev"] in ("send", "recv")], "audio is summarised, not per frame"


async def test_audio_summaries_are_one_per_window_not_per_frame(autojump_clock: trio.testing.MockClock) -> None:
    trace = Trace("call-window")
    box: Mailbox[CallerFrame] = Mailbox("audio.frames", "audio", trace, capacity=250)
    outbox = box.outbox("line")
    for n in range(50 * 10):  # ten seconds of 20 ms frames
        outbox.send_nowait(CallerFrame(payload=bytes(160), timestamp_ms=n * 20))
        box.receive_nowait()
        await trio.sleep(0.02)
    box.close()
    summaries = [e for e in trace.events if e["ev"] == "audio"]
    assert 9 <= len(summaries) <= 11
    assert sum(e["sent"] for e in summaries) == 500
    assert sum(e["received"] for e in summaries) == 500


async def test_send_after_close_is_recorded_not_raised() -> None:
    trace = Trace("call-closed")
    box: Mailbox[ServerNote] = Mailbox("nlp", "nlp", trace)
    box.close()
    box.outbox("realtime").send_nowait(ServerNote(kind="need_name", text="need_name"))
    assert [e["ev"] for e in trace.events][-1] == "send_after_close"


class CountingTrace(Trace):
    """A trace that keeps nothing and counts `counted_events`, as the server's counters-only trace does."""

    counted_events = frozenset({"audio"})

    def __init__(self) -> None:
        super().__init__("call-counted", keep_in_memory=False)
        self.recorded: list[str] = []

    def record(self, ev: str, **fields: object) -> None:
        self.recorded.append(ev)
        super().record(ev, **fields)


async def test_a_trace_that_keeps_nothing_gets_no_event_per_message() -> None:
    trace = CountingTrace()
    box: Mailbox[ServerNote] = Mailbox("realtime", "realtime", trace)
    for n in range(3):
        box.outbox("nlp").send_nowait(ServerNote(kind="note", text=str(n)))
    assert [box.receive_nowait().text for _ in range(3)] == ["0", "1", "2"]
    assert trace.recorded == []  # neither a send nor a receive is even assembled
    detailed = Trace("call-kept")
    kept: Mailbox[ServerNote] = Mailbox("realtime", "realtime", detailed)
    kept.outbox("nlp").send_nowait(ServerNote(kind="note", text="0"))
    kept.receive_nowait()
    assert [e["ev"] for e in detailed.events][-2:] == ["send", "recv"]


@settings(max_examples=60, deadline=None)
@given(
    frames=st.integers(min_value=1, max_value=60),
    busy_every=st.integers(min_value=2, max_value=7),
    pauses=st.lists(st.sampled_from([0, 0, 0.001, 0.02]), min_size=1, max_size=6),
    _seed=st.random_module(),
)
def test_frames_handed_over_or_queued_are_handled_once_each_in_order(
    frames: int, busy_every: int, pauses: list[float], _seed: object
) -> None:
    """A receiver that lends its handling while it waits on the empty mailbox, and is sometimes busy (a write
    it awaits): whether each frame was handed over or queued, every frame is handled once, in order."""

    async def scenario() -> tuple[list[int], Trace]:
        trace = Trace("call-handover")
        box: Mailbox[CallerFrame] = Mailbox("audio.frames", "audio", trace, capacity=250)
        handled = NotifyingList[int]()

        async def busy() -> None:
            await trio.sleep(pauses[len(handled) % len(pauses)])

        def handle(frame: CallerFrame) -> Callable[[], Awaitable[None]] | None:
            handled.append(frame.timestamp_ms)
            return busy if len(handled) % busy_every == 0 else None

        async def receiver() -> None:
            while True:
                if not box.depth:
                    box.lend(handle)
                try:
                    frame = await box.receive()
                except trio.EndOfChannel:
                    return
                finally:
                    box.take_back()
                owed = handle(frame)
                if owed is not None:
                    await owed()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            outbox = box.outbox("line")
            for n in range(frames):
                owed = outbox.hand_over(CallerFrame(payload=bytes(160), timestamp_ms=n * 20))
                if owed is not None:
                    await owed()
                await trio.sleep(pauses[n % len(pauses)])
            await handled.changes.until(lambda: len(handled) == frames)  # the AudioActor took what was queued
            box.close()
        return handled, trace

    handled, trace = run_virtual(scenario)
    assert handled == [n * 20 for n in range(frames)]
    summaries = [e for e in trace.events if e["ev"] == "audio"]
    assert sum(e["sent"] for e in summaries) == sum(e["received"] for e in summaries) == frames
    assert sum(e["bytes"] for e in summaries) == frames * 160


async def test_a_frame_is_queued_behind_frames_already_waiting_even_with_a_handler_lent() -> None:
    box: Mailbox[CallerFrame] = Mailbox("audio.frames", "audio", Trace("call-behind"), capacity=10)
    outbox = box.outbox("line")
    outbox.send_nowait(CallerFrame(payload=bytes(160), timestamp_ms=0))
    handed: list[int] = []
    box.lend(lambda frame: handed.append(frame.timestamp_ms))  # type: ignore[func-returns-value]
    assert outbox.hand_over(CallerFrame(payload=bytes(160), timestamp_ms=20)) is None
    assert handed == []
    assert [box.receive_nowait().timestamp_ms for _ in range(2)] == [0, 20]
    assert outbox.hand_over(CallerFrame(payload=bytes(160), timestamp_ms=40)) is None
    assert handed == [40]
    box.take_back()
    outbox.hand_over(CallerFrame(payload=bytes(160), timestamp_ms=60))
    assert handed == [40] and box.receive_nowait().timestamp_ms == 60


async def test_a_closed_mailbox_hands_nothing_over_and_records_the_send() -> None:
    trace = Trace("call-closed-handover")
    box: Mailbox[CallerFrame] = Mailbox("audio.frames", "audio", trace, capacity=10)
    handed: list[int] = []
    box.lend(lambda frame: handed.append(frame.timestamp_ms))  # type: ignore[func-returns-value]
    box.close()
    assert box.outbox("line").hand_over(CallerFrame(payload=bytes(160), timestamp_ms=0)) is None
    assert handed == []
    assert [e["ev"] for e in trace.events][-1] == "send_after_close"
