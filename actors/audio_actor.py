"""The AudioActor: everything the caller's line carries, frame by frame.

It owns the VAD state, utterance timing, the barge-in decision, the silence
timer, the batching of caller audio for the model, and the playout clock of AI
audio at the caller (from Twilio marks). It runs five tasks in one nursery that
share this state; every state transition is synchronous (no await inside), so
each frame or control message is handled atomically:

* frames:  the bounded `audio_frames` mailbox (drop-oldest) -> RMS -> VAD ->
           caller audio batches, utterance events, barge-in;
* control: the `audio` mailbox -> AI audio, marks, stop/hang-up requests;
* writer:  writes what other tasks queued, and what was queued during a write.
           Writes go out one at a time in decision order (the frames and control
           loops write what they queued themselves, right after handling it), so
           a `clear` can never overtake (or be overtaken by) audio it must drop;
* silence: sleeps until the silence deadline (virtual or real time), so the
           timer fires even when no frame arrives;
* hang-up: waits for the last mark (or a safety deadline) once a hang-up is
           requested, then queues the hang-up for the writer.

Caller audio to the model: only audio that belongs to a VAD segment is sent:
the 200 ms before the onset (the soft start of the first syllable, below the
threshold), the segment itself and its hangover tail, in batches of
`caller_audio_batch_ms`, the rest flushed before `UtteranceEnded`. Between
segments nothing is sent; a pre-roll ring of 10 frames is all that is kept. A
segment that ends as noise is not flushed: `NoiseIgnored` makes the
RealtimeActor clear the model's input buffer.

Playout clock: each AI chunk goes out as `media` followed by a mark named
`{item_id}@{ms}#{epoch}.{seq}` (ms: the item's audio up to the end of this
chunk; epoch: this actor instance, counted per call). A mark coming back means
the caller heard exactly that many ms. After a `clear`, Twilio echoes the marks
of the cleared audio too: marks numbered at or below the last one sent before
the clear are recognised and ignored, as are marks of another (crashed) instance.

Restart: an instance with epoch > 1 first clears the caller's buffer (the
predecessor's audio is under marks it cannot account for), and drops the rest
of every item it has no record of: items with audio already waiting in its
mailbox when it was created, and items named by a predecessor's mark. A
hang-up its predecessor had taken is lost; the RealtimeActor asks again on the
next silence tick.
"""

from __future__ import annotations

import bisect
import collections
import math
import re
import time

import attrs
import trio

from .call_context import CallContext
from .codec import FRAME_MS, ULAW_BYTES_PER_MS, quiet_codes, ulaw_rms_over
from .errors import InjectedFault
from .mailbox import Mailbox
from .messages import (
    AiAudio,
    AiAudioDone,
    AudioControl,
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
    PlayoutStopped,
    SilenceElapsed,
    StopPlayback,
    UtteranceEnded,
    UtteranceStarted,
)
from .ports import CallerLine, LineClosed
from .vad import SegmentEnd, SpeechOnset, Vad, VadSettings

PREROLL_FRAMES = 10
HANGUP_GRACE_MS = 3000.0
"""Extra wait, beyond the unplayed audio's own length, before hanging up without the last mark."""
LAG_WINDOW = 256
LAG_TRACE_EVERY_S = 1.0
LAG_BUCKETS_MS: tuple[float, ...] = (
    0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 200, 500, 1000, 2000
)  # fmt: skip
"""Upper bounds of the frame-lag histogram each `frame_lag` event carries (`counts`, one more for +Inf)."""

_MARK_NAME = re.compile(r"^(?P<item>.+)@(?P<ms>\d+)#(?P<epoch>\d+)\.(?P<seq>\d+)$")


def mark_name(item_id: str, ms: int, epoch: int, seq: int) -> str:
    return f"{item_id}@{ms}#{epoch}.{seq}"


def parse_mark(name: str) -> tuple[str, int, int, int] | None:
    """(item_id, ms, epoch, seq) of one of our marks; None for anything else."""
    match = _MARK_NAME.match(name)
    if match is None:
        return None
    return match["item"], int(match["ms"]), int(match["epoch"]), int(match["seq"])


@attrs.define
class _Item:
    """One AI item's audio at the caller."""

    item_id: str
    response_id: str
    sent_bytes: int = 0
    heard_ms: int = 0
    done: bool = False


@attrs.frozen
class _PendingMark:
    seq: int
    item_id: str
    ms: int


@attrs.frozen
class _Media:
    payload: bytes
    item_id: str
    mark: str
    """The mark sent right after the audio: its echo says the audio has played."""


@attrs.frozen
class _Clear:
    reason: str
    item_id: str | None
    since: float | None = None
    """Barge-in: when the line received the segment's onset frame (trio time), for the reaction time."""


@attrs.frozen
class _HangUp:
    reason: str


_LineOp = _Media | _Clear | _HangUp


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
        self.line = line
        config = ctx.config
        self.config = config
        self.vad = Vad(
            VadSettings(
                threshold=config.vad_threshold,
                min_voice_ms=config.min_voice_ms,
                hangover_ms=config.hangover_ms,
            )
        )
        self._quiet = quiet_codes(min(config.vad_threshold, config.barge_in_rms_threshold))
        """A frame of these codes can neither be voiced nor count towards a barge-in: its RMS is not computed."""
        self.stats = AudioStats()
        self.state = "listening"
        self._to_realtime = ctx.mailboxes.realtime.outbox(self.name)
        self._to_supervisor = ctx.mailboxes.supervisor.outbox(self.name)
        # Caller side
        self._stream_to_call_ms: float | None = None
        self._onset_call_ms = 0.0
        self._barge_frames = 0
        self._segment_barged = False
        self._segment_bytes = 0
        self._preroll: collections.deque[bytes] = collections.deque(maxlen=PREROLL_FRAMES)
        self._batch = bytearray()
        self._batch_bytes = max(1, int(config.caller_audio_batch_ms * ULAW_BYTES_PER_MS))
        # AI side: the playout clock
        self._items: dict[str, _Item] = {}
        self._pending: collections.deque[_PendingMark] = collections.deque()
        control = ctx.mailboxes.audio
        self._epoch = ctx.new_instance(self.name)
        # A restarted instance: what was sent before it existed belongs to its predecessor's playout.
        self._backlog = control.depth if self._epoch > 1 else 0
        self._taken_by_predecessors = frozenset(ctx.ai_items_taken)
        """Fixed when the instance starts: an item this instance takes from its backlog is its own to play."""
        self._mark_seq = 0
        self._cleared_through = 0
        self._dropped_responses: set[str] = set()
        self._dropped_items: set[str] = set()
        # Line writer
        self._ops: collections.deque[_LineOp] = collections.deque()
        self._ops_ready = trio.Event()
        self._writing = False
        """A task is writing the queued ops: a write queued meanwhile waits for it, in order."""
        self._handling = False
        """Inside the frames or control loop's handling of a message: that loop writes what it queues itself."""
        self._line_closed = False
        # Silence timer (trio time, seconds): the last activity and the next tick. It runs from the start:
        # nothing audible yet counts as silence too.
        self._silence_base = 0.0
        self._silence_due = 0.0
        self._restart_silence(trio.current_time())
        self._changed = trio.Event()
        self._watched: tuple[float, bool, bool] | None = None
        # Hang-up
        self._hangup_reason: str | None = None
        self._hangup_deadline = math.inf
        self._crash: InjectedCrash | None = None
        # Frame lag
        self._recent_lags: list[float] = []
        """The last `LAG_WINDOW` lags before the current window, for the percentiles."""
        self._window_lags: list[float] = []
        """This window's lags, in milliseconds: bucketed once when the window is traced, not per frame."""
        self._lag_window_ns = 0
        self._lag_next_trace = trio.current_time() + LAG_TRACE_EVERY_S
        self._frame_received_at = 0.0
        self._onset_received_at = 0.0
        self._now = trio.lowlevel.current_clock().current_time
        """Trio's clock, read on every frame: one call instead of `trio.current_time()`'s three."""

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        if self._epoch > 1:
            # The predecessor's audio may still be buffered at the caller, under marks this instance cannot
            # account for: clear it, so the caller's buffer and this playout clock agree (both empty).
            self._queue(_Clear("restart", None))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._frames_loop, nursery.cancel_scope)
                nursery.start_soon(self._control_loop, nursery.cancel_scope)
                nursery.start_soon(self._writer_loop)
                nursery.start_soon(self._silence_loop)
                nursery.start_soon(self._hang_up_loop)
        finally:
            # The frames since the last window still count (the metrics histogram is fed from these events).
            if self._window_lags:
                self._trace_lag(final=True)
        if self._crash is not None:
            raise InjectedFault(self._crash.reason)

    async def _frames_loop(self, scope: trio.CancelScope) -> None:
        frames = self.ctx.mailboxes.audio_frames
        try:
            while True:
                frame = await frames.receive()
                self._handling = True
                self.on_frame(frame)
                # Frames that queued up meanwhile (a busy process) are handled without a scheduler round trip each;
                # the depth says when to stop, where `receive_nowait` would raise on every frame.
                while frames.depth and not self._ops:
                    self.on_frame(frames.receive_nowait())
                self._handling = False
                if self._ops:  # rare per frame (a barge-in's clear): no coroutine to build for every frame
                    await self._write_queued()  # the clear leaves before the next frame is looked at
        except trio.EndOfChannel:
            scope.cancel()  # the call is ending

    async def _control_loop(self, scope: trio.CancelScope) -> None:
        control = self.ctx.mailboxes.audio
        try:
            while True:
                # A message that arrived during a write is taken without yielding: another task that ran first
                # could write the rest of the queue, which that message may be about to drop.
                message = control.receive_nowait() if control.depth else await control.receive()
                # Messages already waiting are all handled before anything is written: a `StopPlayback` among
                # them drops the audio queued ahead of it before that audio reaches the line.
                while True:
                    if isinstance(message, InjectedCrash):
                        self._crash = message
                        scope.cancel()
                        return
                    self._take_control(message)
                    if not control.depth:
                        break
                    message = control.receive_nowait()
                if self._ops:
                    await self._write_queued(until_mail_in=control)
        except trio.EndOfChannel:
            scope.cancel()

    def _take_control(self, message: AudioControl) -> None:
        if self._backlog:
            self._backlog -= 1
            if isinstance(message, AiAudio | AiAudioDone) and message.item_id in self._taken_by_predecessors:
                self._forget_item(message.item_id, message.response_id)
        self._handling = True
        self.on_control(message)
        self._handling = False

    # -- frames ------------------------------------------------------------------------------------------

    def on_frame(self, frame: CallerFrame) -> None:
        started = time.perf_counter_ns()
        now = self._now()
        rms = ulaw_rms_over(frame.payload, self._quiet)
        received_at = frame.received_at or now  # 0.0: the adapter did not stamp it
        self._frame_received_at = received_at
        if self._stream_to_call_ms is None:
            received_ms = self.ctx.trace.now_ms() - (now - received_at) * 1000.0
            self._stream_to_call_ms = received_ms - FRAME_MS - frame.timestamp_ms
        for event in self.vad.push(float(frame.timestamp_ms), rms):
            if isinstance(event, SpeechOnset):
                self._on_onset(event)
            else:
                self._on_segment_end(event)
        if self.vad.in_segment:
            self._append_caller_audio(frame.payload)
            if rms >= self.config.barge_in_rms_threshold:
                self._barge_frames += 1
                self._maybe_barge_in()
        else:
            self._preroll.append(frame.payload)
        self.stats.frames += 1
        elapsed = time.perf_counter_ns() - started
        self.stats.proc_ns += elapsed
        self._note_lag(now, now - received_at, elapsed)

    def _call_ms(self, stream_ms: float) -> float:
        assert self._stream_to_call_ms is not None
        return round(stream_ms + self._stream_to_call_ms, 3)

    def _on_onset(self, onset: SpeechOnset) -> None:
        self._onset_call_ms = self._call_ms(onset.at_ms)
        self._onset_received_at = self._frame_received_at
        self._barge_frames = 0
        self._segment_barged = False
        self._segment_bytes = 0
        # The pre-roll belongs to this segment: the model hears the word's soft start.
        for payload in self._preroll:
            self._append_caller_audio(payload)
        self._preroll.clear()
        self._set_state("voice", at_ms=self._onset_call_ms)
        self._to_realtime.send_nowait(UtteranceStarted(at_ms=self._onset_call_ms, rms=round(onset.rms, 1)))
        self._notify()

    def _append_caller_audio(self, payload: bytes) -> None:
        self._batch += payload
        self._segment_bytes += len(payload)
        if len(self._batch) >= self._batch_bytes:
            self._flush_caller_audio()

    def _flush_caller_audio(self) -> None:
        if self._batch:
            self._to_realtime.send_nowait(CallerAudio(payload=bytes(self._batch)))
            self._batch.clear()

    def _on_segment_end(self, end: SegmentEnd) -> None:
        duration = round(end.duration_ms)
        rms = end.mean_rms
        if end.is_utterance:
            self.stats.utterances += 1
            self._flush_caller_audio()
            self.ctx.log(
                self.name,
                f"STATE -> PROCESSING | len={self._segment_bytes}, silence_ms={round(end.silence_ms)}, "
                f"duration_ms={duration}",
            )
            self.ctx.trace.record("utterance", at_ms=self._onset_call_ms, duration_ms=duration, rms=round(rms))
            self._to_realtime.send_nowait(
                UtteranceEnded(
                    at_ms=self._call_ms(end.end_ms),
                    duration_ms=end.duration_ms,
                    rms=round(rms, 1),
                    silence_ms=end.silence_ms,
                )
            )
            self._set_state("processing", why="utterance_end")
            # The caller last spoke at the end of the voice, not when the hangover confirmed it.
            self._restart_silence(trio.current_time() - (end.decided_at_ms - end.end_ms) / 1000.0)
        else:
            self.stats.noise_segments += 1
            self._batch.clear()
            self.ctx.log(self.name, f"[TURN] Ignoring short/noisy segment: duration={duration}ms, rms={rms:.0f}")
            self.ctx.trace.record(
                "ignored_segment",
                at_ms=self._onset_call_ms,
                duration_ms=duration,
                rms=round(rms),
                interrupted_ai=self._segment_barged,
            )
            self._to_realtime.send_nowait(
                NoiseIgnored(
                    at_ms=self._onset_call_ms,
                    duration_ms=end.duration_ms,
                    rms=round(rms, 1),
                    interrupted_ai=self._segment_barged,
                )
            )
            self._set_state("listening", why="noise")
        self._barge_frames = 0
        self._segment_barged = False
        self._notify()

    def _maybe_barge_in(self) -> None:
        if (
            self._segment_barged
            or not self._pending
            or self._hangup_reason is not None
            or self._barge_frames * FRAME_MS < self.config.barge_in_min_ms
        ):
            return
        item = self._items[self._pending[0].item_id]
        self._segment_barged = True
        self.stats.barge_ins += 1
        now_ms = self.ctx.trace.now_ms()
        self.ctx.trace.record(
            "barge_in",
            speech_at_ms=self._onset_call_ms,
            clear_at_ms=now_ms,
            audio_end_ms=item.heard_ms,
            item_id=item.item_id,
        )
        self._drop_unplayed("barge_in", since=self._onset_received_at)
        self._to_realtime.send_nowait(
            BargeIn(item_id=item.item_id, audio_end_ms=item.heard_ms, speech_at_ms=self._onset_call_ms)
        )
        self._set_state("processing", why="barge_in")

    # -- AI audio and control -------------------------------------------------------------------------------

    def on_control(self, message: AudioControl) -> None:
        if isinstance(message, AiAudio):
            self._on_ai_audio(message)
        elif isinstance(message, AiAudioDone):
            self._on_ai_audio_done(message)
        elif isinstance(message, MarkPlayed):
            self._on_mark(message.name)
        elif isinstance(message, StopPlayback):
            self._stop_playback(message)
        elif isinstance(message, HangUpAfterPlayout):
            self._on_hang_up(message.reason)
        elif isinstance(message, CallerDtmf):
            # A key press proves the caller is there: it counts as the caller's turn for the silence timer.
            self.ctx.trace.record("dtmf", digit=message.digit)
            self._restart_silence(trio.current_time())
            self._notify()

    def _on_ai_audio(self, chunk: AiAudio) -> None:
        if (
            self._hangup_reason is not None
            or chunk.response_id in self._dropped_responses
            or chunk.item_id in self._dropped_items
            or not chunk.payload
        ):
            self.stats.ai_chunks_dropped += 1
            self.ctx.trace.record("ai_audio_dropped", item_id=chunk.item_id, bytes=len(chunk.payload))
            return
        item = self._items.get(chunk.item_id)
        if item is None:
            item = self._items[chunk.item_id] = _Item(chunk.item_id, chunk.response_id)
            self.ctx.ai_items_taken.add(chunk.item_id)
        item.sent_bytes += len(chunk.payload)
        self._mark_seq += 1
        ms = item.sent_bytes // ULAW_BYTES_PER_MS
        self._pending.append(_PendingMark(self._mark_seq, item.item_id, ms))
        self._queue(_Media(chunk.payload, item.item_id, mark_name(item.item_id, ms, self._epoch, self._mark_seq)))
        self.stats.ai_chunks += 1
        self._notify()

    def _on_ai_audio_done(self, done: AiAudioDone) -> None:
        if done.item_id in self._dropped_items or done.response_id in self._dropped_responses:
            return
        item = self._items.get(done.item_id)
        if item is None:  # an item without audio: nothing to wait for
            item = self._items[done.item_id] = _Item(done.item_id, done.response_id)
        item.done = True
        self._finish_if_played(item)

    def _on_mark(self, name: str) -> None:
        parsed = parse_mark(name)
        if parsed is None:
            self.ctx.trace.record("mark_unknown", name=name)
            return
        item_id, ms, epoch, seq = parsed
        if epoch != self._epoch:
            # A crashed predecessor's mark (the restart clear echoes all of them): not ours to count, and the
            # rest of its item, cut by that clear, must not be played from the middle.
            self.stats.stale_marks += 1
            if item_id not in self._items:
                self._forget_item(item_id, None)
            return
        if seq <= self._cleared_through:
            # Twilio echoes the marks of cleared audio too: that audio was never heard.
            self.stats.stale_marks += 1
            return
        while self._pending and self._pending[0].seq <= seq:
            self._pending.popleft()
        item = self._items.get(item_id)
        if item is not None:
            item.heard_ms = max(item.heard_ms, ms)
            self._finish_if_played(item)
        self._notify()

    def _finish_if_played(self, item: _Item) -> None:
        if not item.done or any(mark.item_id == item.item_id for mark in self._pending):
            return
        del self._items[item.item_id]
        self.ctx.trace.record("playout", item_id=item.item_id, heard_ms=item.heard_ms, finished=True)
        self._to_realtime.send_nowait(PlayoutFinished(item_id=item.item_id, heard_ms=item.heard_ms))
        if not self._pending:
            if item.sent_bytes:  # an item without audio is nothing the caller heard: the silence goes on
                self._restart_silence(trio.current_time())
            if self.state == "processing":
                self._set_state("listening", why="playout_finished")
        self._notify()

    def _forget_item(self, item_id: str, response_id: str | None) -> None:
        """An item (and response) whose audio went to a crashed predecessor: the rest of it is dropped.
        (Audio of an item no predecessor took any of, e.g. a greeting queued while the actor restarted,
        is played whole.)"""
        self._dropped_items.add(item_id)
        if response_id is not None:
            self._dropped_responses.add(response_id)

    def _stop_playback(self, stop: StopPlayback) -> None:
        item = self._items.get(stop.item_id) if stop.item_id is not None else None
        heard_ms = item.heard_ms if item is not None else 0  # unknown here: no audio, or finished and reported
        self._drop_unplayed(stop.reason)
        if stop.item_id is not None:
            self._to_realtime.send_nowait(PlayoutStopped(item_id=stop.item_id, heard_ms=heard_ms))

    def _drop_unplayed(self, reason: str, since: float | None = None) -> None:
        """Clear the caller's playback; late audio of every response that was cut is dropped too."""
        current = self._pending[0].item_id if self._pending else None
        for item in list(self._items.values()):
            if item.done and not any(mark.item_id == item.item_id for mark in self._pending):
                continue
            self._dropped_items.add(item.item_id)
            self._dropped_responses.add(item.response_id)
            del self._items[item.item_id]
            self.ctx.trace.record("playout", item_id=item.item_id, heard_ms=item.heard_ms, finished=False)
        if self._pending:
            self._restart_silence(trio.current_time())
        self._pending.clear()
        self._cleared_through = self._mark_seq
        # Audio not yet written needs no clearing: it is simply never sent.
        kept = [op for op in self._ops if not isinstance(op, _Media)]
        self._ops.clear()
        self._ops.extend(kept)
        self._queue(_Clear(reason, current, since))
        self._notify()

    def _on_hang_up(self, reason: str) -> None:
        if self._hangup_reason is not None:
            return
        self._hangup_reason = reason
        unplayed_ms = sum(item.sent_bytes // ULAW_BYTES_PER_MS - item.heard_ms for item in self._items.values())
        self._hangup_deadline = trio.current_time() + (unplayed_ms + HANGUP_GRACE_MS) / 1000.0
        self.ctx.trace.record("hangup_requested", reason=reason, unplayed_ms=unplayed_ms)
        self._notify()

    async def _hang_up_loop(self) -> None:
        while self._hangup_reason is None:
            await self._wait_for_change()
        with trio.move_on_at(self._hangup_deadline) as scope:
            while self._pending:
                await self._wait_for_change()
        if scope.cancelled_caught:
            self.ctx.trace.record("hangup_playout_timeout", unplayed_marks=len(self._pending))
        self._queue(_HangUp(self._hangup_reason))

    # -- the line writer ---------------------------------------------------------------------------------

    def _queue(self, op: _LineOp) -> None:
        self._ops.append(op)
        if not self._handling:
            self._ops_ready.set()
        # else the loop handling a frame or control message writes it right after, in the same scheduler step:
        # an AI chunk or a clear costs no wake-up of the writer, and the clear no wait for its turn to run.

    async def _writer_loop(self) -> None:
        """Writes what was queued outside the frames and control loops (the hang-up, a restart's clear), and
        what either of them queued while a write was in flight."""
        while True:
            await self._write_queued()
            self._ops_ready = trio.Event()
            await self._ops_ready.wait()

    async def _write_queued(self, *, until_mail_in: Mailbox[AudioControl] | None = None) -> None:
        """Writes the queued ops in order, unless a write is already in flight: that task writes them next.

        The control loop stops when a message arrived during a write (the line was slow): it handles it
        first, then writes the rest, as it would have been handled while a writer task waited on the line."""
        if self._writing:
            return
        self._writing = True
        try:
            while self._ops and not (until_mail_in is not None and until_mail_in.depth):
                await self._write_next(self._ops.popleft())
        finally:
            self._writing = False

    async def _write_next(self, op: _LineOp) -> None:
        if self._line_closed and not isinstance(op, _HangUp):
            return
        # Recorded before the write: anything traced after a clear was decided after it.
        self._trace_op(op)
        if isinstance(op, _HangUp):
            # Told before the line closes, so the caller's side seeing the close cannot claim the hang-up;
            # the supervisor takes the first EndCall and hangs the line up itself.
            self._to_supervisor.send_nowait(EndCall(by="ai", reason=op.reason))
        try:
            await self._write(op)
        except LineClosed as exc:
            self._line_closed = True
            self.ctx.trace.record("line_closed", during=type(op).__name__.lstrip("_").lower(), why=str(exc))

    async def _write(self, op: _LineOp) -> None:
        if isinstance(op, _Media):
            await self.line.send_audio(op.payload, op.mark)
        elif isinstance(op, _Clear):
            await self.line.clear()
        elif not self._line_closed:
            await self.line.hang_up()

    def _trace_op(self, op: _LineOp) -> None:
        record = self.ctx.trace.record
        if isinstance(op, _Media):
            if not self.ctx.trace.detailed:
                return  # a frame of audio out: nothing counts it, and a call without a trace keeps nothing
            record("io", peer="caller", dir="out", type="media", item_id=op.item_id, bytes=len(op.payload))
            record("io", peer="caller", dir="out", type="mark", item_id=op.item_id, name=op.mark)
        elif isinstance(op, _Clear):
            # A barge-in's clear carries its reaction time: onset frame received -> clear handed to the line.
            since = {} if op.since is None else {"reaction_ms": round((trio.current_time() - op.since) * 1000.0, 2)}
            record("io", peer="caller", dir="out", type="clear", item_id=op.item_id, reason=op.reason, **since)
        else:
            record("io", peer="caller", dir="out", type="hangup", reason=op.reason)

    # -- silence -----------------------------------------------------------------------------------------

    def _restart_silence(self, last_activity: float) -> None:
        """Something audible happened at `last_activity` (trio time): the silence is measured from there."""
        self._silence_base = last_activity
        self._silence_due = last_activity + self.config.silence_timeout_ms / 1000.0

    def _silence_deadline(self) -> float:
        if self._hangup_reason is not None or self.vad.in_segment or self._pending:
            return math.inf
        return self._silence_due

    async def _silence_loop(self) -> None:
        while True:
            with trio.move_on_at(self._silence_deadline()):
                await self._wait_for_change()
                continue
            now = trio.current_time()
            silence_ms = round((now - self._silence_base) * 1000.0, 1)
            # Periodic: a reaction may produce nothing audible (a crashed RealtimeActor, a failed or refused
            # response), and the RealtimeActor's ladder (prompt, goodbye, hang-up again) must still move on.
            self._silence_due = now + self.config.silence_timeout_ms / 1000.0
            self.ctx.trace.record("silence_elapsed", silence_ms=silence_ms)
            self._to_realtime.send_nowait(SilenceElapsed(silence_ms=silence_ms))

    def _notify(self) -> None:
        """Wakes the silence and hang-up loops, but only when what they wait on changed: most AI chunks
        and marks leave the silence deadline, the hang-up and the emptiness of the playout as they were."""
        watched = (self._silence_deadline(), self._hangup_reason is not None, not self._pending)
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

    def _note_lag(self, now: float, lag_s: float, proc_ns: int) -> None:
        self._window_lags.append(lag_s * 1000.0)
        self._lag_window_ns += proc_ns
        if now < self._lag_next_trace:
            return
        self._lag_next_trace = now + LAG_TRACE_EVERY_S
        self._trace_lag()

    def _trace_lag(self, *, final: bool = False) -> None:
        window = self._window_lags
        percentiles: dict[str, float] = {}
        if self.ctx.trace.detailed:
            # The percentiles are for whoever reads the trace; the metrics take only the counts. Without a
            # trace file or memory nobody reads them, and sorting 256 lags per call and second is not free.
            self._recent_lags = (self._recent_lags + window)[-LAG_WINDOW:]
            recent = sorted(self._recent_lags)
            percentiles = {"p50_ms": round(_percentile(recent, 0.50), 2), "p99_ms": round(_percentile(recent, 0.99), 2)}
        extra = {"final": True} if final else {}
        self.ctx.trace.record(
            "frame_lag",
            **percentiles,
            n=len(window),
            proc_us=round(self._lag_window_ns / len(window) / 1000.0, 1),
            counts=lag_histogram(sorted(window)),
            sum_ms=round(sum(window), 3),
            **extra,
        )
        self._window_lags = []
        self._lag_window_ns = 0


def lag_histogram(ordered: list[float]) -> list[int]:
    """How many of the sorted lags fall in each `LAG_BUCKETS_MS` bucket (upper bound included, as
    Prometheus counts `le`), and beyond the last: a few bisections per window instead of one per frame."""
    at_or_below = [bisect.bisect_right(ordered, bound) for bound in LAG_BUCKETS_MS]
    return [high - low for low, high in zip([0, *at_or_below], [*at_or_below, len(ordered)], strict=True)]


def _percentile(ordered: list[float], q: float) -> float:
    """The `q` quantile of sorted values, interpolated between neighbours as numpy's default does: for the
    frame-lag window, sorting 256 floats costs a fraction of `np.percentile`'s machinery."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
