"""The AudioActor: everything the caller's line carries, frame by frame.

An I/O shell around synchronous state machines, each in its own module: the caller segmenter (VAD,
pre-roll, caller audio batches, the barge-in decision), the playout clock (AI items, marks, what the
caller heard, the hang-up that waits for it), the silence timer and the frame-lag meter. It feeds them
frames, control messages and the time, and carries out what they decide: messages to the RealtimeActor,
trace events, writes for the line writer. Five tasks share this state; every state transition is
synchronous (no await inside), so each frame or control message is handled atomically:

* frames:  the bounded `audio_frames` mailbox (drop-oldest) -> segmenter -> caller audio, turns, barge-in;
* control: the `audio` mailbox -> AI audio, marks, stop/hang-up requests, key presses;
* writer:  the line writer's, for what was queued outside the two loops above (they write what they
           queued themselves, right after handling it);
* silence: sleeps until the silence deadline, so the timer fires even when no frame arrives;
* hang-up: waits for the last mark (or a safety deadline) once a hang-up is requested, then queues it.

Restart: an instance with epoch > 1 first clears the caller's buffer (the predecessor's audio is under
marks it cannot account for), so the buffer and its playout clock agree (both empty). A hang-up its
predecessor had taken is lost; the RealtimeActor asks again on the next silence tick.
"""

from __future__ import annotations

import time

import attrs
import trio

from .call_context import CallContext
from .caller_segmenter import BargeInDecided, CallerEvent, CallerSegmenter, SegmentClosed
from .errors import InjectedFault
from .frame_lag import FrameLagMeter
from .line_writer import Clear, HangUp, LineWriter, Media
from .mailbox import Owed
from .messages import (
    AiAudio,
    AiAudioDone,
    AudioControl,
    BargeIn,
    CallerAudio,
    CallerDtmf,
    CallerFrame,
    HangUpAfterPlayout,
    InjectedCrash,
    MarkPlayed,
    PlayoutFinished,
    PlayoutLost,
    PlayoutStopped,
    SilenceElapsed,
    StopPlayback,
    UtteranceEnded,
    UtteranceStarted,
)
from .playout_clock import MarkEcho, PlayoutClock, PlayoutItem
from .ports import CallerLine
from .silence_timer import SilenceTimer


@attrs.define
class AudioStats:
    """Cheap counters, readable at any time (tests, benchmarks, metrics)."""

    frames: int = 0
    proc_ns: int = 0
    """Wall time spent in the synchronous per-frame handling (perf_counter)."""
    ai_chunks: int = 0
    ai_chunks_dropped: int = 0
    barge_ins: int = 0
    utterances: int = 0
    noise_segments: int = 0
    stale_marks: int = 0


class AudioActor:
    name = "audio"

    def __init__(self, ctx: CallContext, line: CallerLine) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self.stats = AudioStats()
        self.state = "listening"
        self._to_realtime = ctx.mailboxes.realtime.outbox(self.name)
        epoch = ctx.new_instance(self.name)
        # A restarted instance: what was sent before it existed belongs to its predecessor's playout.
        backlog = ctx.mailboxes.audio.depth if epoch > 1 else 0
        self.segmenter = CallerSegmenter(self.config)
        self.playout = PlayoutClock(epoch, backlog=backlog, items_taken=ctx.ai_items_taken)
        now = trio.current_time()
        self.silence = SilenceTimer(self.config.silence_timeout_ms, now)
        self.frame_lag = FrameLagMeter(now)
        self.writer = LineWriter(line, ctx.trace, ctx.mailboxes.supervisor.outbox(self.name))
        self._changed = trio.Event()
        self._watched: tuple[float, bool, bool] | None = None
        self._failure: Exception | None = None
        """Why the actor fails once its loops are stopped: an injected crash, or a handed-over frame's error."""
        self._loops: trio.CancelScope | None = None
        self._now = trio.lowlevel.current_clock().current_time
        """Trio's clock, read on every frame: one call instead of `trio.current_time()`'s three."""

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        if self.playout.epoch > 1:
            self.writer.queue(Clear("restart", None))
            # What the predecessor had not played is gone: the RealtimeActor has it said again.
            self._to_realtime.send_nowait(PlayoutLost(self.playout.taken_by_predecessors))
        try:
            async with trio.open_nursery() as nursery:
                self._loops = nursery.cancel_scope
                nursery.start_soon(self._frames_loop)
                nursery.start_soon(self._control_loop)
                nursery.start_soon(self.writer.run)
                nursery.start_soon(self._silence_loop)
                nursery.start_soon(self._overdue_marks_loop)
                nursery.start_soon(self._hang_up_loop)
        finally:
            # The frames since the last window still count (the metrics histogram is fed from these events).
            if self.frame_lag.has_frames:
                self._trace_frame_lag(final=True)
        if self._failure is not None:
            raise self._failure

    async def _frames_loop(self) -> None:
        frames = self.ctx.mailboxes.audio_frames
        writer = self.writer
        ops = writer.ops
        try:
            while True:
                # Waiting on an empty mailbox, the loop lends the line its handling: a frame then costs no
                # wake-up of this task (`Mailbox.lend`). What arrives while it is taken back is queued here.
                if not frames.depth:
                    frames.lend(self._take_frame)
                try:
                    frame = await frames.receive()
                finally:
                    frames.take_back()
                writer.handling = True
                self.on_frame(frame)
                # Frames that queued up meanwhile (a busy process) are handled without a scheduler round trip each;
                # the depth says when to stop, where `receive_nowait` would raise on every frame.
                while frames.depth and not ops:
                    self.on_frame(frames.receive_nowait())
                writer.handling = False
                if ops:  # rare per frame (a barge-in's clear): no coroutine to build for every frame
                    await writer.write_queued()  # the clear leaves before the next frame is looked at
        except trio.EndOfChannel:
            self._stop_loops()  # the call is ending

    def _take_frame(self, frame: CallerFrame) -> Owed | None:
        """A frame handed over in the line's task step: what it queued for the line, the line writes before
        it reads on, as this loop would have. An error fails the actor, as if this loop had raised it."""
        writer = self.writer
        writer.handling = True
        try:
            self.on_frame(frame)
        except Exception as exc:
            self.ctx.mailboxes.audio_frames.take_back()
            self._fail(exc)
            return None
        finally:
            writer.handling = False
        return writer.write_queued if writer.ops else None

    async def _control_loop(self) -> None:
        control = self.ctx.mailboxes.audio
        writer = self.writer
        try:
            while True:
                # A message that arrived during a write is taken without yielding: another task that ran first
                # could write the rest of the queue, which that message may be about to drop.
                message = control.receive_nowait() if control.depth else await control.receive()
                # Messages already waiting are all handled before anything is written: a `StopPlayback` among
                # them drops the audio queued ahead of it before that audio reaches the line.
                while True:
                    if isinstance(message, InjectedCrash):
                        self._fail(InjectedFault(message.reason))
                        return
                    self.playout.take(message)
                    writer.handling = True
                    self.on_control(message)
                    writer.handling = False
                    if not control.depth:
                        break
                    message = control.receive_nowait()
                if writer.ops:
                    await writer.write_queued(until_mail_in=control)
        except trio.EndOfChannel:
            self._stop_loops()

    def _fail(self, failure: Exception) -> None:
        self._failure = failure
        self._stop_loops()

    def _stop_loops(self) -> None:
        assert self._loops is not None, "the loops run inside run()'s nursery"
        self._loops.cancel()

    # -- frames ------------------------------------------------------------------------------------------

    def on_frame(self, frame: CallerFrame) -> None:
        started = time.perf_counter_ns()
        now = self._now()
        received_at = frame.received_at or now  # 0.0: the adapter did not stamp it
        segmenter = self.segmenter
        if segmenter.stream_to_call_ms is None:
            segmenter.anchor(frame.timestamp_ms, self.ctx.trace.now_ms() - (now - received_at) * 1000.0)
        events = segmenter.push(frame.payload, frame.timestamp_ms, received_at, self.playout)
        if events:
            self._on_caller(events)
        stats = self.stats
        stats.frames += 1
        elapsed = time.perf_counter_ns() - started
        stats.proc_ns += elapsed
        if self.frame_lag.note(now, now - received_at, elapsed):
            self._trace_frame_lag()

    def _on_caller(self, events: tuple[CallerEvent, ...]) -> None:
        for event in events:
            if isinstance(event, CallerAudio):
                self._to_realtime.send_nowait(event)
            elif isinstance(event, UtteranceStarted):
                self._set_state("voice", at_ms=event.at_ms)
                self._to_realtime.send_nowait(event)
                self._notify()
            elif isinstance(event, SegmentClosed):
                self._on_segment_closed(event)
            else:
                self._barge_in(event)

    def _on_segment_closed(self, closed: SegmentClosed) -> None:
        end, message = closed.end, closed.message
        duration = round(end.duration_ms)
        if isinstance(message, UtteranceEnded):
            self.stats.utterances += 1
            self.ctx.log(
                self.name,
                f"STATE -> PROCESSING | len={closed.audio_bytes}, silence_ms={round(end.silence_ms)}, "
                f"duration_ms={duration}",
            )
            self.ctx.trace.record("utterance", at_ms=closed.onset_at_ms, duration_ms=duration, rms=round(end.mean_rms))
            self._to_realtime.send_nowait(message)
            self._set_state("processing", why="utterance_end")
            # The caller last spoke at the end of the voice, not when the hangover confirmed it.
            self.silence.restart(trio.current_time() - (end.decided_at_ms - end.end_ms) / 1000.0)
        else:
            self.stats.noise_segments += 1
            self.ctx.log(
                self.name, f"[TURN] Ignoring short/noisy segment: duration={duration}ms, rms={end.mean_rms:.0f}"
            )
            self.ctx.trace.record(
                "ignored_segment",
                at_ms=closed.onset_at_ms,
                duration_ms=duration,
                rms=round(end.mean_rms),
                interrupted_ai=closed.barged_in,
            )
            self._to_realtime.send_nowait(message)
            self._set_state("listening", why="noise")
        self._notify()

    def _barge_in(self, barge: BargeInDecided) -> None:
        item = self.playout.playing_item()
        self.stats.barge_ins += 1
        self.ctx.trace.record(
            "barge_in",
            speech_at_ms=barge.speech_at_ms,
            clear_at_ms=self.ctx.trace.now_ms(),
            audio_end_ms=item.heard_ms,
            item_id=item.item_id,
        )
        self._drop_unplayed("barge_in", since=barge.onset_received_at)
        self._to_realtime.send_nowait(
            BargeIn(item_id=item.item_id, audio_end_ms=item.heard_ms, speech_at_ms=barge.speech_at_ms)
        )
        self._set_state("processing", why="barge_in")

    # -- AI audio and control ----------------------------------------------------------------------------

    def on_control(self, message: AudioControl) -> None:
        playout = self.playout
        if isinstance(message, AiAudio):
            mark = playout.add_audio(message, trio.current_time())
            if mark is None:
                self.stats.ai_chunks_dropped += 1
                self.ctx.trace.record("ai_audio_dropped", item_id=message.item_id, bytes=len(message.payload))
                return
            self.writer.queue(Media(message.payload, message.item_id, mark))
            self.stats.ai_chunks += 1
            self._notify()
        elif isinstance(message, AiAudioDone):
            finished = playout.audio_done(message)
            if finished is not None:
                self._on_played(finished)
        elif isinstance(message, MarkPlayed):
            echo, finished = playout.mark_echoed(message.name)
            if echo is MarkEcho.UNKNOWN:
                self.ctx.trace.record("mark_unknown", name=message.name)
            elif echo is MarkEcho.STALE:
                self.stats.stale_marks += 1
            else:
                if finished is not None:
                    self._on_played(finished)
                self._notify()
        elif isinstance(message, StopPlayback):
            heard_ms = playout.heard_ms(message.item_id)
            self._drop_unplayed(message.reason)
            if message.item_id is not None:
                self._to_realtime.send_nowait(PlayoutStopped(item_id=message.item_id, heard_ms=heard_ms))
        elif isinstance(message, HangUpAfterPlayout):
            unplayed_ms = playout.request_hang_up(message.reason, trio.current_time())
            if unplayed_ms is not None:
                self.ctx.trace.record("hangup_requested", reason=message.reason, unplayed_ms=unplayed_ms)
                self._notify()
        elif isinstance(message, CallerDtmf):
            # A key press proves the caller is there: it counts as the caller's turn for the silence timer.
            self.ctx.trace.record("dtmf", digit=message.digit)
            self.silence.restart(trio.current_time())
            self._notify()

    def _on_played(self, item: PlayoutItem) -> None:
        """The caller heard all of an item's audio."""
        self.ctx.trace.record("playout", item_id=item.item_id, heard_ms=item.heard_ms, finished=True)
        self._to_realtime.send_nowait(PlayoutFinished(item_id=item.item_id, heard_ms=item.heard_ms))
        if self.playout.idle:
            if item.sent_bytes:  # an item without audio is nothing the caller heard: the silence goes on
                self.silence.restart(trio.current_time())
            if self.state == "processing":
                self._set_state("listening", why="playout_finished")
        self._notify()

    def _drop_unplayed(self, reason: str, since: float | None = None) -> None:
        """Clear the caller's playback; late audio of every response that was cut is dropped too."""
        cut = self.playout.drop_unplayed()
        for item in cut.items:
            self.ctx.trace.record("playout", item_id=item.item_id, heard_ms=item.heard_ms, finished=False)
        if cut.was_playing:
            self.silence.restart(trio.current_time())
        self.writer.drop_unwritten_audio()
        self.writer.queue(Clear(reason, cut.playing_item_id, since))
        self._notify()

    # -- hang-up and silence -----------------------------------------------------------------------------

    async def _hang_up_loop(self) -> None:
        playout = self.playout
        while playout.hang_up_reason is None:
            await self._wait_for_change()
        with trio.move_on_at(playout.hang_up_deadline) as scope:
            while not playout.idle:
                await self._wait_for_change()
        if scope.cancelled_caught:
            self.ctx.trace.record("hangup_playout_timeout", unplayed_marks=playout.unechoed_marks)
        self.writer.queue(HangUp(playout.hang_up_reason))

    async def _overdue_marks_loop(self) -> None:
        """Marks the line never echoed count as played once overdue (playout_clock.MARK_OVERDUE_GRACE_MS)."""
        while True:
            with trio.move_on_at(self.playout.overdue_at):
                await self._wait_for_change()
                continue
            expired, finished = self.playout.expire_overdue(trio.current_time())
            if expired:
                self.ctx.trace.record("marks_overdue", marks=expired)
                for item in finished:
                    self._on_played(item)
                self._notify()

    def _silence_deadline(self) -> float:
        playout = self.playout
        held = playout.hang_up_reason is not None or self.segmenter.in_segment or not playout.idle
        return self.silence.deadline(held=held)

    async def _silence_loop(self) -> None:
        while True:
            with trio.move_on_at(self._silence_deadline()):
                await self._wait_for_change()
                continue
            silence_ms = self.silence.tick(trio.current_time())
            self.ctx.trace.record("silence_elapsed", silence_ms=silence_ms)
            self._to_realtime.send_nowait(SilenceElapsed(silence_ms=silence_ms))

    def _notify(self) -> None:
        """Wakes the silence and hang-up loops, but only when what they wait on changed: most AI chunks
        and marks leave the silence deadline, the hang-up and the emptiness of the playout as they were."""
        watched = (self._silence_deadline(), self.playout.hang_up_reason is not None, self.playout.idle)
        if watched != self._watched:
            self._watched = watched
            self._changed.set()

    async def _wait_for_change(self) -> None:
        changed = self._changed
        if changed.is_set():
            changed = self._changed = trio.Event()
        await changed.wait()

    # -- bookkeeping -------------------------------------------------------------------------------------

    def _set_state(self, state: str, **why: object) -> None:
        if state != self.state:
            self.state = state
            self.ctx.trace.record("audio_state", state=state, **why)

    def _trace_frame_lag(self, *, final: bool = False) -> None:
        self.ctx.trace.record("frame_lag", **self.frame_lag.close_window(detailed=self.ctx.trace.detailed, final=final))
