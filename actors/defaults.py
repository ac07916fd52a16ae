"""The runtime's defaults, one place each: the Realtime dialect, the call language, and the models calls use.

The defaults are models the installed openai SDK lists without an announced shutdown
(`callrt.model.deprecations` reads those announcements; a test fails when a default appears in them).
`CALLRT_OPENAI_MODEL` / `CALLRT_TRANSCRIPTION_MODEL` (and a business's own settings) override them.
"""

from __future__ import annotations

from typing import Final, Literal

Dialect = Literal["beta", "ga"]
DIALECTS: Final[tuple[Dialect, ...]] = ("beta", "ga")
DEFAULT_DIALECT: Final[Dialect] = "ga"
"""The beta interface is deprecated since the GA release: GA unless asked otherwise."""

Language = Literal["he", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("he", "en")
DEFAULT_LANGUAGE: Final[Language] = "he"

DEFAULT_REALTIME_MODELS: Final[dict[Dialect, str]] = {"beta": "gpt-4o-realtime-preview", "ga": "gpt-realtime-1.5"}
"""GA: `gpt-realtime-1.5`, the non-reasoning successor of `gpt-realtime` (shutdown announced for 2027-01-20).
Beta: its only model family; the whole beta interface is deprecated, so the GA dialect is the default."""
DEFAULT_TRANSCRIPTION_MODEL: Final = "gpt-realtime-whisper"
"""The SDK's transcription model for GA Realtime sessions (`whisper-1` has a shutdown announced for 2027-02-26)."""
REPLACEMENT_REALTIME_MODEL: Final = DEFAULT_REALTIME_MODELS["ga"]
"""Where the session-refusal fallback goes when the service refuses a configured Realtime model."""
REPLACEMENT_TRANSCRIPTION_MODEL: Final = "gpt-live-transcribe"
"""Where the fallback goes when the service refuses the configured transcription model (itself, if it
was the default): the SDK's other current transcription model."""
