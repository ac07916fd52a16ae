"""The caller segmenter without trio: utterances and noise, pre-roll and batches, the barge-in decision."""

from __future__ import annotations

import attrs
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from actors.caller_segmenter import BargeInDecided, CallerEvent, CallerSegmenter, SegmentClosed
from actors.codec import FRAME_BYTES, pcm16_to_ulaw, ulaw_rms
from actors.config import CallConfig
from actors.messages import CallerAudio, NoiseIgnored, UtteranceEnded, UtteranceStarted

CONFIG = CallConfig()
LOUD, MURMUR, QUIET = 2000, 150, 0  # sample amplitudes: voiced, under the threshold but not silent, silent


def frame(amplitude: int) -> bytes:
    return pcm16_to_ulaw(np.full(FRAME_BYTES, amplitude, dtype=np.int16))


@attrs.frozen
class Playback:
    playing: bool


def segmenter(config: CallConfig = CONFIG) -> CallerSegmenter:
    segmenter = CallerSegmenter(config)
    segmenter.anchor(timestamp_ms=0, received_call_ms=20.0)  # the stream's clock is the call's
    return segmenter


def push(
    seg: CallerSegmenter, amplitudes: list[int], *, ai_playing: bool = False, first: int = 0
) -> list[tuple[int, CallerEvent]]:
    """(frame index, event) for every event, the frames 20 ms apart, each received at its index in seconds."""
    return [
        (index, event)
        for index, amplitude in enumerate(amplitudes, start=first)
        for event in seg.push(frame(amplitude), index * 20, float(index), Playback(ai_playing))
    ]


def of_type(events: list[tuple[int, CallerEvent]], kind: type) -> list[CallerEvent]:
    return [event for _, event in events if isinstance(event, kind)]


def test_an_utterance_gets_its_pre_roll_its_voice_and_its_hangover_in_batches() -> None:
    seg = segmenter()
    events = push(seg, [MURMUR] * 10 + [LOUD] * 60 + [QUIET] * 30)
    assert of_type(events, UtteranceStarted) == [UtteranceStarted(at_ms=200.0, rms=round(ulaw_rms(frame(LOUD)), 1))]
    [closed] = of_type(events, SegmentClosed)
    assert isinstance(closed, SegmentClosed) and closed.end.is_utterance
    assert closed.message == UtteranceEnded(
        at_ms=1400.0, duration_ms=1200.0, rms=round(ulaw_rms(frame(LOUD)), 1), silence_ms=600.0
    )
    # The frame that closes the segment is the first of the next pre-roll: 29 hangover frames are sent.
    audio = b"".join(event.payload for event in of_type(events, CallerAudio) if isinstance(event, CallerAudio))
    assert audio == frame(MURMUR) * 10 + frame(LOUD) * 60 + frame(QUIET) * 29
    assert closed.audio_bytes == len(audio) and not seg.in_segment
    batches = [len(event.payload) for event in of_type(events, CallerAudio) if isinstance(event, CallerAudio)]
    assert all(size == 800 for size in batches[:-1]) and 0 < batches[-1] <= 800
    # The rest of the last batch is flushed right before the segment closes, on the same frame.
    assert [type(event) for index, event in events if index == 99] == [CallerAudio, SegmentClosed]


def test_a_short_voiced_burst_is_noise_and_its_unsent_audio_is_dropped() -> None:
    seg = segmenter()
    events = push(seg, [QUIET] * 5 + [LOUD] * 15 + [QUIET] * 31)
    [closed] = of_type(events, SegmentClosed)
    assert isinstance(closed, SegmentClosed) and not closed.end.is_utterance
    assert closed.message == NoiseIgnored(
        at_ms=100.0, duration_ms=300.0, rms=round(ulaw_rms(frame(LOUD)), 1), interrupted_ai=False
    )
    sent = sum(len(event.payload) for event in of_type(events, CallerAudio) if isinstance(event, CallerAudio))
    assert sent < closed.audio_bytes == (5 + 15 + 29) * FRAME_BYTES
    # The next segment starts with its own pre-roll, nothing left over from the noise.
    later = push(seg, [MURMUR] * 10 + [LOUD] * 5, first=51)
    first_batch = of_type(later, CallerAudio)[0]
    assert isinstance(first_batch, CallerAudio) and first_batch.payload == frame(MURMUR) * 5


def test_barge_in_once_the_voice_has_lasted_barge_in_min_ms_over_ai_audio() -> None:
    seg = segmenter()
    events = push(seg, [QUIET] * 10 + [LOUD] * 40 + [QUIET] * 30, ai_playing=True)
    barges = [(index, event) for index, event in events if isinstance(event, BargeInDecided)]
    # Onset on frame 10; its tenth loud frame (200 ms) decides, once per segment.
    assert barges == [(19, BargeInDecided(speech_at_ms=200.0, onset_received_at=10.0))]


def test_no_barge_in_without_ai_audio_and_at_once_when_it_starts() -> None:
    seg = segmenter()
    assert of_type(push(seg, [LOUD] * 30), BargeInDecided) == []
    events = push(seg, [MURMUR] * 3 + [LOUD] * 2, ai_playing=True, first=30)
    # The murmur inside the segment does not count toward a barge-in, the next loud frame decides.
    assert [index for index, event in events if isinstance(event, BargeInDecided)] == [33]


def test_a_noise_that_barged_in_says_it_interrupted_the_ai() -> None:
    config = CallConfig(barge_in_min_ms=100.0)
    seg = segmenter(config)
    [closed] = of_type(push(seg, [LOUD] * 15 + [QUIET] * 30, ai_playing=True), SegmentClosed)
    assert isinstance(closed, SegmentClosed) and closed.barged_in
    assert isinstance(closed.message, NoiseIgnored) and closed.message.interrupted_ai


def test_the_first_frame_anchors_the_stream_to_the_call_clock() -> None:
    seg = CallerSegmenter(CONFIG)
    assert seg.stream_to_call_ms is None
    seg.anchor(timestamp_ms=5000, received_call_ms=1234.5)  # a stream that started before the call
    assert seg.stream_to_call_ms == 1234.5 - 20 - 5000
    [started] = [
        event
        for event in seg.push(frame(LOUD), 5000, 0.0, Playback(playing=False))
        if isinstance(event, UtteranceStarted)
    ]
    assert started.at_ms == 1214.5


@given(
    frames=st.lists(st.tuples(st.sampled_from([LOUD, MURMUR, QUIET]), st.booleans()), max_size=400),
    min_voice_ms=st.sampled_from([800.0, 900.0, 1000.0]),
)
def test_segments_utterances_and_barge_ins_keep_their_rules(
    frames: list[tuple[int, bool]], min_voice_ms: float
) -> None:
    """A segment shorter than min voice never becomes an utterance; an utterance's model audio is all of its
    audio, a noise's at most; no audio goes out between segments; a barge-in comes at most once a segment,
    only over AI audio, and only after `barge_in_min_ms` of loud frames."""
    seg = segmenter(CallConfig(min_voice_ms=min_voice_ms))
    open_segment = False
    sent = 0  # audio sent in the current segment
    loud_frames = 0
    barged = False
    for index, (amplitude, ai_playing) in enumerate(frames):
        events = seg.push(frame(amplitude), index * 20, float(index), Playback(ai_playing))
        for position, event in enumerate(events):
            if isinstance(event, CallerAudio):
                # A pre-roll batch goes out just before the onset it belongs to, in the same frame.
                assert open_segment or any(isinstance(later, UtteranceStarted) for later in events[position:])
                sent += len(event.payload)
            elif isinstance(event, UtteranceStarted):
                assert not open_segment
                open_segment, loud_frames, barged = True, 0, False
            elif isinstance(event, SegmentClosed):
                assert open_segment
                is_utterance = isinstance(event.message, UtteranceEnded)
                assert is_utterance == (event.end.duration_ms >= min_voice_ms)
                assert event.message.duration_ms >= min_voice_ms if is_utterance else True
                assert sent == event.audio_bytes if is_utterance else sent <= event.audio_bytes
                assert event.barged_in == barged
                open_segment, sent = False, 0
            else:
                assert ai_playing and open_segment and not barged
                assert (loud_frames + 1) * 20 >= CONFIG.barge_in_min_ms  # this frame is loud too
                barged = True
        if seg.in_segment and amplitude == LOUD:
            loud_frames += 1
        assert seg.in_segment == open_segment
