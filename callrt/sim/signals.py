"""Deterministic caller sounds for the simulated caller, as 20 ms mu-law frames.

* speech: voiced harmonics (f0 gliding within 120-220 Hz) under a syllable-rate
  (4-5 Hz) envelope, at speech level (RMS about 2500). The envelope never dips
  below a third of its peak, so a `say` is one continuous utterance for the
  VAD (no syllable gap can reach the hangover) and its onset is its first frame.
* noises at a given RMS: cough (a decaying broadband burst), click (sparse
  impulses), hum (mains 50 Hz with harmonics), breath (band-limited noise under
  a slow swell).
* silence: a low line-noise floor, RMS about 30.

Everything is a pure function of its arguments (the text or seed picks the
voice), built with numpy in one go per step, never per sample in Python.
"""

from __future__ import annotations

import zlib
from typing import Literal

import numpy as np
import numpy.typing as npt

from actors.codec import FRAME_BYTES, SAMPLE_RATE, pcm16_to_ulaw

NoiseKind = Literal["cough", "click", "hum", "breath"]
NOISE_KINDS: tuple[NoiseKind, ...] = ("cough", "click", "hum", "breath")

SPEECH_RMS = 2500.0
FLOOR_RMS = 30.0

Samples = npt.NDArray[np.float64]


def _sample_count(ms: float) -> int:
    """Whole frames only: a step of `ms` lasts ceil(ms / 20) frames."""
    frames = max(0, -(-int(ms) // 20))
    return frames * FRAME_BYTES


def _frames(samples: Samples) -> list[bytes]:
    clipped = np.clip(np.round(samples), -32768, 32767).astype(np.int16)
    encoded = pcm16_to_ulaw(clipped)
    return [encoded[i : i + FRAME_BYTES] for i in range(0, len(encoded), FRAME_BYTES)]


def _scale_to_rms(samples: Samples, rms: float) -> Samples:
    current = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    return samples * (rms / current) if current > 0 else samples


def speech_samples(text: str, ms: float, rms: float = SPEECH_RMS) -> Samples:
    n = _sample_count(ms)
    seed = zlib.crc32(text.encode("utf-8"))
    f0_base = 120.0 + (seed % 60)  # 120..179 Hz, a voice per text
    syllable_hz = 4.0 + (seed >> 8) % 100 / 100.0  # 4..5 Hz
    t = np.arange(n) / SAMPLE_RATE
    # Intonation: f0 wanders by up to 40 Hz (stays within 120-220 Hz); phase is its integral.
    f0 = f0_base + 20.0 * (1.0 + np.sin(2 * np.pi * 0.7 * t + (seed % 7)))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    harmonics = np.sum([np.sin(k * phase) / k for k in range(1, 9)], axis=0)
    envelope = 0.35 + 0.65 * (0.5 - 0.5 * np.cos(2 * np.pi * syllable_hz * t))
    return _scale_to_rms(harmonics * envelope, rms)


def noise_samples(kind: NoiseKind, ms: float, rms: float, seed: int = 0) -> Samples:
    n = _sample_count(ms)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    if kind == "cough":
        burst = rng.normal(0.0, 1.0, n)
        samples = burst * np.exp(-t / max(ms / 1000.0 / 3.0, 1e-3))
    elif kind == "click":
        samples = np.zeros(n)
        period = SAMPLE_RATE // 25  # 25 clicks a second, each 1 ms
        for start in range(0, n, period):
            samples[start : start + 8] = rng.choice([-1.0, 1.0]) * np.hanning(10)[1:9][: n - start]
    elif kind == "hum":
        samples = np.sum([np.sin(2 * np.pi * 50.0 * k * t) / k for k in (1, 2, 3)], axis=0)
    else:  # breath
        white = rng.normal(0.0, 1.0, n)
        smoothed = np.convolve(white, np.ones(4) / 4.0, mode="same")
        samples = smoothed * np.sin(np.pi * np.arange(n) / max(n, 1))
    return _scale_to_rms(np.asarray(samples, dtype=np.float64), rms)


def floor_samples(ms: float, seed: int = 0, rms: float = FLOOR_RMS) -> Samples:
    return np.random.default_rng(seed).normal(0.0, rms, _sample_count(ms))


def speech_frames(text: str, ms: float, rms: float = SPEECH_RMS) -> list[bytes]:
    return _frames(speech_samples(text, ms, rms))


def noise_frames(kind: NoiseKind, ms: float, rms: float, seed: int = 0) -> list[bytes]:
    return _frames(noise_samples(kind, ms, rms, seed))


def silence_frames(ms: float, seed: int = 0) -> list[bytes]:
    return _frames(floor_samples(ms, seed))
