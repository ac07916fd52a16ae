"""The AudioActor in virtual time: utterances, noise, barge-in on the mark clock, silence ticks, hang-up, restarts."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from actors.audio_actor import AudioActor
from actors.codec import ULAW_BYTES_PER_MS
from actors.config import CallConfig
from actors.errors import InjectedFault
from actors.frame_lag import LAG_BUCKETS_MS
from actors.messages import (
    AiAudio,
    AiAudioDone,
    BargeIn,
    CallerAudio,
    CallerDtmf,
    CallerFrame,
    EndCall,
    HangUpAfterPlayout,
    InjectedCrash,
    MarkPlayed,
    NoiseIgnored,
    PlayoutFinished,
    PlayoutLost,
    PlayoutStopped,
    SilenceElapsed,
    StopPlayback,
    UtteranceEnded,
    UtteranceStarted,
)
from actors.playout_clock import MARK_OVERDUE_GRACE_MS, mark_name, parse_mark
from callrt.server.metrics import MeteredTrace, Metrics
from callrt.sim.signals import noise_frames, silence_frames, speech_frames
from tests.support.audio import PlayingLine, StallingLine, drain, feed, running_actor
from tests.support.context import make_context

CHUNK_MS = 130  # marks at 130k ms: a tie with the 20 ms frame grid only every 260 ms
CHUNK = b"\xff" * (CHUNK_MS * 8)


def queue_ai_audio(ctx: Any, chunks: int, *, item: str = "item_1", response: str = "resp_1", done: bool = True) -> None:
    outbox = ctx.mailboxes.audio.outbox("realtime")
    for _ in range(chunks):
        outbox.send_nowait(AiAudio(response_id=response, item_id=item, payload=CHUNK))
    if done:
        outbox.send_nowait(AiAudioDone(response_id=response, item_id=item))


def of_type(messages: list[Any], kind: type) -> list[Any]:
    return [m for m in messages if isinstance(m, kind)]


async def test_marks_of_a_crashed_predecessor_are_ignored(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, line, actor):
        queue_ai_audio(ctx, 10, done=False)
        await trio.sleep(0.01)
        # A mark the previous instance sent, with a higher sequence number than ours, comes back late.
        name = line.of("mark")[0].detail
        item, ms, epoch, _ = parse_mark(name) or ("", 0, 0, 0)
        ctx.mailboxes.audio.outbox("line").send_nowait(MarkPlayed(mark_name(item, 1300, epoch - 1, 99)))
        await trio.sleep(0.01)
        assert actor.stats.stale_marks == 1
        await feed(ctx, silence_frames(200) + speech_frames("hello", 300))
        # The audio is still unplayed: the caller's voice barges in on what was really heard (marks at 130 ms).
        barge = of_type(drain(ctx.mailboxes.realtime), BargeIn)
        assert [b.audio_end_ms for b in barge] == [390] and ms == 130


async def test_utterance_batches_then_ends(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, _line, actor):
        frames = silence_frames(1000, seed=1) + speech_frames("I'd like an appointment", 1200)
        frames += silence_frames(1000, seed=2)
        await feed(ctx, frames)
        await trio.sleep(0.05)
        messages = drain(ctx.mailboxes.realtime)
    started = of_type(messages, UtteranceStarted)
    assert [s.at_ms for s in started] == [1000.0]
    ended = of_type(messages, UtteranceEnded)
    assert len(ended) == 1
    assert (ended[0].at_ms, ended[0].duration_ms, ended[0].silence_ms) == (2200.0, 1200.0, 600.0)
    # Every caller audio batch comes before the end; the segment is 10 pre-roll frames + 60 voiced + 30 hangover.
    end_index = messages.index(ended[0])
    audio = of_type(messages, CallerAudio)
    assert all(messages.index(batch) < end_index for batch in audio)
    assert sum(len(batch.payload) for batch in audio) == (10 + 60 + 29) * 160
    assert all(len(batch.payload) <= 800 + 160 for batch in audio)
    logs = [e["msg"] for e in ctx.trace.events if e["ev"] == "log"]
    assert logs == [f"STATE -> PROCESSING | len={99 * 160}, silence_ms=600, duration_ms=1200"]
    assert [e["at_ms"] for e in ctx.trace.events if e["ev"] == "utterance"] == [1000.0]
    assert actor.state == "processing"


async def test_short_noise_is_ignored_and_never_committed(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, _line, _actor):
        frames = silence_frames(500) + noise_frames("hum", 300, rms=900.0) + silence_frames(1000)
        await feed(ctx, frames)
        messages = drain(ctx.mailboxes.realtime)
    assert of_type(messages, UtteranceEnded) == []
    assert of_type(messages, NoiseIgnored) == [NoiseIgnored(at_ms=500.0, duration_ms=300.0, rms=902.4)]
    logs = [e["msg"] for e in ctx.trace.events if e["ev"] == "log"]
    assert logs == ["[TURN] Ignoring short/noisy segment: duration=300ms, rms=902"]


@pytest.mark.parametrize("hand_over", [False, True], ids=["queued", "handed_over"])
async def test_barge_in_clears_within_the_frame_with_mark_accurate_audio_end(
    autojump_clock: trio.testing.MockClock, hand_over: bool
) -> None:
    async with running_actor() as (ctx, line, actor):
        queue_ai_audio(ctx, 30, done=False)  # 3.9 s of AI speech, queued at t=0
        await feed(ctx, silence_frames(1000) + speech_frames("wait, no", 300), hand_over=hand_over)
        decision_ms = 1200.0  # onset at 1000 ms + 10 voiced frames (200 ms): the frame that arrives at 1200 ms
        # The model keeps streaming the cancelled response for a while: none of it may reach the caller.
        queue_ai_audio(ctx, 3, done=True)
        await trio.sleep(0.5)
        messages = drain(ctx.mailboxes.realtime)
    barge = of_type(messages, BargeIn)
    assert barge == [BargeIn(item_id="item_1", audio_end_ms=1170, speech_at_ms=1000.0)]
    clears = line.of("clear")
    assert len(clears) == 1 and decision_ms <= clears[0].t_ms < decision_ms + 20
    # audio_end_ms is what the caller's line acknowledged: 9 marks of 130 ms, never more than it played.
    assert barge[0].audio_end_ms == 9 * CHUNK_MS <= line.playout.spans[0].bytes // 8
    media_after_clear = [c for c in line.calls if c.kind == "media" and c.t_ms > clears[0].t_ms]
    assert media_after_clear == []
    assert actor.stats.ai_chunks_dropped == 3
    # The marks Twilio echoes for the cleared audio are not taken as heard.
    assert actor.stats.stale_marks == sum(1 for _, cleared in line.echoed if cleared) > 0
    assert of_type(messages, PlayoutFinished) == []
    event = next(e for e in ctx.trace.events if e["ev"] == "barge_in")
    assert (event["speech_at_ms"], event["clear_at_ms"], event["audio_end_ms"]) == (1000.0, 1200.0, 1170)
    # The reaction: the onset frame (1000-1020 ms) arrived at 1020 ms, the clear went out at 1200 ms.
    clear_io = [e for e in ctx.trace.events if e["ev"] == "io" and e.get("type") == "clear"]
    assert [e["reaction_ms"] for e in clear_io] == [pytest.approx(180.0, abs=0.01)]
    assert actor.state == "processing"


async def test_barge_in_needs_unplayed_ai_audio(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, line, _actor):
        queue_ai_audio(ctx, 5)  # 650 ms, fully played before the caller speaks
        await feed(ctx, silence_frames(1000) + speech_frames("hello", 1000) + silence_frames(700))
        messages = drain(ctx.mailboxes.realtime)
    assert of_type(messages, BargeIn) == []
    assert line.of("clear") == []
    assert of_type(messages, PlayoutFinished) == [PlayoutFinished(item_id="item_1", heard_ms=650)]
    assert len(of_type(messages, UtteranceEnded)) == 1


async def test_noise_barge_in_is_recovered(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, line, _actor):
        queue_ai_audio(ctx, 30, done=False)
        await feed(ctx, silence_frames(1000) + noise_frames("hum", 300, rms=900.0) + silence_frames(800))
        messages = drain(ctx.mailboxes.realtime)
    assert len(of_type(messages, BargeIn)) == 1 and len(line.of("clear")) == 1
    noise = of_type(messages, NoiseIgnored)
    assert len(noise) == 1 and noise[0].interrupted_ai
    assert of_type(messages, UtteranceEnded) == []


async def test_stop_playback_clears_and_drops_the_response(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, line, actor):
        queue_ai_audio(ctx, 10, done=False)
        await trio.sleep(0.5)
        ctx.mailboxes.audio.outbox("realtime").send_nowait(StopPlayback(reason="false_claim"))
        await trio.sleep(0.01)
        queue_ai_audio(ctx, 2)
        await trio.sleep(2.0)
    assert [c.t_ms for c in line.of("clear")] == [500.0]
    assert line.playout.spans[0].bytes == 500 * 8
    assert actor.stats.ai_chunks_dropped == 2


async def test_a_stop_for_an_item_is_answered_with_what_the_caller_heard(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_actor() as (ctx, line, _actor):
        queue_ai_audio(ctx, 10, done=False)
        await trio.sleep(0.5)  # half a second of it played and acknowledged
        ctx.mailboxes.audio.outbox("realtime").send_nowait(StopPlayback(reason="false_claim", item_id="item_1"))
        await trio.sleep(0.01)
        stopped = of_type(drain(ctx.mailboxes.realtime), PlayoutStopped)
    assert [c.t_ms for c in line.of("clear")] == [500.0]
    assert len(stopped) == 1 and stopped[0].item_id == "item_1"
    assert stopped[0].heard_ms == 3 * CHUNK_MS  # the last mark back by 500 ms: three whole chunks


async def test_a_stop_behind_a_stalled_write_drops_the_audio_queued_before_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_actor(line_type=StallingLine) as (ctx, line, actor):
        assert isinstance(line, StallingLine)
        line.stall()
        queue_ai_audio(ctx, 3, done=False)
        await trio.sleep(0.1)  # three chunks queued to be written; the first one's write does not complete
        assert len(line.of("media")) == 1
        # Meanwhile a stop comes, and the stream goes on.
        ctx.mailboxes.audio.outbox("realtime").send_nowait(StopPlayback(reason="false_claim"))
        queue_ai_audio(ctx, 1)
        await trio.sleep(1.0)
        assert [c.kind for c in line.calls] == ["media", "mark"]  # nothing overtakes the write in flight
        line.resume()
        await trio.sleep(0.1)
    # The stop was handled before anything queued behind the stalled write went out: only the clear follows it.
    assert [c.kind for c in line.calls] == ["media", "mark", "clear"]
    assert actor.stats.ai_chunks == 3 and actor.stats.ai_chunks_dropped == 1  # the chunk after the stop


@settings(max_examples=30, deadline=None)
@given(_order=st.random_module())
def test_a_stop_behind_a_stalled_write_wins_whichever_loop_runs_first(_order: object) -> None:
    """The line recovers in the same instant as a frame arrives: the frames loop may run between the
    end of the stalled write and the control loop's handling of the stop, and must not write the
    audio the stop is about to drop."""

    async def scenario() -> list[str]:
        async with running_actor(line_type=StallingLine) as (ctx, line, _actor):
            assert isinstance(line, StallingLine)
            line.stall()
            queue_ai_audio(ctx, 3, done=False)
            await trio.sleep(0.1)
            ctx.mailboxes.audio.outbox("realtime").send_nowait(StopPlayback(reason="false_claim"))
            await trio.sleep(0.1)
            frame = CallerFrame(payload=silence_frames(20)[0], timestamp_ms=0, received_at=trio.current_time())
            ctx.mailboxes.audio_frames.outbox("line").send_nowait(frame)
            line.resume()
            await trio.sleep(0.1)
        return [call.kind for call in line.calls]

    assert trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0)) == ["media", "mark", "clear"]


async def test_frames_are_handled_while_a_write_is_stalled(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor(line_type=StallingLine) as (ctx, line, actor):
        assert isinstance(line, StallingLine)
        queue_ai_audio(ctx, 30, done=False)
        await trio.sleep(0.5)
        line.stall()
        queue_ai_audio(ctx, 1, done=False)  # this chunk's write stalls
        await feed(ctx, silence_frames(1000, seed=1) + speech_frames("wait, no", 300), first_index=25)
        await trio.sleep(0.01)
        # The caller barged in meanwhile: the frames loop decided it with the write still in flight.
        assert len(of_type(drain(ctx.mailboxes.realtime), BargeIn)) == 1
        assert actor.stats.frames == 65 and line.of("clear") == []
        line.resume()
        await trio.sleep(0.1)
    assert [c.kind for c in line.calls[-3:]] == ["media", "mark", "clear"]
    assert ctx.mailboxes.audio_frames.dropped_total == 0


async def test_silence_ticks_every_period_until_playout_restarts_it(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, _line, _actor):
        # No frames at all: the timer runs on the clock, not on frames.
        await trio.sleep(14.9)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == []
        await trio.sleep(0.2)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == [SilenceElapsed(silence_ms=15000.0)]
        # Nothing audible follows (the reaction produced no audio): a tick every 15 s, each measuring the
        # whole silence, so the RealtimeActor's ladder can move on.
        await trio.sleep(60.0)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == [
            SilenceElapsed(silence_ms=ms) for ms in (30000.0, 45000.0, 60000.0, 75000.0)
        ]
        # The AI asks "are you still there?" (1.3 s); the silence is measured again from the end of its playout,
        # and the tick due at 90 s is not sent while it plays.
        queue_ai_audio(ctx, 10)
        start = ctx.trace.now_ms()
        await trio.sleep(1.3 + 14.9)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == []
        await trio.sleep(0.2)
        fired = [e for e in ctx.trace.events if e["ev"] == "silence_elapsed"]
        assert [round(e["t"] - start) for e in fired[5:]] == [16300]
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == [SilenceElapsed(silence_ms=15000.0)]


async def test_silence_ticks_resume_after_a_reaction_without_audio(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, _line, _actor):
        await trio.sleep(15.1)
        assert len(of_type(drain(ctx.mailboxes.realtime), SilenceElapsed)) == 1
        # The prompt's response ends without a byte of audio (failed, or its RealtimeActor crashed): an item
        # without audio is nothing the caller heard, so the next tick is 15 s after the first one.
        ctx.mailboxes.audio.outbox("realtime").send_nowait(AiAudioDone(response_id="resp_p", item_id="item_p"))
        await trio.sleep(14.8)
        messages = drain(ctx.mailboxes.realtime)
        assert of_type(messages, PlayoutFinished) == [PlayoutFinished(item_id="item_p", heard_ms=0)]
        assert of_type(messages, SilenceElapsed) == []
        await trio.sleep(0.2)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == [SilenceElapsed(silence_ms=30000.0)]


async def test_no_silence_tick_while_ai_audio_may_be_playing_but_not_forever(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_actor(echo_marks=False) as (ctx, line, _actor):
        await trio.sleep(15.1)
        assert len(of_type(drain(ctx.mailboxes.realtime), SilenceElapsed)) == 1
        # The caller's line never acknowledges the audio: while it may still be playing it is not silence ...
        queued_at = trio.current_time()
        queue_ai_audio(ctx, 10)
        audio_s = 10 * len(CHUNK) / ULAW_BYTES_PER_MS / 1000.0
        await trio.sleep(audio_s + MARK_OVERDUE_GRACE_MS / 1000.0 - 0.01)
        assert len(line.of("media")) == 10
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == []
        # ... but marks overdue by more than the audio's length and a margin count as played: the silence
        # timer runs again (a client that never echoes marks no longer keeps a call open for ever).
        await trio.sleep(15.1)
        ticks = of_type(drain(ctx.mailboxes.realtime), SilenceElapsed)
        assert len(ticks) == 1
        overdue = [e for e in ctx.trace.events if e["ev"] == "marks_overdue"]
        assert overdue and sum(e["marks"] for e in overdue) == 10
        assert overdue[0]["t"] <= (queued_at + audio_s + MARK_OVERDUE_GRACE_MS / 1000.0 + 0.05) * 1000.0


async def test_no_silence_tick_while_the_caller_is_mid_segment(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, _line, _actor):
        # A hum from 14.9 to 15.2 s straddles the 15 s tick: it is held until the segment is decided (600 ms of
        # hangover later) and, the hum being noise, not the caller speaking, then goes at once.
        await feed(ctx, silence_frames(14_900) + noise_frames("hum", 300, rms=900.0) + silence_frames(580))
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == []
        await feed(ctx, silence_frames(20), first_index=789)  # the frame that ends the hangover, at 15.8 s
        await trio.sleep(0.001)
        messages = drain(ctx.mailboxes.realtime)
        assert len(of_type(messages, NoiseIgnored)) == 1
        assert of_type(messages, SilenceElapsed) == [SilenceElapsed(silence_ms=15800.0)]
        # The next tick is a period after that one.
        await trio.sleep(14.9 - 0.001)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == []
        await trio.sleep(0.2)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == [SilenceElapsed(silence_ms=30800.0)]


@settings(max_examples=30, deadline=None)
@given(
    presses_ds=st.lists(st.integers(min_value=1, max_value=900), max_size=6, unique=True),
    seed=st.random_module(),
)
def test_silence_ticks_follow_the_last_activity_periodically(presses_ds: list[int], seed: Any) -> None:
    """With key presses at random times: a tick every 15 s of silence, measured from the last press or tick."""
    presses = [0, *sorted(presses_ds)]
    # A press at the very instant of a tick is a race the scheduler decides either way.
    assume(all((later - earlier) % 150 for earlier, later in itertools.pairwise(presses)))

    async def scenario() -> None:
        async with running_actor() as (ctx, _line, _actor):
            control = ctx.mailboxes.audio.outbox("line")
            for at_ds in sorted(presses_ds):
                await trio.sleep_until(at_ds / 10.0)
                control.send_nowait(CallerDtmf(digit="5"))
            await trio.sleep_until(120.05)  # between two deciseconds: never the instant of a tick
            ticks = [(e["t"], e["silence_ms"]) for e in ctx.trace.events if e["ev"] == "silence_elapsed"]
        expected: list[tuple[float, float]] = []
        activity = 0.0
        due = 15_000.0
        for press_ms in [at_ds * 100.0 for at_ds in sorted(presses_ds)] + [120_050.0]:
            while due < press_ms:
                expected.append((due, due - activity))
                due += 15_000.0
            activity, due = press_ms, press_ms + 15_000.0
        assert ticks == [pytest.approx(tick) for tick in expected]

    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_silence_waits_for_long_ai_audio_and_counts_from_caller_speech(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_actor() as (ctx, _line, _actor):
        queue_ai_audio(ctx, 154)  # 20 s of AI speech: never "silence" while it plays
        await trio.sleep(34.9)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == []
        await trio.sleep(0.2)
        assert len(of_type(drain(ctx.mailboxes.realtime), SilenceElapsed)) == 1
        # Caller speech re-arms it from the end of the voice (frames resume at stream time 40 s).
        await feed(ctx, speech_frames("yes I'm here", 1000) + silence_frames(1000), first_index=2000)
        await trio.sleep(15.0 - 1.0 + 0.05)  # voice ended at 41 s; now is 42 s + 14.05 s
        fired = of_type(drain(ctx.mailboxes.realtime), SilenceElapsed)
        assert fired == [SilenceElapsed(silence_ms=15000.0)]


async def test_noise_does_not_count_as_the_caller_speaking(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, _line, _actor):
        # The cough neither resets nor pauses the clock that started with the call.
        await feed(ctx, silence_frames(10_000) + noise_frames("cough", 300, rms=1500.0) + silence_frames(4_600))
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == []
        await trio.sleep(0.2)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == [SilenceElapsed(silence_ms=15000.0)]


async def test_hang_up_after_playout(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, line, _actor):
        queue_ai_audio(ctx, 10)  # 1.3 s goodbye
        ctx.mailboxes.audio.outbox("realtime").send_nowait(HangUpAfterPlayout(reason="silence"))
        queue_ai_audio(ctx, 1, item="late")  # after the request: not part of what is heard
        await trio.sleep(3.0)
        end = drain(ctx.mailboxes.supervisor)
    assert [c.t_ms for c in line.of("hang_up")] == [1300.0]
    assert end == [EndCall(by="ai", reason="silence")]
    assert [e["item_id"] for e in ctx.trace.events if e["ev"] == "io" and e["type"] == "media"] == ["item_1"] * 10


async def test_hang_up_with_nothing_queued_is_immediate(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, line, _actor):
        await trio.sleep(1.0)
        ctx.mailboxes.audio.outbox("realtime").send_nowait(HangUpAfterPlayout(reason="goodbye"))
        await trio.sleep(0.01)
        assert [c.t_ms for c in line.of("hang_up")] == [1000.0]
        assert drain(ctx.mailboxes.supervisor) == [EndCall(by="ai", reason="goodbye")]


async def test_hang_up_safety_timeout_when_marks_never_return(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor(echo_marks=False) as (ctx, line, _actor):
        queue_ai_audio(ctx, 10)
        ctx.mailboxes.audio.outbox("realtime").send_nowait(HangUpAfterPlayout(reason="silence"))
        await trio.sleep(10.0)
    assert [c.t_ms for c in line.of("hang_up")] == [1300.0 + 3000.0]
    assert any(e["ev"] == "hangup_playout_timeout" for e in ctx.trace.events)


async def start_crashing_predecessor(ctx: Any, line: PlayingLine, nursery: trio.Nursery) -> AudioActor:
    """The call's first AudioActor, run until an InjectedCrash (which it must raise)."""
    actor = AudioActor(ctx, line)

    async def run_until_crash() -> None:
        with pytest.raises(InjectedFault):
            await actor.run()

    nursery.start_soon(line.playout.run)
    nursery.start_soon(run_until_crash)
    return actor


async def test_a_restarted_actor_clears_the_line_and_drops_its_predecessors_items(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ctx = make_context()
    line = PlayingLine(ctx)
    async with trio.open_nursery() as nursery:
        first = await start_crashing_predecessor(ctx, line, nursery)
        queue_ai_audio(ctx, 10, item="bye", response="resp_bye", done=False)  # the goodbye, 1.3 s
        ctx.mailboxes.audio.outbox("realtime").send_nowait(HangUpAfterPlayout(reason="silence"))
        await trio.sleep(0.5)
        ctx.mailboxes.audio.outbox("supervisor").send_nowait(InjectedCrash(reason="test"))
        await trio.sleep(0.05)  # the supervisor's backoff; the model streams the rest of the goodbye meanwhile
        queue_ai_audio(ctx, 3, item="bye", response="resp_bye", done=True)
        second = AudioActor(ctx, line)
        nursery.start_soon(second.run)
        await trio.sleep(0.01)
        # The caller's buffer (800 ms of the goodbye) is cleared at once: nothing is played behind the new clock.
        assert [c.t_ms for c in line.of("clear")] == [550.0]
        clears = [e for e in ctx.trace.events if e["ev"] == "io" and e.get("type") == "clear"]
        assert [(e["reason"], e["item_id"]) for e in clears] == [("restart", None)]
        assert len(line.of("media")) == 10 and second.stats.ai_chunks_dropped == 3
        # The marks the clear echoes (and the one that came back during the backoff) are the predecessor's.
        assert first.stats.stale_marks == 0 and second.stats.stale_marks == 7
        to_realtime = drain(ctx.mailboxes.realtime)
        assert of_type(to_realtime, PlayoutFinished) == []
        # Only the successor says what it did: the RealtimeActor has the rest of the goodbye said again.
        assert of_type(to_realtime, PlayoutLost) == [PlayoutLost(frozenset({"bye"}))]
        # The hang-up the predecessor had taken is lost with it: the line stays up, and the silence is measured
        # from the restart, so the RealtimeActor's ladder gets a tick 15 s later and asks again.
        assert line.of("hang_up") == [] and drain(ctx.mailboxes.supervisor) == []
        await trio.sleep(15.0 - 0.01 - 0.001)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == []
        await trio.sleep(0.002)
        assert of_type(drain(ctx.mailboxes.realtime), SilenceElapsed) == [SilenceElapsed(silence_ms=15000.0)]
        ctx.mailboxes.audio.outbox("realtime").send_nowait(HangUpAfterPlayout(reason="silence"))
        await trio.sleep(0.001)
        # Nothing is queued: the hang-up goes at once.
        assert [c.t_ms for c in line.of("hang_up")] == [15551.0]
        assert drain(ctx.mailboxes.supervisor) == [EndCall(by="ai", reason="silence")]
        nursery.cancel_scope.cancel()


async def test_a_restarted_actor_plays_new_items_on_its_own_clock(autojump_clock: trio.testing.MockClock) -> None:
    ctx = make_context()
    line = PlayingLine(ctx)
    async with trio.open_nursery() as nursery:
        await start_crashing_predecessor(ctx, line, nursery)
        queue_ai_audio(ctx, 10, done=False)
        await trio.sleep(0.5)
        ctx.mailboxes.audio.outbox("supervisor").send_nowait(InjectedCrash(reason="test"))
        await trio.sleep(0.05)
        second = AudioActor(ctx, line)
        nursery.start_soon(second.run)
        await trio.sleep(0.05)
        # The predecessor's item_1 is not resumed from the middle, even when its audio comes after the restart.
        queue_ai_audio(ctx, 2, done=False)
        queue_ai_audio(ctx, 10, item="item_2", response="resp_2", done=False)  # a new answer, 1.3 s from 0.6 s
        await trio.sleep(0.01)
        assert second.stats.ai_chunks_dropped == 2
        assert {c.detail.split("@")[0] for c in line.of("mark")[10:]} == {"item_2"}
        # Its marks count from its own start, so the caller barging in is told what it really heard of it.
        await feed(ctx, silence_frames(200) + speech_frames("sorry?", 400), first_index=30)
        messages = drain(ctx.mailboxes.realtime)
        # Onset at 0.8 s, decided at 1.0 s: 0.4 s of item_2 was played, 390 ms of it acknowledged.
        assert of_type(messages, BargeIn) == [BargeIn(item_id="item_2", audio_end_ms=390, speech_at_ms=800.0)]
        assert [c.t_ms for c in line.of("clear")] == [550.0, 1000.0]
        nursery.cancel_scope.cancel()


async def test_a_restarted_actor_plays_whole_an_item_it_takes_from_its_backlog(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The greeting streams in while the actor restarts, before any instance played a byte of it: the new
    instance takes its first chunk from the backlog, and the rest of the backlog is its own item to play
    (a property test found the rest dropped, the caller left with 0.1 s of the greeting)."""
    ctx = make_context()
    line = PlayingLine(ctx)
    async with trio.open_nursery() as nursery:
        first = await start_crashing_predecessor(ctx, line, nursery)
        ctx.mailboxes.audio.outbox("supervisor").send_nowait(InjectedCrash(reason="test"))
        await trio.sleep(0.01)
        queue_ai_audio(ctx, 8, item="greeting", response="resp_greeting", done=True)  # during the backoff
        second = AudioActor(ctx, line)
        nursery.start_soon(second.run)
        await trio.sleep(2.0)
        assert first.stats.ai_chunks == 0 and second.stats.ai_chunks_dropped == 0
        assert len(line.of("media")) == 8
        finished = of_type(drain(ctx.mailboxes.realtime), PlayoutFinished)
        assert [(p.item_id, p.heard_ms) for p in finished] == [("greeting", 8 * CHUNK_MS)]
        nursery.cancel_scope.cancel()


async def test_drop_oldest_under_overload(autojump_clock: trio.testing.MockClock) -> None:
    config = CallConfig(audio_mailbox_capacity=50)
    async with running_actor(config) as (ctx, _line, actor):
        outbox = ctx.mailboxes.audio_frames.outbox("line")
        frames = silence_frames(400 * 20)
        # A stall: 400 frames pile up before the actor gets to run; only the newest 50 survive.
        for index, payload in enumerate(frames):
            outbox.send_nowait(CallerFrame(payload=payload, timestamp_ms=index * 20, received_at=trio.current_time()))
        await trio.sleep(0.1)
        assert actor.stats.frames == 50
        assert ctx.mailboxes.audio_frames.dropped_total == 350
        # The actor keeps working on fresh frames afterwards.
        await feed(ctx, speech_frames("still here", 1000) + silence_frames(700), first_index=400)
        assert len(of_type(drain(ctx.mailboxes.realtime), UtteranceEnded)) == 1


async def test_frame_lag_is_traced(autojump_clock: trio.testing.MockClock) -> None:
    async with running_actor() as (ctx, _line, _actor):
        outbox = ctx.mailboxes.audio_frames.outbox("line")
        floor = silence_frames(20)[0]
        for index in range(300):
            await trio.sleep(0.02)
            # Every frame reaches the actor 30 ms after the line received it.
            received_at = trio.current_time() - 0.03
            outbox.send_nowait(CallerFrame(payload=floor, timestamp_ms=index * 20, received_at=received_at))
    lags = [e for e in ctx.trace.events if e["ev"] == "frame_lag"]
    periodic = [e for e in lags if not e.get("final")]
    assert len(periodic) == 5 and all(49 <= e["n"] <= 51 for e in periodic)  # every second: five windows in 6 s
    assert all(e["p50_ms"] == e["p99_ms"] == 30.0 and e["proc_us"] > 0 for e in periodic)
    # The rest of the frames are in one final window when the actor stops, so every frame is counted once.
    assert len(lags) == 6 and lags[-1]["final"] and sum(e["n"] for e in lags) == 300
    around_30ms = slice(LAG_BUCKETS_MS.index(20) + 1, LAG_BUCKETS_MS.index(50) + 1)  # (20, 50] ms
    for event in lags:
        assert sum(event["counts"][around_30ms]) == event["n"] == sum(event["counts"])
        assert event["sum_ms"] == pytest.approx(30.0 * event["n"])


async def test_frame_lag_without_a_trace_file_still_feeds_the_metrics(autojump_clock: trio.testing.MockClock) -> None:
    metrics = Metrics()
    trace = MeteredTrace("CAtest", None, metrics, keep_in_memory=False)  # what `serve --no-traces` gives a call
    async with running_actor(trace=trace) as (ctx, _line, actor):
        outbox = ctx.mailboxes.audio_frames.outbox("line")
        floor = silence_frames(20)[0]
        for index in range(300):
            await trio.sleep(0.02)
            outbox.send_nowait(
                CallerFrame(payload=floor, timestamp_ms=index * 20, received_at=trio.current_time() - 0.03)
            )
    assert trace.events == [] and not trace.detailed
    assert actor.frame_lag.recent_lags == []  # the percentiles only a trace reader would see were never computed
    assert sum(metrics.frame_lag.counts) == 300 and metrics.frame_lag.sum_ms == pytest.approx(300 * 30.0)


async def test_injected_crash_raises(autojump_clock: trio.testing.MockClock) -> None:
    ctx = make_context()
    actor = AudioActor(ctx, PlayingLine(ctx))
    ctx.mailboxes.audio.outbox("supervisor").send_nowait(InjectedCrash(reason="test"))
    with pytest.raises(InjectedFault):
        await actor.run()


async def test_a_handed_over_frame_whose_handling_fails_fails_the_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The frame is handled in the line's task step, but the error is the AudioActor's: its run raises it,
    so its supervisor restarts it, and the line's task goes on."""
    ctx = make_context()
    actor = AudioActor(ctx, PlayingLine(ctx))

    def broken_push(*_args: object) -> tuple[()]:
        raise ValueError("a bug in the segmenter")

    actor.segmenter.push = broken_push  # type: ignore[method-assign]

    async def line() -> None:
        await trio.sleep(0.1)  # the actor waits for frames, its handling lent
        await feed(ctx, silence_frames(40), first_index=5, hand_over=True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(line)
        with pytest.raises(ValueError, match="a bug in the segmenter"):
            await actor.run()  # the actor's own error, not the line's: the line task goes on
        nursery.cancel_scope.cancel()


async def test_run_returns_when_the_call_closes_its_mailboxes(autojump_clock: trio.testing.MockClock) -> None:
    ctx = make_context()
    actor = AudioActor(ctx, PlayingLine(ctx))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        await trio.sleep(1.0)
        ctx.mailboxes.close_all()
    assert trio.current_time() < 2.0


@settings(max_examples=25, deadline=None)
@given(
    speech_start=st.integers(min_value=0, max_value=40),
    speech_frames_n=st.integers(min_value=10, max_value=60),
    chunks=st.integers(min_value=1, max_value=25),
    seed=st.random_module(),
)
def test_barge_in_audio_end_never_exceeds_what_was_played(
    speech_start: int, speech_frames_n: int, chunks: int, seed: Any
) -> None:
    """Whatever the timing, audio_end_ms is an acknowledged mark, never beyond what the caller's line played."""

    async def scenario() -> None:
        async with running_actor() as (ctx, line, _actor):
            await trio.sleep(0.005)  # marks at 5 + 130k ms never tie with a frame on the 20 ms grid
            queue_ai_audio(ctx, chunks, done=False)
            frames = silence_frames(speech_start * 20) + speech_frames("over you", speech_frames_n * 20)
            await feed(ctx, frames + silence_frames(700))
            messages = drain(ctx.mailboxes.realtime)
            barges = of_type(messages, BargeIn)
            decision_ms = (speech_start + 10) * 20
            assert len(barges) == (1 if 5 + chunks * CHUNK_MS > decision_ms else 0)
            for barge in barges:
                assert barge.audio_end_ms % CHUNK_MS == 0
                assert barge.audio_end_ms <= line.playout.spans[0].bytes // 8
                assert decision_ms - CHUNK_MS < 5 + barge.audio_end_ms <= decision_ms
            if barges:
                writes = [c.kind for c in line.calls if c.kind in ("media", "clear")]
                assert "media" not in writes[writes.index("clear") :]

    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
