"""The simulated model's voice: deterministic, speech-like audio for a reply text.

Not speech, but shaped like it where the call pipeline looks: a voiced tone
(fundamental plus harmonics, a slowly gliding pitch) under a syllable-rate
envelope with short gaps between words, about 60 ms per character (at least
600 ms), RMS around 2000 PCM16 units. The same text always gives the same
samples. Output is G.711 mu-law at 8 kHz or PCM16 at 24 kHz, the two formats
the Realtime API streams to a phone bridge.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np
import numpy.typing as npt

from actors.codec import pcm16_to_ulaw

MS_PER_CHAR = 60
MIN_MS = 600
TARGET_RMS = 2000.0

_HARMONICS = np.array([1.0, 0.55, 0.3, 0.18, 0.1])


def speech_duration_ms(text: str) -> int:
    return max(MIN_MS, MS_PER_CHAR * len(text))


def speech_pcm16(text: str, sample_rate: int = 8000) -> npt.NDArray[np.int16]:
    """PCM16 samples of the spoken `text` (deterministic in the text)."""
    n = speech_duration_ms(text) * sample_rate // 1000
    seed = zlib.crc32(text.encode("utf-8"))
    t = np.arange(n, dtype=np.float64) / sample_rate
    # A female-ish voice: 190-230 Hz fundamental, gliding at ~0.7 Hz like sentence intonation.
    f0 = 210.0 + 20.0 * np.sin(2 * np.pi * 0.7 * t + (seed % 628) / 100.0)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = (_HARMONICS[:, None] * np.sin(np.arange(1, len(_HARMONICS) + 1)[:, None] * phase[None, :])).sum(axis=0)
    # Syllables at ~4.5 Hz; word gaps where the character under the cursor is a space.
    syllables = 0.35 + 0.65 * np.abs(np.sin(np.pi * 4.5 * t + (seed % 314) / 100.0))
    char_index = np.minimum((t * 1000 / MS_PER_CHAR).astype(np.int64), max(len(text) - 1, 0))
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) if text else np.zeros(1, np.uint32)
    is_gap = codepoints[char_index] == ord(" ")
    envelope = np.where(is_gap, 0.08, syllables)
    ramp = min(n // 2, sample_rate // 50)  # 20 ms fade in and out, no clicks
    if ramp:
        envelope[:ramp] *= np.linspace(0.0, 1.0, ramp)
        envelope[-ramp:] *= np.linspace(1.0, 0.0, ramp)
    signal = voiced * envelope
    rms = float(np.sqrt(np.mean(signal**2))) or 1.0
    samples: npt.NDArray[np.int16] = np.clip(signal * (TARGET_RMS / rms), -32768, 32767).astype(np.int16)
    return samples


@functools.lru_cache(maxsize=256)
def speech_audio(text: str, audio_format: str) -> bytes:
    """The reply audio in the session's output format: `g711_ulaw` / `audio/pcmu`, or `pcm16` / `audio/pcm`.

    Cached: a peer serving hundreds of calls says the same few replies again and again, and synthesising
    them was a third of its CPU under `callrt bench`."""
    if audio_format in ("g711_ulaw", "audio/pcmu"):
        return pcm16_to_ulaw(speech_pcm16(text, 8000))
    return speech_pcm16(text, 24000).astype("<i2").tobytes()


def bytes_per_ms(audio_format: str) -> int:
    """Audio bytes per millisecond: 8 for 8 kHz mu-law, 48 for 24 kHz PCM16."""
    return 8 if audio_format in ("g711_ulaw", "audio/pcmu") else 48
