"""The voice activity detector: a pure state machine over per-frame RMS.

It owns nothing but segment bookkeeping: no clock, no I/O, no audio. The
AudioActor feeds it one `(at_ms, rms)` pair per 20 ms frame (the frame's start
time on the media clock) and acts on the events it returns.

A *segment* starts at the first frame whose RMS reaches the threshold (its
onset is that frame's start time, exactly) and lasts until the end of its last
voiced frame. Unvoiced gaps shorter than the hangover stay inside the segment.
The segment is closed on the first frame (or time gap) at which the hangover
has fully elapsed after the last voiced frame; it is then an utterance when it
lasted at least `min_voice_ms`, otherwise noise.
"""

from __future__ import annotations

import attrs

from .codec import FRAME_MS


@attrs.frozen
class VadSettings:
    threshold: float = 260.0
    min_voice_ms: float = 800.0
    hangover_ms: float = 600.0
    frame_ms: float = FRAME_MS


@attrs.frozen
class SpeechOnset:
    """A voiced segment began at `at_ms` (the start of its first voiced frame)."""

    at_ms: float
    rms: float


@attrs.frozen
class SegmentEnd:
    """A segment closed: an utterance when `is_utterance`, else noise to ignore.

    `duration_ms` runs from the onset to the end of the last voiced frame;
    `silence_ms` is the unvoiced time after it when the end was decided
    (the hangover, rounded up to whole frames); `decided_at_ms` = end + silence.
    """

    onset_ms: float
    end_ms: float
    decided_at_ms: float
    mean_rms: float
    peak_rms: float
    voiced_frames: int
    is_utterance: bool

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.onset_ms

    @property
    def silence_ms(self) -> float:
        return self.decided_at_ms - self.end_ms


VadEvent = SpeechOnset | SegmentEnd


class Vad:
    """Energy VAD. `push` returns the events (zero, one or two) caused by one frame."""

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self._clock_ms = float("-inf")  # end of the last frame seen: keeps frame times monotone
        self._onset_ms: float | None = None
        self._voiced_end_ms = 0.0
        self._rms_sum = 0.0
        self._rms_peak = 0.0
        self._voiced = 0

    @property
    def in_segment(self) -> bool:
        return self._onset_ms is not None

    @property
    def voiced_frames(self) -> int:
        """Voiced frames in the current segment (0 outside one)."""
        return self._voiced

    def push(self, at_ms: float, rms: float) -> tuple[VadEvent, ...]:
        settings = self.settings
        # A frame that claims to start before the previous one ended (jitter, a bad
        # timestamp) is placed right after it: times never go backwards.
        start = max(at_ms, self._clock_ms)
        end = start + settings.frame_ms
        self._clock_ms = end
        events: tuple[VadEvent, ...] = ()  # most frames decide nothing: no list to build for them
        voiced = rms >= settings.threshold
        # A time gap (lost frames) longer than the hangover closes the segment by itself.
        if self._onset_ms is not None and start - self._voiced_end_ms >= settings.hangover_ms:
            events = (self._close(self._voiced_end_ms + settings.hangover_ms),)
        if voiced:
            if self._onset_ms is None:
                self._onset_ms = start
                events += (SpeechOnset(at_ms=start, rms=rms),)
            self._voiced_end_ms = end
            self._rms_sum += rms
            if rms > self._rms_peak:
                self._rms_peak = rms
            self._voiced += 1
        elif self._onset_ms is not None and end - self._voiced_end_ms >= settings.hangover_ms:
            events = (self._close(end),)
        return events

    def _close(self, decided_at_ms: float) -> SegmentEnd:
        assert self._onset_ms is not None
        duration = self._voiced_end_ms - self._onset_ms
        event = SegmentEnd(
            onset_ms=self._onset_ms,
            end_ms=self._voiced_end_ms,
            decided_at_ms=decided_at_ms,
            mean_rms=self._rms_sum / self._voiced,
            peak_rms=self._rms_peak,
            voiced_frames=self._voiced,
            is_utterance=duration >= self.settings.min_voice_ms,
        )
        self._onset_ms = None
        self._rms_sum = 0.0
        self._rms_peak = 0.0
        self._voiced = 0
        return event
