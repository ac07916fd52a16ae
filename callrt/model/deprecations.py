"""The shutdowns the installed openai SDK announces for the models callrt may use.

The SDK documents them in its type definitions ("Deprecated values: - "gpt-realtime", …: Announced
shutdown date: 2027-01-20."), next to the model names: the Realtime session's `model`, the input
transcription's `model`, and the chat models (the NLP extractor). They are read from the SDK's
source, so upgrading the SDK updates them: `callrt serve` warns about a configured model shut down
within `WARN_WITHIN_DAYS`, and a test fails when one of our defaults appears among them.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import re
from pathlib import Path

WARN_WITHIN_DAYS = 90

SDK_MODEL_DOCS = (
    "openai.types.realtime.realtime_session_create_request_param",
    "openai.types.realtime.audio_transcription_param",
    "openai.types.shared.chat_model",
)
"""The SDK modules whose docstrings list the deprecated Realtime, transcription and chat models."""

_ENTRY = re.compile(r"-\s+((?:\"[^\"]+\",?\s*)+):\s*Announced\s+shutdown\s+date:\s*(\d{4}-\d{2}-\d{2})")
_NAME = re.compile(r"\"([^\"]+)\"")


def parse_shutdowns(text: str) -> dict[str, dt.date]:
    """Every `- "model", "model": Announced shutdown date: YYYY-MM-DD` entry of an SDK source text."""
    shutdowns: dict[str, dt.date] = {}
    flat = re.sub(r"\s+", " ", text)
    for names, date in _ENTRY.findall(flat):
        when = dt.date.fromisoformat(date)
        for name in _NAME.findall(names):
            shutdowns[name] = min(when, shutdowns.get(name, when))
    return shutdowns


@functools.cache
def sdk_shutdowns() -> dict[str, dt.date]:
    """Model name -> announced shutdown date, as the installed SDK documents them."""
    shutdowns: dict[str, dt.date] = {}
    for module in SDK_MODEL_DOCS:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"the installed openai SDK has no {module}: cannot read its deprecations")
        for name, when in parse_shutdowns(Path(spec.origin).read_text(encoding="utf-8")).items():
            shutdowns[name] = min(when, shutdowns.get(name, when))
    return shutdowns


def shutdown_warnings(models: dict[str, str], today: dt.date, within_days: int = WARN_WITHIN_DAYS) -> list[str]:
    """One line per configured model (`role -> name`) whose announced shutdown is at most `within_days` away."""
    lines = []
    for role, name in models.items():
        when = sdk_shutdowns().get(name)
        if when is not None and (when - today).days <= within_days:
            left = (when - today).days
            status = f"was shut down on {when}" if left < 0 else f"shuts down on {when} ({left} days)"
            lines.append(f"the {role} model {name!r} {status}; configure a current model (docs/realtime.md)")
    return lines
