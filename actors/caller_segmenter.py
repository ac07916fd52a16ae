"""The caller segmenter: the caller's frames cut into utterances, noise and barge-ins, and the audio the model gets.

It owns the VAD, the frame energy it is fed, the pre-roll, the batching of caller audio and the barge-in
decision. The AudioActor pushes each frame with the time it was received (trio time, seconds) and the AI
playback (asked whether it is playing only when a barge-in is otherwise due: not a call per frame), and
sends or acts on what `push` returns, in order: `CallerAudio` batches and
`UtteranceStarted` to the RealtimeActor, a `SegmentClosed` (an utterance or noise), a `BargeInDecided`.
Most frames return nothing (an empty tuple, nothing built). Times in the returned messages are on the
call's clock: the first frame anchors the media stream's timestamps to it (`anchor`).

Caller audio to the model: only audio that belongs to a VAD segment is sent: the 200 ms before the onset
(the soft start of the first syllable, below the threshold), the segment itself and its hangover tail, in
batches of `caller_audio_batch_ms`, the rest flushed before the segment closes as an utterance. Between
segments nothing is sent; a pre-roll ring of 10 frames is all that is kept. A segment that ends as noise is
not flushed: `NoiseIgnored` makes the RealtimeActor clear the model's input buffer.

Barge-in: once the segment has had `barge_in_min_ms` of frames loud enough (`barge_in_rms_threshold`)
while AI audio plays, once per segment. The energy of a frame none of whose samples reaches the lower of
the two thresholds is not computed: it cannot be voiced, nor count towards a barge-in.
"""

from __future__ import annotations

import collections
from typing import Protocol

import attrs

from .codec import FRAME_MS, ULAW_BYTES_PER_MS, quiet_codes, ulaw_rms_over
from .config import CallConfig
from .messages import CallerAudio, NoiseIgnored, UtteranceEnded, UtteranceStarted
from .vad import SegmentEnd, SpeechOnset, Vad, VadEvent, VadSettings

PREROLL_FRAMES = 10


@attrs.frozen
class SegmentClosed:
    """A segment ended: `message` says whether as an utterance or as noise."""

    end: SegmentEnd
    message: UtteranceEnded | NoiseIgnored
    onset_at_ms: float
    """When the segment began, on the call's clock."""
    audio_bytes: int
    """Caller audio of the segment, its pre-roll included."""
    barged_in: bool


@attrs.frozen
class BargeInDecided:
    """The caller spoke over the AI audio long and loud enough: the AI stops."""

    speech_at_ms: float
    """The segment's onset, on the call's clock."""
    onset_received_at: float
    """When the line received the onset frame (trio time, seconds): the start of the reaction time."""


CallerEvent = CallerAudio | UtteranceStarted | SegmentClosed | BargeInDecided


class AiPlayback(Protocol):
    @property
    def playing(self) -> bool:
        """AI audio is playing at the caller, and the caller may barge in on it."""
        ...


class CallerSegmenter:
    def __init__(self, config: CallConfig) -> None:
        self._vad = Vad(
            VadSettings(
                threshold=config.vad_threshold, min_voice_ms=config.min_voice_ms, hangover_ms=config.hangover_ms
            )
        )
        self._quiet = quiet_codes(min(config.vad_threshold, config.barge_in_rms_threshold))
        """A frame of these codes can neither be voiced nor count towards a barge-in: its RMS is not computed."""
        self._barge_in_rms = config.barge_in_rms_threshold
        self._barge_in_min_ms = config.barge_in_min_ms
        self.stream_to_call_ms: float | None = None
        """Added to a media timestamp gives call time; None until the first frame `anchor`s it."""
        self._onset_at_ms = 0.0
        self._onset_received_at = 0.0
        self._barge_frames = 0
        self._barged_in = False
        self._segment_bytes = 0
        self._preroll: collections.deque[bytes] = collections.deque(maxlen=PREROLL_FRAMES)
        self._batch = bytearray()
        self._batch_bytes = max(1, int(config.caller_audio_batch_ms * ULAW_BYTES_PER_MS))

    @property
    def in_segment(self) -> bool:
        return self._vad.in_segment

    def anchor(self, timestamp_ms: int, received_call_ms: float) -> None:
        """The first frame, stamped `timestamp_ms` on the media stream, was received at `received_call_ms`."""
        self.stream_to_call_ms = received_call_ms - FRAME_MS - timestamp_ms

    def push(
        self, payload: bytes, timestamp_ms: int, received_at: float, playback: AiPlayback
    ) -> tuple[CallerEvent, ...]:
        """One frame of the caller's audio: what it caused, in the order to act on it."""
        rms = ulaw_rms_over(payload, self._quiet)
        vad = self._vad
        decided = vad.push(float(timestamp_ms), rms)
        events = self._on_vad(decided, received_at) if decided else ()
        if vad.in_segment:
            batch = self._append(payload)
            if batch is not None:
                events += (batch,)
            if rms >= self._barge_in_rms:
                self._barge_frames += 1
                if not self._barged_in and self._barge_frames * FRAME_MS >= self._barge_in_min_ms and playback.playing:
                    self._barged_in = True
                    events += (BargeInDecided(self._onset_at_ms, self._onset_received_at),)
        else:
            self._preroll.append(payload)
        return events

    def _on_vad(self, decided: tuple[VadEvent, ...], received_at: float) -> tuple[CallerEvent, ...]:
        events: tuple[CallerEvent, ...] = ()
        for event in decided:
            if isinstance(event, SpeechOnset):
                events += self._on_onset(event, received_at)
            else:
                events += self._on_segment_end(event)
        return events

    def _call_ms(self, stream_ms: float) -> float:
        assert self.stream_to_call_ms is not None, "anchor() comes first"
        return round(stream_ms + self.stream_to_call_ms, 3)

    def _on_onset(self, onset: SpeechOnset, received_at: float) -> tuple[CallerEvent, ...]:
        self._onset_at_ms = self._call_ms(onset.at_ms)
        self._onset_received_at = received_at
        self._barge_frames = 0
        self._barged_in = False
        self._segment_bytes = 0
        events: tuple[CallerEvent, ...] = ()
        # The pre-roll belongs to this segment: the model hears the word's soft start.
        for payload in self._preroll:
            batch = self._append(payload)
            if batch is not None:
                events += (batch,)
        self._preroll.clear()
        return (*events, UtteranceStarted(at_ms=self._onset_at_ms, rms=round(onset.rms, 1)))

    def _append(self, payload: bytes) -> CallerAudio | None:
        """Adds the payload to the batch; the batch, once it is full."""
        self._batch += payload
        self._segment_bytes += len(payload)
        return self._flush() if len(self._batch) >= self._batch_bytes else None

    def _flush(self) -> CallerAudio | None:
        if not self._batch:
            return None
        batch = CallerAudio(payload=bytes(self._batch))
        self._batch.clear()
        return batch

    def _on_segment_end(self, end: SegmentEnd) -> tuple[CallerEvent, ...]:
        rms = round(end.mean_rms, 1)
        message: UtteranceEnded | NoiseIgnored
        if end.is_utterance:
            rest = self._flush()
            message = UtteranceEnded(
                at_ms=self._call_ms(end.end_ms), duration_ms=end.duration_ms, rms=rms, silence_ms=end.silence_ms
            )
        else:
            rest = None
            self._batch.clear()
            message = NoiseIgnored(
                at_ms=self._onset_at_ms, duration_ms=end.duration_ms, rms=rms, interrupted_ai=self._barged_in
            )
        closed = SegmentClosed(end, message, self._onset_at_ms, self._segment_bytes, self._barged_in)
        self._barge_frames = 0
        self._barged_in = False
        return (closed,) if rest is None else (rest, closed)
