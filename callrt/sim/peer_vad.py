"""The simulated service's server VAD: where speech starts and stops in a session's input audio.

When a session's `turn_detection` is `server_vad` (the service's default), the service listens to
the appended audio itself: `input_audio_buffer.speech_started` when the caller starts speaking,
`speech_stopped` after `silence_duration_ms` of silence, then it commits the buffer and, with
`create_response`, answers. `PeerSession` sends those events; this module only finds the edges.

The service's VAD is a model that gives each chunk of audio a speech probability, compared with
`threshold`. The simulator's is an energy gate over 20 ms windows: a window is voiced when its RMS
(PCM16 units) exceeds `threshold` x `RMS_PER_THRESHOLD` (0.5 -> 500: above the line-noise floor of
the simulated caller, below its speech). Positions are milliseconds of audio written to the session,
as the service counts them; `audio_start_ms` includes `prefix_padding_ms` (it is the start of the
audio the model is given), reaching back no further than the previous `speech_stopped`, and
`audio_end_ms` includes `silence_duration_ms`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from actors.codec import quiet_codes, ulaw_rms_over
from callrt.sim.peer_dialect import ULAW_FORMATS
from callrt.sim.peer_voice import bytes_per_ms

WINDOW_MS = 20
RMS_PER_THRESHOLD = 1000.0
DEFAULTS: Mapping[str, Any] = {
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
"""What the service assumes for a field a `server_vad` configuration leaves out (the API reference's defaults)."""


@attrs.frozen
class VadSettings:
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool
    interrupt_response: bool

    @classmethod
    def of(cls, turn_detection: Any) -> VadSettings | None:
        """The settings of a session's `turn_detection`, or None when it is not `server_vad` (off, or another
        kind the simulator does not run)."""
        if not isinstance(turn_detection, Mapping) or turn_detection.get("type") != "server_vad":
            return None

        def field(name: str) -> Any:
            value = turn_detection.get(name)
            return DEFAULTS[name] if value is None else value

        return cls(
            threshold=float(field("threshold")),
            prefix_padding_ms=int(field("prefix_padding_ms")),
            silence_duration_ms=int(field("silence_duration_ms")),
            create_response=bool(field("create_response")),
            interrupt_response=bool(field("interrupt_response")),
        )


@attrs.frozen
class SpeechStarted:
    audio_start_ms: int


@attrs.frozen
class SpeechStopped:
    audio_end_ms: int


Edge = SpeechStarted | SpeechStopped


class ServerVad:
    """Edges of speech in one session's input audio, fed as it is appended (in any chunk sizes)."""

    def __init__(self, settings: VadSettings, audio_format: str, *, position_ms: int = 0) -> None:
        self.settings = settings
        self.audio_format = audio_format
        self._window_bytes = WINDOW_MS * bytes_per_ms(audio_format)
        self._rms_gate = settings.threshold * RMS_PER_THRESHOLD
        self._ulaw = audio_format in ULAW_FORMATS
        self._quiet = quiet_codes(self._rms_gate)
        self._pending = b""
        self.position_ms = position_ms
        """Audio written to the session so far (whole windows since the VAD started)."""
        self.speaking = False
        self._last_voice_end_ms = 0
        self._stopped_at_ms = 0

    def feed(self, audio: bytes) -> list[Edge]:
        """The edges found in the whole windows that `audio` completes; a partial window waits for the next."""
        data = self._pending + audio
        usable = len(data) - len(data) % self._window_bytes
        self._pending = data[usable:]
        if not usable:
            return []
        edges: list[Edge] = []
        for voiced in self._voiced(data[:usable]):
            start = self.position_ms
            self.position_ms += WINDOW_MS
            if voiced:
                if not self.speaking:
                    self.speaking = True
                    # The padding reaches back no further than the end of the previous turn, committed already.
                    edges.append(SpeechStarted(max(self._stopped_at_ms, start - self.settings.prefix_padding_ms)))
                self._last_voice_end_ms = self.position_ms
            elif self.speaking and self.position_ms - self._last_voice_end_ms >= self.settings.silence_duration_ms:
                self.speaking = False
                self._stopped_at_ms = self.position_ms
                edges.append(SpeechStopped(self.position_ms))
        return edges

    def _voiced(self, audio: bytes) -> list[bool]:
        size, gate = self._window_bytes, self._rms_gate
        if self._ulaw:
            # One window per append from a phone relay: numpy's per-call overhead would dominate, and a window of
            # quiet codes needs no RMS at all. The simulated model serves hundreds of such calls on one core.
            return [ulaw_rms_over(audio[i : i + size], self._quiet) > gate for i in range(0, len(audio), size)]
        windows = np.frombuffer(audio, dtype="<i2").astype(np.float64).reshape(len(audio) // size, -1)
        rms = np.sqrt(np.mean(windows * windows, axis=1))
        return [bool(v) for v in rms > gate]
