"""Traced mailboxes: order and completeness on control mailboxes, drop-oldest on audio ones."""

from __future__ import annotations

import attrs
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.mailbox import AUDIO_SUMMARY_WINDOW_MS, Mailbox
from actors.messages import CallerFrame, ServerNote, UtteranceStarted
from actors.trace import Trace


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
