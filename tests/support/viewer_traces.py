"""Realistic call traces for the viewer's tests, written by the real `Trace`, `Mailbox` and `supervise`.

A small cast of stand-in actors (one trio task each, supervised) plays a phone call in virtual
time: the caller line pumps 20 ms frames into the bounded audio mailbox, the audio stand-in
detects speech, forwards it, and plays AI audio out; the realtime stand-in asks for replies and
streams AI audio chunks; the NLP stand-in finds a booking; the booking stand-in answers with a
server note. Every mailbox send/receive, the aggregated audio windows, the crash and restart
come from the runtime's own classes, so the file has exactly the real format.
"""

from __future__ import annotations

import functools
from collections import deque
from pathlib import Path

import trio
import trio.testing

from actors.call_context import CallMailboxes
from actors.config import CallConfig
from actors.errors import InjectedFault
from actors.messages import (
    AiAudio,
    AiAudioDone,
    BargeIn,
    BookingRequest,
    CallerAudio,
    CallerFrame,
    EndCall,
    HistoryTurn,
    InjectedCrash,
    MarkPlayed,
    NoiseIgnored,
    PlayoutFinished,
    ServerNote,
    SilenceElapsed,
    UserTranscript,
    UtteranceEnded,
    UtteranceStarted,
)
from actors.supervision import ChildSpec, Escalation, RestartKind, supervise
from actors.trace import Trace

SPEECH = b"\x10" * 160
QUIET = b"\xff" * 160
FRAME_MS = 20
CHUNK_MS = 20
HEBREW_REQUEST = "אני רוצה פגישה מחר בשש בערב, קוראים לי דנה"
HEBREW_REPLY = "קבעתי לך תור למחר בשש בערב, דנה."


class _Call:
    """Shared stage of the stand-in actors (as in a real call, they only talk through mailboxes)."""

    def __init__(self, trace: Trace, boxes: CallMailboxes) -> None:
        self.trace = trace
        self.boxes = boxes
        self.said: deque[str] = deque()
        self.ai_audible = False
        self.turn = 0

    def log(self, actor: str, msg: str) -> None:
        self.trace.record("log", actor=actor, msg=msg)


class _Audio:
    name = "audio"

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.to_realtime = call.boxes.realtime.outbox("audio")
        self.speaking_frames = 0
        self.quiet_frames = 0
        self.onset_ms = 0.0
        self.queued_ms = 0
        self.item = ""

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.frames)
            await self.control(nursery)
            nursery.cancel_scope.cancel()

    async def frames(self) -> None:
        call = self.call
        async for frame in call.boxes.audio_frames:
            if frame.payload[0] != QUIET[0]:
                if self.speaking_frames == 0:
                    self.onset_ms = call.trace.now_ms()
                    self.to_realtime.send_nowait(UtteranceStarted(at_ms=self.onset_ms, rms=900.0))
                    call.trace.record("audio_state", state="caller_speaking", why="onset")
                self.speaking_frames += 1
                self.quiet_frames = 0
                self.to_realtime.send_nowait(CallerAudio(payload=frame.payload))
                if call.ai_audible and self.speaking_frames == 10:
                    self.barge_in()
            elif self.speaking_frames:
                self.quiet_frames += 1
                if self.quiet_frames == 10:
                    self.segment_ended()

    def barge_in(self) -> None:
        call = self.call
        heard = max(0, self.queued_ms - 600)
        call.ai_audible = False
        call.trace.record("io", peer="caller", dir="out", type="clear", item_id=self.item, reason="barge_in")
        now = call.trace.now_ms()
        call.trace.record(
            "barge_in", speech_at_ms=self.onset_ms, clear_at_ms=now, audio_end_ms=heard, item_id=self.item
        )
        call.trace.record("playout", item_id=self.item, heard_ms=heard, finished=False)
        self.to_realtime.send_nowait(BargeIn(item_id=self.item, audio_end_ms=heard, speech_at_ms=self.onset_ms))

    def segment_ended(self) -> None:
        call = self.call
        duration = self.speaking_frames * FRAME_MS
        self.speaking_frames = 0
        if duration < 800:
            call.log("audio", f"[TURN] Ignoring short/noisy segment: duration={duration}ms, rms=900")
            call.trace.record("ignored_segment", at_ms=self.onset_ms, duration_ms=duration, rms=900)
            self.to_realtime.send_nowait(NoiseIgnored(at_ms=self.onset_ms, duration_ms=duration, rms=900.0))
        else:
            call.trace.record("utterance", at_ms=self.onset_ms, duration_ms=duration, rms=900)
            self.to_realtime.send_nowait(
                UtteranceEnded(at_ms=self.onset_ms, duration_ms=duration, rms=900.0, silence_ms=200.0)
            )
        call.trace.record("audio_state", state="processing" if duration >= 800 else "listening", why="segment_end")

    async def control(self, nursery: trio.Nursery) -> None:
        call = self.call
        async for message in call.boxes.audio:
            if isinstance(message, AiAudio):
                if not call.ai_audible:
                    call.ai_audible = True
                    self.queued_ms = 0
                    self.item = message.item_id
                    call.trace.record("audio_state", state="ai_speaking", why="ai_audio")
                self.queued_ms += CHUNK_MS
                call.trace.record("io", peer="caller", dir="out", type="media", item_id=message.item_id, bytes=160)
            elif isinstance(message, AiAudioDone) and call.ai_audible:
                call.trace.record("io", peer="caller", dir="out", type="mark", item_id=message.item_id, name="m1")
                nursery.start_soon(self.line_plays_out, message.item_id, self.queued_ms)
            elif isinstance(message, MarkPlayed) and call.ai_audible and message.name == self.item:
                call.ai_audible = False
                call.trace.record("io", peer="caller", dir="in", type="mark", name=message.name)
                call.trace.record("playout", item_id=self.item, heard_ms=self.queued_ms, finished=True)
                call.trace.record("audio_state", state="listening", why="playout_done")
                self.to_realtime.send_nowait(PlayoutFinished(item_id=self.item, heard_ms=self.queued_ms))

    async def line_plays_out(self, item_id: str, ms: int) -> None:
        """Twilio plays the queued audio in real time, then echoes the mark."""
        await trio.sleep(ms / 1000.0)
        self.call.boxes.audio.outbox("line").send_nowait(MarkPlayed(name=item_id))


class _Realtime:
    name = "realtime"

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.to_audio = call.boxes.audio.outbox("realtime")
        self.to_nlp = call.boxes.nlp.outbox("realtime")

    async def run(self) -> None:
        call = self.call
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.reply, "greeting", 1500)
            async for message in call.boxes.realtime:
                if isinstance(message, UtteranceEnded):
                    text = call.said.popleft() if call.said else "…"
                    call.turn += 1
                    for event in ("input_audio_buffer.commit", "response.create"):
                        call.trace.record("io", peer="model", dir="out", type=event)
                    call.trace.record("realtime", what="response_create", turn=call.turn)
                    call.trace.record(
                        "io",
                        peer="model",
                        dir="in",
                        type="conversation.item.input_audio_transcription.completed",
                        transcript=text,
                    )
                    history = (HistoryTurn(role="assistant", text="שלום, כאן מספרת דנה"), HistoryTurn("user", text))
                    self.to_nlp.send_nowait(UserTranscript(turn_id=f"u{call.turn}", text=text, history=history))
                    nursery.start_soon(self.reply, f"r{call.turn}", 2400)
                elif isinstance(message, ServerNote):
                    call.trace.record("realtime", what="note_injected", kind=message.kind, text=message.text)
                    call.trace.record("io", peer="model", dir="out", type="conversation.item.create", text=message.text)
                elif isinstance(message, BargeIn):
                    call.trace.record("realtime", what="cancel", item_id=message.item_id)
                    call.trace.record("realtime", what="truncate", audio_end_ms=message.audio_end_ms)
                    call.trace.record("io", peer="model", dir="out", type="response.cancel")
                elif isinstance(message, NoiseIgnored):
                    call.trace.record("io", peer="model", dir="out", type="input_audio_buffer.clear")
                elif isinstance(message, PlayoutFinished):
                    call.trace.record("realtime", what="ai_turn", item_id=message.item_id, text=HEBREW_REPLY)
                elif isinstance(message, SilenceElapsed):
                    call.trace.record("realtime", what="silence_prompt", silence_ms=message.silence_ms)
                    nursery.start_soon(self.reply, "silence", 1200)
            nursery.cancel_scope.cancel()

    async def reply(self, item: str, ms: int) -> None:
        """The model streams audio faster than real time: one 20 ms chunk every 5 ms."""
        call = self.call
        item_id = f"item_{item}_{call.turn}"
        for i in range(ms // CHUNK_MS):
            if i % 10 == 0:
                call.trace.record("io", peer="model", dir="in", type="response.audio.delta", chunks=10, bytes=1600)
            self.to_audio.send_nowait(AiAudio(response_id=f"resp_{item}", item_id=item_id, payload=SPEECH))
            await trio.sleep(0.005)
        self.to_audio.send_nowait(AiAudioDone(response_id=f"resp_{item}", item_id=item_id))


class _Nlp:
    name = "nlp"

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.to_booking = call.boxes.booking.outbox("nlp")

    async def run(self) -> None:
        async for message in self.call.boxes.nlp:
            if isinstance(message, InjectedCrash):
                raise InjectedFault(message.reason)
            if "פגישה" in message.text:
                self.call.log("nlp", "[NLP] appointment action detected: create_appointment 2026-11-25 18:00 דנה")
                self.to_booking.send_nowait(
                    BookingRequest(
                        request_id=message.turn_id,
                        kind="create_appointment",
                        start=None,
                        name="דנה",
                        phone="+972501234567",
                    )
                )


class _Booking:
    name = "booking"

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.to_realtime = call.boxes.realtime.outbox("booking")
        self.next_id = 7

    async def run(self) -> None:
        async for message in self.call.boxes.booking:
            if isinstance(message, BookingRequest):
                text = f"appointment_created id={self.next_id} start=2026-11-25T18:00+02:00"
                self.call.log("booking", f"[SERVER] {text}")
                self.to_realtime.send_nowait(ServerNote(kind="appointment_created", text=text, appointment_id=7))
                self.next_id += 1


async def _caller(call: _Call, cycles: int, frames_per_tick: int) -> None:
    """The caller line: a script of speech, noise and silence, pumped as 20 ms frames."""
    frames = call.boxes.audio_frames.outbox("line")
    stamp = 0

    async def pump(payload: bytes, ms: int) -> None:
        nonlocal stamp
        for i in range(ms // FRAME_MS):
            frames.send_nowait(CallerFrame(payload=payload, timestamp_ms=stamp, received_at=trio.current_time()))
            stamp += FRAME_MS
            if (i + 1) % frames_per_tick == 0:
                await trio.sleep(FRAME_MS * frames_per_tick / 1000.0)

    await pump(QUIET, 2600)
    for cycle in range(cycles):
        call.said.append(HEBREW_REQUEST if cycle % 2 == 0 else "I'd like to move it to four, please")
        await pump(SPEECH, 2600)
        await pump(QUIET, 1000)
        if cycle % 3 == 1:
            call.said.append("רגע, רגע")
            await pump(SPEECH, 900)  # talks over the AI's reply: a barge-in, then a real turn
            await pump(QUIET, 3000)
        else:
            await pump(QUIET, 2400)
        await pump(SPEECH, 300)  # a cough: noise, ignored
        await pump(QUIET, 700)


async def _run_call(path: Path, cycles: int, frames_per_tick: int) -> None:
    trace = Trace(
        "CA0123456789abcdef",
        path,
        keep_in_memory=False,
        meta={"scenario": "viewer-sample", "business": "מספרת דנה", "language": "he", "caller_phone": "+972501234567"},
    )
    boxes = CallMailboxes.create(trace, CallConfig())
    call = _Call(trace, boxes)
    trace.record("io", peer="caller", dir="in", type="start", stream_sid="MZ0001")
    trace.record("audio_state", state="listening", why="start")

    def escalate(spec: ChildSpec, failure: BaseException | None) -> None:
        trace.record("log", actor="supervisor", msg=f"escalation for {spec.name}: {failure!r}")

    async with trio.open_nursery() as nursery:
        for factory in (_Audio, _Realtime, _Nlp, _Booking):
            spec = ChildSpec(
                name=factory.name,
                factory=functools.partial(factory, call),
                restart=RestartKind.TRANSIENT,
                on_exhausted=Escalation.DEGRADE,
            )
            nursery.start_soon(supervise, spec, trace, escalate)
        await _caller(call, cycles, frames_per_tick)
        boxes.nlp.outbox("fault").send_nowait(InjectedCrash(reason="viewer sample fault"))
        boxes.realtime.outbox("audio").send_nowait(SilenceElapsed(silence_ms=15000.0))
        await trio.sleep(4.0)
        boxes.supervisor.outbox("line").send_nowait(EndCall(by="caller", reason="hangup"))
        end = await boxes.supervisor.receive()
        trace.record("call_end", by=end.by, reason=end.reason, duration_ms=trace.now_ms())
        boxes.close_all()
    trace.close()


def write_call_trace(path: Path, *, cycles: int = 2, frames_per_tick: int = 1) -> Path:
    """Write a trace of a simulated call with `cycles` caller turns; returns `path`."""
    trio.run(_run_call, path, cycles, frames_per_tick, clock=trio.testing.MockClock(autojump_threshold=0))
    return path
