"""How the simulated peer streams one response: the pacing, the cancel a pause can catch, and the plan
of audio deltas with the transcript pieces due before each. `PeerSession` sends what is planned here."""

from __future__ import annotations

import itertools
import re

import attrs
import trio

from callrt.sim.peer_voice import bytes_per_ms, speech_audio, speech_duration_ms

CHUNK_MS = 100
"""Audio per `*.audio.delta`."""
CHUNK_INTERVAL_S = 0.010
"""Pause between deltas: 100 ms of audio every 10 ms, ten times real time, as the service streams."""


@attrs.define
class ActiveResponse:
    id: str
    cancel_requested: trio.Event = attrs.field(factory=trio.Event)
    cancel_reason: str = "client_cancelled"
    """`client_cancelled` (`response.cancel`) or `turn_detected` (the server VAD heard the caller)."""

    def cancel(self, reason: str) -> None:
        self.cancel_reason = reason
        self.cancel_requested.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_requested.is_set()

    async def pause(self) -> bool:
        """Wait one delta interval; True when a cancel arrived meanwhile (or before)."""
        with trio.move_on_after(CHUNK_INTERVAL_S):
            await self.cancel_requested.wait()
        return self.cancelled


def text_pieces(text: str) -> list[str]:
    """Transcript deltas: each word with the whitespace before it, as the service streams them."""
    return re.findall(r"\s*\S+", text) or [text]


def audio_plan(text: str, audio_format: str) -> list[tuple[list[str], bytes]]:
    """The reply's audio in `CHUNK_MS` deltas, each with the transcript pieces to send just before it.

    A piece is due when the audio reaches the first character it covers, so the transcript runs a
    little ahead of the audio, as the service's does; pieces due after the audio ends are never sent."""
    audio = speech_audio(text, audio_format)
    chunk_bytes = CHUNK_MS * bytes_per_ms(audio_format)
    pieces = text_pieces(text)
    starts = list(itertools.accumulate((len(p) for p in pieces), initial=0))[:-1]
    total_ms = speech_duration_ms(text)
    due_ms = [start / max(len(text), 1) * total_ms for start in starts]
    plan: list[tuple[list[str], bytes]] = []
    next_piece = 0
    for offset in range(0, len(audio), chunk_bytes):
        chunk_end_ms = (offset + chunk_bytes) / bytes_per_ms(audio_format)
        due: list[str] = []
        while next_piece < len(pieces) and due_ms[next_piece] < chunk_end_ms:
            due.append(pieces[next_piece])
            next_piece += 1
        plan.append((due, audio[offset : offset + chunk_bytes]))
    return plan
