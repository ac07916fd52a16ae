"""The load generator: N simulated callers over real websockets, for a fixed time.

Each caller (`LoadCaller`) plays Twilio's side of Media Streams (one 20 ms mu-law frame
every 20 ms on absolute deadlines, marks echoed at playout, `clear` honoured) with the
simulated caller's signals and script steps: it talks over the greeting (a barge-in),
talks over the reply too, asks something and lets the answer play out, coughs, and
stays silent for a while, in a loop. Streams carry a valid stream token (the bench
shares the server's stream secret) and the script for the simulated model peer.

`SimulatedCaller` itself costs about 7 ms of CPU per second per call (a JSON encoder and
a channel hop per frame, signals synthesised per step): 50 calls took 35-40 % of the
generator's core. `LoadCaller` keeps its protocol and playout model at a fraction of
that, and records how late each frame left, so a generator that cannot keep up shows
in the report instead of silently offering less load.
"""

from __future__ import annotations

import base64
import collections
import functools
import itertools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import orjson
import trio

from actors.codec import base64_decoded_size
from callrt.loadtest.frame_clock import FrameClock
from callrt.loadtest.wsclient import RawWebSocket
from callrt.net.transport import TransportClosed
from callrt.sim.caller import FRAME_S
from callrt.sim.peer_script import SimScript
from callrt.sim.playout import Playout
from callrt.sim.signals import NoiseKind, noise_frames, silence_frames, speech_frames
from callrt.telephony.webhook import StreamTokens

LINES: tuple[str, ...] = (
    "Hi, sorry, I just have a quick question",
    "What are your opening hours on Friday?",
    "Can I book for tomorrow at nine pm?",
    "Okay, and what about Thursday at ten in the morning?",
    "My name is Dana",
    "Thanks, that is all for now",
)
CONNECT_TIMEOUT_S = 10.0
SETTLE_S = 1.0
"""After the last call started, before the steady window opens: the server has caught up with the ramp's
call set-ups, and every AudioActor has reported the frames it handled during the ramp (`frame_lag`
windows are 1 s long)."""

logger = logging.getLogger(__name__)


def caller_script(index: int, seconds: float) -> tuple[list[dict[str, Any]], SimScript]:
    """A script that keeps the call busy for at least `seconds`, and the peer's transcripts for it.

    Pauses vary with the caller's index so that the calls do not speak in lockstep.
    """
    jitter = (index * 37) % 400
    # Calls must not move in lockstep: with the same script and starts 20 ms apart, every call would ask
    # and be answered within the same second, a burst no real line of independent callers produces. A
    # one-off delay of up to one cycle of the script (about 9 s), spread over the calls, scatters the phases.
    phase_ms = (index * 761) % 9000
    steps: list[dict[str, Any]] = []
    says: list[str] = []
    budget_ms = 0.0
    cycle = 0
    while budget_ms < seconds * 1000.0 + 5000.0:
        first, second = LINES[(2 * cycle + index) % len(LINES)], LINES[(2 * cycle + index + 1) % len(LINES)]
        steps += [
            # Talk over the AI (the greeting, then each reply): a barge-in.
            {"wait": "ai_started", "timeout_ms": 6000},
            {"pause_ms": 300 + jitter + (0 if cycle else phase_ms)},
            {"say": first, "ms": 1200},
            {"pause_ms": 700},
            # Ask, and let the answer play out.
            {"say": second, "ms": 1600},
            {"wait": "ai_done", "timeout_ms": 8000},
            {"pause_ms": 500 + jitter},
            {"noise": "cough", "ms": 260, "rms": 1800},
            {"silence_ms": 1500},
            {"say": first, "ms": 1000},
        ]
        says += [first, second, first]
        budget_ms += sum(s.get("ms", 0) + s.get("pause_ms", 0) + s.get("silence_ms", 0) for s in steps[-10:])
        budget_ms += 3000  # about what the AI's answer takes
        cycle += 1
    return steps, SimScript(language="en", business_name="Bench Barbers", says=tuple(says))


def _b64(frames: Sequence[bytes]) -> tuple[str, ...]:
    return tuple(base64.b64encode(frame).decode("ascii") for frame in frames)


@functools.lru_cache(maxsize=256)
def _speech(text: str, ms: float) -> tuple[str, ...]:
    return _b64(speech_frames(text, ms))


@functools.lru_cache(maxsize=64)
def _noise(kind: NoiseKind, ms: float, rms: float) -> tuple[str, ...]:
    return _b64(noise_frames(kind, ms, rms))


@functools.lru_cache(maxsize=8)
def _floor(seed: int) -> tuple[str, ...]:
    return _b64(silence_frames(1000.0, seed=seed))


class LoadCaller:
    """Twilio's side of one media stream, as cheap per frame as it can be made.

    The same protocol, signals and playout model as `SimulatedCaller` (connected/start,
    a media frame every 20 ms on absolute deadlines, marks echoed once the audio before them
    has played, `clear` honoured, waits decided by what is heard), but each frame is one
    f-string around a payload encoded once per process (signals are cached by text, kind
    and seed) written straight to the socket (`RawWebSocket`): no JSON encoder, no channel
    hop, no wsproto per frame. Marks are echoed right after a frame leaves, by the task that sent
    it, rather than by a timer of their own: at most one frame (20 ms) after their audio played,
    the packet Twilio plays audio in, and one wake-up less per AI chunk.
    `lateness_ms` records how late each frame left against its deadline.
    """

    def __init__(
        self,
        ws: RawWebSocket,
        steps: Sequence[Mapping[str, Any]],
        *,
        call_sid: str,
        stream_sid: str,
        parameters: Mapping[str, str],
        clock: FrameClock,
        floor_seed: int = 0,
    ) -> None:
        self.ws = ws
        self.clock = clock
        self.steps = list(steps)
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self.parameters = dict(parameters)
        self.playout = Playout(self._echo_mark)
        self.frames_sent = 0
        self.wait_timeouts = 0
        self.lateness_ms: list[float] = []
        self.ended_by_server = False
        self._floor = _floor(floor_seed % 8)
        self._echoes: collections.deque[str] = collections.deque()
        self._t0 = 0.0
        self._seq = 0

    async def run(self, seconds: float) -> None:
        """Play the script (looping the floor when it runs out) for `seconds`, then hang up with `stop`."""
        self._t0 = trio.current_time()
        start = {
            "accountSid": "ACbench",
            "streamSid": self.stream_sid,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "customParameters": self.parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        try:
            await self.ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            await self.ws.send(json.dumps({"event": "start", "start": start, "streamSid": self.stream_sid}))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._receiver, nursery.cancel_scope)
                with trio.move_on_after(seconds):
                    await self._play()
                nursery.cancel_scope.cancel()
            stop = {"event": "stop", "streamSid": self.stream_sid, "stop": {"callSid": self.call_sid}}
            if not self.ended_by_server:
                await self.ws.send(json.dumps(stop))
        except* TransportClosed:  # the server closed the stream (also from inside the nursery)
            self.ended_by_server = True
        self.playout.finish()

    # -- frames ------------------------------------------------------------------------------------------

    async def _send_frame(self, payload_b64: str) -> None:
        index = self.frames_sent
        deadline = self._t0 + (index + 1) * FRAME_S
        await self.clock.sleep_until(deadline)
        self.lateness_ms.append((trio.current_time() - deadline) * 1000.0)
        self._seq += 1
        self.frames_sent += 1
        await self.ws.send(
            f'{{"event":"media","sequenceNumber":"{self._seq}","media":{{"track":"inbound","chunk":"{index + 1}",'
            f'"timestamp":"{index * 20}","payload":"{payload_b64}"}},"streamSid":"{self.stream_sid}"}}'
        )
        self.playout.echo_due()
        while self._echoes:
            self._seq += 1
            mark = {"event": "mark", "sequenceNumber": str(self._seq), "streamSid": self.stream_sid}
            await self.ws.send(orjson.dumps({**mark, "mark": {"name": self._echoes.popleft()}}).decode())

    async def _frames(self, payloads: Sequence[str]) -> None:
        for payload in payloads:
            await self._send_frame(payload)

    async def _play(self) -> None:
        for step in self.steps:
            if "say" in step:
                await self._frames(_speech(str(step["say"]), float(step["ms"])))
            elif "noise" in step:
                await self._frames(_noise(step["noise"], float(step["ms"]), float(step["rms"])))
            elif "silence_ms" in step or "pause_ms" in step:
                ms = float(step.get("silence_ms", step.get("pause_ms", 0)))
                await self._frames(self._floor[: round(ms / 20)])
            elif "wait" in step:
                await self._wait(str(step["wait"]), float(step.get("timeout_ms", 20_000)))
        while True:  # the script is over: line noise until the time is up
            await self._frames(self._floor)

    async def _wait(self, kind: str, timeout_ms: float) -> None:
        since = trio.current_time()
        deadline = since + timeout_ms / 1000.0
        for index in itertools.count():
            heard = self.playout.started_since(since) if kind == "ai_started" else self.playout.done_since(since, 0.4)
            if heard:
                return
            if trio.current_time() >= deadline:
                self.wait_timeouts += 1
                return
            await self._send_frame(self._floor[index % len(self._floor)])

    # -- the server's messages -------------------------------------------------------------------------

    async def _receiver(self, scope: trio.CancelScope) -> None:
        while True:
            try:
                text = await self.ws.receive()
            except TransportClosed:
                self.ended_by_server = True
                scope.cancel()
                return
            message = orjson.loads(text)
            event = message.get("event")
            if event == "media":
                self.playout.add_audio(base64_decoded_size(message["media"]["payload"]))
            elif event == "mark":
                self.playout.add_mark(str(message["mark"]["name"]))
            elif event == "clear":
                self.playout.clear()

    def _echo_mark(self, name: str, _cleared: bool) -> None:
        self._echoes.append(name)


@attrs.define
class LoadResult:
    calls: int
    connected: int = 0
    failed: int = 0
    frames_sent: int = 0
    clears: int = 0
    marks_echoed: int = 0
    heard_ms: float = 0.0
    wait_timeouts: int = 0
    ended_by_server: int = 0
    lateness_p50_ms: float = 0.0
    lateness_p99_ms: float = 0.0
    cpu_s: float = 0.0
    """CPU of the generator's process over the run (it does nothing else meanwhile)."""
    steady_start: float = 0.0
    steady_end: float = 0.0
    """Trio times between which every call was up (after the ramp and `SETTLE_S`, before the first hang-up)."""


async def run_load(
    media_url: str,
    secret: bytes,
    calls: int,
    seconds: float,
    *,
    ramp_s: float,
    on_steady: Any = None,
    sid_prefix: str = "CAbench",
) -> LoadResult:
    """Run `calls` callers for `seconds` each, started evenly over `ramp_s`; bounded in count and time.

    `on_steady(start)` / `on_steady(None)` is awaited when the last call has started and when the
    first one is about to hang up, so the caller can sample the server's CPU over the steady window.
    """
    tokens = StreamTokens(secret)  # issued as each call connects: the server honours no longer life than its TTL
    result = LoadResult(calls=calls)
    clock = FrameClock()
    callers: list[LoadCaller] = []
    t_start = trio.current_time()
    cpu_start = time.process_time()

    async def one(index: int) -> None:
        await trio.sleep_until(t_start + ramp_s * index / max(calls, 1))
        call_sid = f"{sid_prefix}{index:05d}"
        steps, sim = caller_script(index, seconds)
        try:
            ws = await RawWebSocket.connect(media_url, CONNECT_TIMEOUT_S)
        except (OSError, ConnectionError, trio.TooSlowError, TransportClosed) as exc:
            logger.warning("bench call %s could not connect: %r", call_sid, exc)
            result.failed += 1
            return
        line = f"+1555{index:07d}"
        caller = LoadCaller(
            ws,
            steps,
            call_sid=call_sid,
            stream_sid=f"MZbench{index:05d}",
            parameters={"token": tokens.issue(call_sid, line), "caller": line, "sim_script": sim.to_json()},
            clock=clock,
            floor_seed=index,
        )
        callers.append(caller)
        result.connected += 1
        try:
            await caller.run(seconds)
        finally:
            with trio.CancelScope(shield=True):
                await ws.aclose()

    async def steady_window() -> None:
        result.steady_start = t_start + ramp_s + SETTLE_S
        await trio.sleep_until(result.steady_start)
        if on_steady is not None:
            await on_steady(result.steady_start)
        result.steady_end = t_start + seconds  # the first caller hangs up now
        await trio.sleep_until(result.steady_end)
        if on_steady is not None:
            await on_steady(None)

    with trio.fail_after(ramp_s + seconds + 60.0):
        async with trio.open_nursery() as ticking:
            ticking.start_soon(clock.run)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(steady_window)
                for index in range(calls):
                    nursery.start_soon(one, index)
            ticking.cancel_scope.cancel()
    result.cpu_s = time.process_time() - cpu_start
    _summarise(result, callers)
    return result


def _summarise(result: LoadResult, callers: Sequence[LoadCaller]) -> None:
    lateness: list[float] = []
    for caller in callers:
        playout = caller.playout
        result.frames_sent += caller.frames_sent
        result.marks_echoed += playout.marks_echoed + playout.marks_echoed_on_clear
        result.clears += len(playout.clears)
        result.heard_ms += sum(span.bytes for span in playout.spans) / 8.0
        result.wait_timeouts += caller.wait_timeouts
        result.ended_by_server += caller.ended_by_server
        lateness.extend(caller.lateness_ms)
    if lateness:
        p50, p99 = np.percentile(np.asarray(lateness), [50, 99])
        result.lateness_p50_ms = round(float(p50), 2)
        result.lateness_p99_ms = round(float(p99), 2)
    result.heard_ms = round(result.heard_ms, 1)
