"""The VAD state machine: exact onsets and ends on synthetic frames, and its invariants under Hypothesis."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from actors.codec import FRAME_BYTES, pcm16_to_ulaw, quiet_codes, ulaw_rms, ulaw_rms_over, ulaw_to_pcm16
from actors.vad import SegmentEnd, SpeechOnset, Vad, VadEvent, VadSettings
from callrt.sim.signals import noise_frames, silence_frames, speech_frames


def run_frames(vad: Vad, rms_values: list[float], step_ms: float = 20.0) -> list[VadEvent]:
    events: list[VadEvent] = []
    for index, rms in enumerate(rms_values):
        events.extend(vad.push(index * step_ms, rms))
    return events


def payload_rms(frames: list[bytes]) -> list[float]:
    return [ulaw_rms(frame) for frame in frames]


def test_utterance_onset_and_end_are_exact() -> None:
    # 1 s silence, 1.2 s voice, 1 s silence.
    rms = [30.0] * 50 + [2000.0] * 60 + [30.0] * 50
    events = run_frames(Vad(), rms)
    assert events[0] == SpeechOnset(at_ms=1000.0, rms=2000.0)
    end = events[1]
    assert isinstance(end, SegmentEnd)
    assert (end.onset_ms, end.end_ms, end.decided_at_ms) == (1000.0, 2200.0, 2800.0)
    assert end.duration_ms == 1200.0 and end.silence_ms == 600.0
    assert end.is_utterance and end.mean_rms == 2000.0 and end.voiced_frames == 60
    assert len(events) == 2


def test_short_voiced_burst_is_noise() -> None:
    rms = [30.0] * 10 + [900.0] * 15 + [30.0] * 40  # 300 ms
    events = run_frames(Vad(), rms)
    end = events[1]
    assert isinstance(end, SegmentEnd)
    assert not end.is_utterance
    assert end.duration_ms == 300.0 and end.onset_ms == 200.0


def test_gap_shorter_than_hangover_stays_in_segment() -> None:
    rms = [2000.0] * 30 + [30.0] * 29 + [2000.0] * 30 + [30.0] * 30  # 580 ms gap < 600 ms hangover
    events = run_frames(Vad(), rms)
    assert [type(e) for e in events] == [SpeechOnset, SegmentEnd]
    end = events[1]
    assert isinstance(end, SegmentEnd) and end.duration_ms == 30 * 20 + 29 * 20 + 30 * 20


def test_gap_of_exactly_the_hangover_splits() -> None:
    rms = [2000.0] * 30 + [30.0] * 30 + [2000.0] * 30
    events = run_frames(Vad(), rms)
    assert [type(e) for e in events] == [SpeechOnset, SegmentEnd, SpeechOnset]
    end = events[1]
    assert isinstance(end, SegmentEnd) and not end.is_utterance and end.duration_ms == 600.0
    assert events[2] == SpeechOnset(at_ms=1200.0, rms=2000.0)


def test_lost_frames_longer_than_hangover_close_the_segment() -> None:
    vad = Vad()
    for index in range(50):
        vad.push(index * 20.0, 2000.0)
    events = vad.push(3000.0, 2000.0)  # 2 s of frames never arrived
    assert len(events) == 2
    end, onset = events
    assert isinstance(end, SegmentEnd) and end.end_ms == 1000.0 and end.decided_at_ms == 1600.0
    assert onset == SpeechOnset(at_ms=3000.0, rms=2000.0)


def test_backwards_timestamps_are_made_monotone() -> None:
    vad = Vad()
    assert vad.push(100.0, 2000.0) == (SpeechOnset(at_ms=100.0, rms=2000.0),)
    vad.push(0.0, 2000.0)  # claims to be earlier: placed at 120 ms
    events: list[VadEvent] = []
    for _ in range(40):
        events.extend(vad.push(0.0, 30.0))
    end = events[0]
    assert isinstance(end, SegmentEnd) and end.end_ms == 140.0


def test_synthetic_signals_through_the_codec() -> None:
    """The simulated caller's signals: speech is one continuous utterance, a cough is noise, the floor is silent."""
    frames = silence_frames(500, seed=1) + speech_frames("hello there", 2000) + silence_frames(1000, seed=2)
    frames += noise_frames("cough", 300, rms=1500.0, seed=3) + silence_frames(1000, seed=4)
    assert all(len(frame) == FRAME_BYTES for frame in frames)
    events = run_frames(Vad(), payload_rms(frames))
    assert [type(e) for e in events] == [SpeechOnset, SegmentEnd, SpeechOnset, SegmentEnd]
    speech_onset, speech_end, noise_onset, noise_end = events
    assert speech_onset.at_ms == 500.0
    assert isinstance(speech_end, SegmentEnd) and speech_end.is_utterance
    assert speech_end.end_ms == 2500.0 and speech_end.duration_ms == 2000.0
    assert isinstance(noise_end, SegmentEnd) and not noise_end.is_utterance
    assert noise_onset.at_ms == 3500.0 and noise_end.duration_ms <= 300.0


def test_codec_rms_of_constant_frame() -> None:
    tone = (np.sin(np.arange(FRAME_BYTES) * 2 * np.pi / 40) * 1000).astype(np.int16)
    assert abs(ulaw_rms(pcm16_to_ulaw(tone)) - 707) < 25


# Codes whose samples lie within a few steps of the floors tried below, on both sides.
NEAR_THE_FLOOR = [code for code in range(256) if 150 <= abs(int(ulaw_to_pcm16(bytes([code]))[0])) <= 400]


@given(
    payload=st.one_of(
        st.binary(max_size=FRAME_BYTES),
        st.lists(st.sampled_from(NEAR_THE_FLOOR)).map(bytes),
    ),
    floor=st.floats(min_value=0.0, max_value=9000.0) | st.sampled_from([260.0, 250.0, 300.0]),
)
@example(payload=pcm16_to_ulaw(np.full(FRAME_BYTES, 260, dtype=np.int16)), floor=260.0)  # exactly at the floor
def test_rms_gate_decides_as_the_rms_does(payload: bytes, floor: float) -> None:
    gated, exact = ulaw_rms_over(payload, quiet_codes(floor)), ulaw_rms(payload)
    assert (gated >= floor) == (exact >= floor)
    assert gated in (exact, 0.0)
    if exact >= floor:
        assert gated == exact


def test_rms_gate_skips_the_line_floor_but_not_speech() -> None:
    quiet = quiet_codes(260.0)
    assert all(ulaw_rms_over(frame, quiet) == 0.0 for frame in silence_frames(2000.0))
    assert all(ulaw_rms_over(frame, quiet) == ulaw_rms(frame) for frame in speech_frames("hello there", 1000.0))


# -- invariants ---------------------------------------------------------------------------------------

voicing = st.lists(st.booleans(), min_size=0, max_size=400)
vad_settings = st.builds(
    VadSettings,
    min_voice_ms=st.sampled_from([800.0, 900.0, 1000.0]),
    hangover_ms=st.sampled_from([200.0, 400.0, 600.0, 610.0]),
)


def reference_segments(voiced: list[bool], hangover_ms: float) -> list[tuple[int, int, bool]]:
    """Runs of voiced frames merged across gaps shorter than the hangover: (first, last, closed)."""
    runs: list[list[int]] = []
    for index, is_voiced in enumerate(voiced):
        if not is_voiced:
            continue
        if runs and (index - runs[-1][1] - 1) * 20.0 < hangover_ms:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    segments = []
    for first, last in runs:
        trailing = len(voiced) - last - 1
        closed = trailing * 20.0 >= hangover_ms
        segments.append((first, last, closed))
    return segments


@settings(max_examples=300, deadline=None)
@given(voiced=voicing, config=vad_settings)
def test_segments_match_reference(voiced: list[bool], config: VadSettings) -> None:
    events = run_frames(Vad(config), [2000.0 if v else 10.0 for v in voiced])
    onsets = [e for e in events if isinstance(e, SpeechOnset)]
    ends = [e for e in events if isinstance(e, SegmentEnd)]
    expected = reference_segments(voiced, config.hangover_ms)
    assert [o.at_ms for o in onsets] == [first * 20.0 for first, _, _ in expected]
    closed = [(first, last) for first, last, is_closed in expected if is_closed]
    assert [(e.onset_ms, e.end_ms) for e in ends] == [(f * 20.0, (last + 1) * 20.0) for f, last in closed]


@settings(max_examples=300, deadline=None)
@given(rms=st.lists(st.floats(min_value=0, max_value=8000), max_size=300), config=vad_settings)
def test_invariants(rms: list[float], config: VadSettings) -> None:
    events = run_frames(Vad(config), rms)
    open_onset: SpeechOnset | None = None
    last_time = float("-inf")
    for event in events:
        if isinstance(event, SpeechOnset):
            assert open_onset is None, "two onsets without an end between them"
            open_onset = event
            assert event.at_ms >= last_time
            last_time = event.at_ms
        else:
            assert open_onset is not None, "an end without an onset"
            assert event.onset_ms == open_onset.at_ms
            assert event.end_ms > event.onset_ms and event.decided_at_ms >= event.end_ms + config.hangover_ms
            assert event.is_utterance == (event.duration_ms >= config.min_voice_ms)
            assert event.peak_rms >= event.mean_rms >= config.threshold
            assert event.decided_at_ms >= last_time
            last_time = event.decided_at_ms
            open_onset = None
