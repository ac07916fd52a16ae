"""A business's recording of one of the runtime's lines, as a file: checked and turned into telephone audio.

Accepted: a WAV file (RIFF/WAVE) of 8 kHz mono audio, G.711 mu-law or 16-bit PCM (converted to mu-law),
or headerless mu-law 8 kHz mono (`.ulaw`, `.ul`). Anything else is refused with one line saying what the
file is and what is wanted: nothing is resampled or mixed down, so what the caller hears is what the
business recorded. The length bound is the store's (`store.voice_lines.MAX_AUDIO_MS`).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from actors.codec import SAMPLE_RATE, pcm16_to_ulaw
from store import CallrtError
from store.voice_lines import MAX_AUDIO_BYTES

RAW_SUFFIXES = (".ulaw", ".ul")
MAX_FILE_BYTES = 2 * MAX_AUDIO_BYTES + 4096
"""Read at most this much: PCM16 of the longest line, and room for a header."""
_PCM = 1
_MULAW = 7
_EXTENSIBLE = 0xFFFE


class InvalidRecording(CallrtError, ValueError):
    """A recording callrt cannot play to a caller as it is; the message says why."""


def read_recording(path: Path) -> bytes:
    """The file's audio as mu-law 8 kHz mono, or `InvalidRecording`."""
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidRecording(f"{path.name}: too large for a line (at most {MAX_AUDIO_BYTES // 8000} s)")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return wav_to_ulaw(data, path.name)
    if path.suffix.lower() in RAW_SUFFIXES:
        return data
    raise InvalidRecording(f"{path.name}: not a WAV file nor raw mu-law (.ulaw); record 8 kHz mono WAV")


def wav_to_ulaw(data: bytes, name: str = "the file") -> bytes:
    """A WAV file's audio as mu-law: it must be 8 kHz mono, mu-law or 16-bit PCM."""
    fmt, audio = _chunks(data, name)
    if len(fmt) < 16:
        raise InvalidRecording(f"{name}: a WAV file without a usable format chunk")
    encoding, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", fmt)
    if encoding == _EXTENSIBLE and len(fmt) >= 26:
        (encoding,) = struct.unpack_from("<H", fmt, 24)  # the sub-format GUID starts with the format code
    wanted = "record 8 kHz mono WAV, mu-law or 16-bit PCM"
    if channels != 1 or rate != SAMPLE_RATE:
        raise InvalidRecording(f"{name}: {rate} Hz, {channels} channel(s); {wanted}")
    if encoding == _MULAW and bits == 8:
        return audio
    if encoding == _PCM and bits == 16:
        samples = np.frombuffer(audio[: len(audio) // 2 * 2], dtype="<i2").astype(np.int16)
        return pcm16_to_ulaw(samples)
    raise InvalidRecording(f"{name}: WAV format {encoding} with {bits}-bit samples; {wanted}")


def _chunks(data: bytes, name: str) -> tuple[bytes, bytes]:
    """The `fmt ` and `data` chunks of a RIFF/WAVE file."""
    found: dict[bytes, bytes] = {}
    position = 12
    while position + 8 <= len(data) and len(found) < 2:
        chunk_id, size = struct.unpack_from("<4sI", data, position)
        body = data[position + 8 : position + 8 + size]
        if chunk_id in (b"fmt ", b"data"):
            found.setdefault(chunk_id, body)
        position += 8 + size + (size & 1)  # chunks are padded to an even size
    if b"fmt " not in found or b"data" not in found:
        raise InvalidRecording(f"{name}: a WAV file without its format or data chunk")
    return found[b"fmt "], found[b"data"]
