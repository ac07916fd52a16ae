"""The simulated caller, the real Twilio line and the AudioActor together over an in-memory Media Stream.

A scripted stand-in for the RealtimeActor streams AI audio and answers each
utterance; the caller barges in over the greeting. Everything the caller hears
comes through the Twilio JSON protocol and its marks.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from actors.audio_actor import AudioActor
from actors.call_context import CallContext
from actors.messages import AiAudio, AiAudioDone, BargeIn, CallerFrame, PlayoutFinished, UtteranceEnded
from actors.ports import LineClosed
from callrt.net.transport import memory_transport_pair
from callrt.sim.caller import CallerReport, SimulatedCaller
from callrt.telephony.media import TwilioCallerLine
from tests.support.context import make_context

CHUNK = b"\xff" * 800  # 100 ms of AI audio


async def pump(ctx: CallContext, line: TwilioCallerLine) -> None:
    frames = ctx.mailboxes.audio_frames.outbox("line")
    control = ctx.mailboxes.audio.outbox("line")
    try:
        while True:
            event = await line.receive()
            if isinstance(event, CallerFrame):
                frames.send_nowait(event)
            else:
                control.send_nowait(event)
    except LineClosed:
        ctx.mailboxes.close_all()


async def model(ctx: CallContext, seen: list[Any]) -> None:
    """Greets with 5 s of audio at 110 ms, then answers every utterance with 1 s of audio."""
    audio = ctx.mailboxes.audio.outbox("realtime")
    await trio.sleep(0.11)
    for _ in range(50):
        audio.send_nowait(AiAudio(response_id="r1", item_id="greeting", payload=CHUNK))
    async for message in ctx.mailboxes.realtime:
        seen.append(message)
        if isinstance(message, UtteranceEnded):
            for _ in range(10):
                audio.send_nowait(AiAudio(response_id="r2", item_id="answer", payload=CHUNK))
            audio.send_nowait(AiAudioDone(response_id="r2", item_id="answer"))


async def test_barge_in_over_a_real_media_stream(autojump_clock: trio.testing.MockClock) -> None:
    ctx = make_context()
    caller_end, server_end = memory_transport_pair()
    line = TwilioCallerLine(server_end, ctx.trace)
    script = [
        {"wait": "ai_started"},
        {"pause_ms": 1000},
        {"say": "sorry, can I ask something", "ms": 1200},
        {"wait": "ai_done", "timeout_ms": 5000},
        {"hangup": True},
    ]
    caller = SimulatedCaller(caller_end, script, parameters={"token": "t"})
    reports: list[CallerReport] = []
    seen: list[Any] = []

    async def run_caller() -> None:
        reports.append(await caller.run())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_caller)
        await line.read_start()
        nursery.start_soon(pump, ctx, line)
        nursery.start_soon(model, ctx, seen)
        await AudioActor(ctx, line).run()
    report = reports[0]

    # ai_started is heard at the 120 ms frame slot; 1 s of pause; speech from stream frame 56 (1120 ms).
    barge = [m for m in seen if isinstance(m, BargeIn)]
    assert barge == [BargeIn(item_id="greeting", audio_end_ms=1200, speech_at_ms=1120.0)]
    # The clear reached the caller in the frame that decided it (onset + 200 ms), after 1210 ms of greeting.
    assert report.clears_ms == [1320.0]
    greeting, answer = report.heard
    assert (greeting.start_ms, greeting.end_ms, greeting.cleared) == (110.0, 1320.0, True)
    assert barge[0].audio_end_ms <= greeting.bytes / 8
    # The answer came after the utterance ended (2320 ms of voice + 600 ms hangover) and was heard in full.
    assert (answer.start_ms, answer.bytes, answer.cleared) == (2920.0, 8000, False)
    assert [m for m in seen if isinstance(m, PlayoutFinished)] == [PlayoutFinished(item_id="answer", heard_ms=1000)]
    # The caller hung up 400 ms after the answer ended; the marks Twilio echoed for cleared audio were ignored.
    assert report.ended_by == "caller" and report.wait_timeouts == []
    assert 4320.0 <= report.ended_at_ms <= 4340.0
    assert report.marks_echoed_on_clear > 0
    cleared = {e["item_id"] for e in ctx.trace.events if e["ev"] == "barge_in"}
    clear_seq = next(e["seq"] for e in ctx.trace.events if e["ev"] == "barge_in")
    late = [
        e
        for e in ctx.trace.events
        if e["ev"] == "io" and e["type"] == "media" and e["item_id"] in cleared and e["seq"] > clear_seq
    ]
    assert late == []
