"""Per-call tunables, with the product spec's defaults. All times in milliseconds."""

from __future__ import annotations

import attrs

from .defaults import DEFAULT_TRANSCRIPTION_MODEL


@attrs.frozen
class CallConfig:
    # Turn-taking (AudioActor)
    vad_threshold: float = 260.0
    barge_in_rms_threshold: float = 260.0
    min_voice_ms: float = attrs.field(default=800.0)
    barge_in_min_ms: float = 200.0
    hangover_ms: float = 600.0
    """Silence after voice before an utterance is considered ended."""
    caller_audio_batch_ms: float = 100.0
    """Caller audio is appended to the model in batches of this length (and flushed at utterance end)."""
    # Silence ladder (AudioActor measures, RealtimeActor decides)
    silence_timeout_ms: float = 15_000.0
    goodbye_after_ms: float = 15_000.0
    # Model session (RealtimeActor)
    voice: str = "shimmer"
    temperature: float = 0.6
    model_max_session_s: float = 25 * 60.0
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    """CALLRT_TRANSCRIPTION_MODEL overrides it (docs/realtime.md, "Models")."""
    server_vad: bool = False
    first_audio_timeout_ms: float = 5000.0
    """A response with no audio this long after `response.create` (or a session not acknowledged this long
    after `session.update`) means a frozen model: the connection is recycled, then the model given up."""
    opening_wait_ms: float = 1500.0
    """A model not ready to speak this long after the actor started: the runtime says the opening in the
    business's recorded words (when it has them) rather than leave the caller in silence."""
    max_call_s: float = 30 * 60.0
    """No call lives forever: at this age the caller hears the goodbye and the call ends."""
    # Mailboxes
    audio_mailbox_capacity: int = 250
    """Inbound frames buffered for the AudioActor (5 s at 20 ms); beyond it the oldest is dropped."""

    @min_voice_ms.validator
    def _check_min_voice(self, _attribute: attrs.Attribute[float], value: float) -> None:
        if not 800.0 <= value <= 1000.0:
            raise ValueError(f"min_voice_ms must be within 800..1000 ms, got {value}")
