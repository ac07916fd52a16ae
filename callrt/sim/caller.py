"""The simulated caller: Twilio's side of a Media Streams call, playing a scenario script.

It speaks the Media Streams JSON protocol over any `TextTransport` (an in-memory
pipe in scenarios, a real websocket for `callrt call`): `connected`, `start`
(with the stream's custom parameters: `sim_script`, a stream token...), then one
`media` frame every 20 ms on absolute deadlines (no drift), whatever the script
is doing: speech for `say`, a noise for `noise`, the line's noise floor
otherwise. Outbound audio from the server goes into Twilio's playout buffer
(`callrt.sim.playout`), marks are echoed once the audio before them has played,
and `clear` drops the buffer and echoes the pending marks at once, as Twilio
does. `wait` steps are decided by what the caller actually hears.

Everything waits with trio sleeps, so the same code runs in virtual time
(scenarios) and in real time (live). The outcome is a `CallerReport`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import attrs
import trio

from callrt.net.transport import TextTransport, TransportClosed
from callrt.sim.playout import Playout
from callrt.sim.signals import noise_frames, silence_frames, speech_frames

logger = logging.getLogger(__name__)

FRAME_S = 0.02
DONE_QUIET_S = 0.4
"""`wait: ai_done` holds once the caller has heard nothing for this long after AI audio."""
DEFAULT_WAIT_TIMEOUT_MS = 20_000.0
DEFAULT_LINGER_MS = 60_000.0
"""After the last step the caller stays on the line, silent, for at most this long before hanging up."""

EndedBy = Literal["caller", "server", "linger"]


@attrs.frozen
class HeardSpan:
    """A stretch of AI audio heard without a gap (caller-relative ms); `cleared` when a clear cut it."""

    start_ms: float
    end_ms: float
    bytes: int
    cleared: bool


@attrs.frozen
class WaitTimeout:
    step: int
    wait: str
    timeout_ms: float
    at_ms: float


@attrs.define
class CallerReport:
    """What the caller did and heard. Times are ms since the caller started (`started_at`, trio time)."""

    call_sid: str
    stream_sid: str
    started_at: float
    frames_sent: int = 0
    steps_done: int = 0
    heard: list[HeardSpan] = attrs.Factory(list)
    clears_ms: list[float] = attrs.Factory(list)
    marks_echoed: int = 0
    marks_echoed_on_clear: int = 0
    wait_timeouts: list[WaitTimeout] = attrs.Factory(list)
    ended_by: EndedBy | None = None
    ended_at_ms: float | None = None
    bad_messages: int = 0

    @property
    def heard_bytes(self) -> int:
        return sum(span.bytes for span in self.heard)

    @property
    def heard_ms(self) -> float:
        return self.heard_bytes / 8.0

    def violations(self) -> list[str]:
        return ["wait_timed_out"] if self.wait_timeouts else []

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "heard_bytes": self.heard_bytes, "violations": self.violations()}


class SimulatedCaller:
    def __init__(
        self,
        transport: TextTransport,
        script: Sequence[Mapping[str, Any]],
        *,
        sim_script: str | None = None,
        parameters: Mapping[str, str] | None = None,
        call_sid: str = "CAsimulated",
        stream_sid: str = "MZsimulated",
        account_sid: str = "ACsimulated",
        linger_ms: float = DEFAULT_LINGER_MS,
    ) -> None:
        self.transport = transport
        self.script = list(script)
        self.parameters = dict(parameters or {})
        if sim_script is not None:
            self.parameters["sim_script"] = sim_script
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self.account_sid = account_sid
        self.linger_ms = linger_ms
        self.playout = Playout(self._echo_mark)
        self._sequence = itertools.count(1)
        self._frame_index = 0
        self._t0 = 0.0
        self._out_send, self._out_receive = trio.open_memory_channel[str](math.inf)
        self.report = CallerReport(call_sid=call_sid, stream_sid=stream_sid, started_at=0.0)

    # -- the call ----------------------------------------------------------------------------------------

    async def run(self) -> CallerReport:
        self._t0 = trio.current_time()
        self.report.started_at = self._t0
        self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self._send(
            {
                "event": "start",
                "sequenceNumber": self._seq(),
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self.parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
                "streamSid": self.stream_sid,
            }
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._writer, nursery.cancel_scope)
            nursery.start_soon(self._receiver, nursery.cancel_scope)
            nursery.start_soon(self.playout.run)
            nursery.start_soon(self._play, nursery.cancel_scope)
        with trio.CancelScope(shield=True):
            await self.transport.aclose()
        self._finish_report()
        return self.report

    def _ms(self, t: float) -> float:
        return round((t - self._t0) * 1000.0, 3)

    def _end(self, by: EndedBy, scope: trio.CancelScope) -> None:
        if self.report.ended_by is None:
            self.report.ended_by = by
            self.report.ended_at_ms = self._ms(trio.current_time())
        scope.cancel()

    def _finish_report(self) -> None:
        self.playout.finish()
        report = self.report
        report.heard = [
            HeardSpan(self._ms(span.start), self._ms(span.end), span.bytes, span.cleared)
            for span in self.playout.spans
            if span.bytes > 0
        ]
        report.clears_ms = [self._ms(t) for t in self.playout.clears]
        report.marks_echoed = self.playout.marks_echoed
        report.marks_echoed_on_clear = self.playout.marks_echoed_on_clear

    # -- outgoing: one writer keeps the order of frames, marks and stop --------------------------------------

    def _seq(self) -> str:
        return str(next(self._sequence))

    def _send(self, message: Mapping[str, Any]) -> None:
        # After the caller hung up, a late mark echo has nowhere to go.
        with contextlib.suppress(trio.ClosedResourceError):
            self._out_send.send_nowait(json.dumps(message, separators=(",", ":")))

    async def _writer(self, scope: trio.CancelScope) -> None:
        try:
            async for text in self._out_receive:
                await self.transport.send(text)
        except TransportClosed:
            self._end("server", scope)
            return
        self._end("caller", scope)  # the stream was stopped by the caller and everything is out

    def _echo_mark(self, name: str, _cleared: bool) -> None:
        self._send(
            {"event": "mark", "sequenceNumber": self._seq(), "streamSid": self.stream_sid, "mark": {"name": name}}
        )

    def _send_frame(self, payload: bytes) -> None:
        index = self._frame_index
        self._frame_index += 1
        self.report.frames_sent += 1
        self._send(
            {
                "event": "media",
                "sequenceNumber": self._seq(),
                "media": {
                    "track": "inbound",
                    "chunk": str(index + 1),
                    "timestamp": str(index * 20),
                    "payload": base64.b64encode(payload).decode("ascii"),
                },
                "streamSid": self.stream_sid,
            }
        )

    async def _next_frame_slot(self) -> None:
        """Frame k (covering [20k, 20k+20) ms of the stream) leaves when it has been captured, at 20(k+1) ms."""
        await trio.sleep_until(self._t0 + (self._frame_index + 1) * FRAME_S)

    # -- incoming ----------------------------------------------------------------------------------------

    async def _receiver(self, scope: trio.CancelScope) -> None:
        while True:
            try:
                text = await self.transport.receive()
            except TransportClosed:
                self._end("server", scope)
                return
            self._on_message(text)

    def _on_message(self, text: str) -> None:
        try:
            message = json.loads(text)
            event = message["event"]
            if event == "media":
                self.playout.add_audio(len(base64.b64decode(message["media"]["payload"], validate=True)))
            elif event == "mark":
                self.playout.add_mark(str(message["mark"]["name"]))
            elif event == "clear":
                self.playout.clear()
            else:
                raise ValueError(f"unknown event {event!r}")
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            self.report.bad_messages += 1
            logger.warning("simulated caller: bad message from the server (%s): %.120s", exc, text)

    # -- the script --------------------------------------------------------------------------------------

    async def _play(self, scope: trio.CancelScope) -> None:
        floor = self._floor()
        for index, step in enumerate(self.script):
            if "say" in step:
                await self._speak(speech_frames(str(step["say"]), float(step["ms"])))
            elif "noise" in step:
                await self._speak(noise_frames(step["noise"], float(step["ms"]), float(step["rms"]), seed=index))
            elif "silence_ms" in step or "pause_ms" in step:
                ms = float(step.get("silence_ms", step.get("pause_ms", 0)))
                await self._speak(silence_frames(ms, seed=index))
            elif "wait" in step:
                await self._wait(
                    index, str(step["wait"]), float(step.get("timeout_ms", DEFAULT_WAIT_TIMEOUT_MS)), floor
                )
            elif step.get("hangup"):
                self._hang_up()
                return
            self.report.steps_done += 1
        # The script is over: stay on the line, silent, until the server ends the call (or give up).
        lingered_until = trio.current_time() + self.linger_ms / 1000.0
        while trio.current_time() < lingered_until:
            await self._speak([next(floor)])
        self.report.ended_by = "linger"
        self.report.ended_at_ms = self._ms(trio.current_time())
        self._hang_up()

    def _floor(self) -> Iterator[bytes]:
        """Endless line noise for waits (1 s blocks with fresh seeds)."""
        for block in itertools.count(1000):
            yield from silence_frames(1000, seed=block)

    async def _speak(self, frames: Sequence[bytes]) -> None:
        for payload in frames:
            await self._next_frame_slot()
            self._send_frame(payload)

    async def _wait(self, index: int, kind: str, timeout_ms: float, floor: Iterator[bytes]) -> None:
        since = trio.current_time()
        deadline = since + timeout_ms / 1000.0
        while True:
            heard = (
                self.playout.started_since(since)
                if kind == "ai_started"
                else self.playout.done_since(since, DONE_QUIET_S)
            )
            if heard:
                return
            if trio.current_time() >= deadline:
                self.report.wait_timeouts.append(
                    WaitTimeout(step=index, wait=kind, timeout_ms=timeout_ms, at_ms=self._ms(trio.current_time()))
                )
                return
            await self._speak([next(floor)])

    def _hang_up(self) -> None:
        self._send(
            {
                "event": "stop",
                "sequenceNumber": self._seq(),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            }
        )
        self._out_send.close()
