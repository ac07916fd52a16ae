"""The runtime's own lines: the words the caller hears when the model cannot speak them.

When the model is refused, unreachable or frozen, the caller still hears a short apology and the
handoff line, then the call ends politely; a call ended by the server (its maximum duration, a
drain) ends with a goodbye. These lines are audio the runtime keeps (docs/audio.md, "The runtime's
own lines"): a recording the business uploaded, else what the model said the first time it spoke
the line for this business and voice, else a pre-recorded prompt packaged with callrt (generated
offline with espeak-ng, mu-law 8 kHz), one per language. No I/O but reading the package's files.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

from .codec import ULAW_BYTES_PER_MS
from .defaults import Language

RuntimeLine = Literal["handoff", "goodbye"]
RUNTIME_LINES: tuple[RuntimeLine, ...] = ("handoff", "goodbye")
CHUNK_BYTES = 100 * ULAW_BYTES_PER_MS
"""Runtime audio goes to the AudioActor in 100 ms chunks, like the model's deltas."""


@functools.cache
def packaged_line(line: RuntimeLine, language: Language) -> bytes:
    """The pre-recorded prompt shipped with callrt (mu-law 8 kHz mono, no header)."""
    return resources.files("actors").joinpath("prompts", f"{line}-{language}.ulaw").read_bytes()


def chunks(audio: bytes) -> list[bytes]:
    return [audio[start : start + CHUNK_BYTES] for start in range(0, len(audio), CHUNK_BYTES)]


def duration_ms(audio: bytes) -> float:
    return len(audio) / ULAW_BYTES_PER_MS
