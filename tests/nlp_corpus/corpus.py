"""Loads the NLP corpus: every `*.jsonl` here, one case per line.

A case is `{"text": …}` or `{"history": [{"role", "text"}, …]}`, an optional `now`
(default `DEFAULT_NOW`), and `expect`: the action's fields other than `start`,
which is checked for consistency instead of being written by hand.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs

from actors.messages import HistoryTurn

CORPUS_DIR = Path(__file__).parent
DEFAULT_NOW = dt.datetime.fromisoformat("2026-11-24T10:00:00+02:00")  # a Tuesday
TIMEZONE = "Asia/Jerusalem"


@attrs.frozen
class Case:
    source: str
    history: tuple[HistoryTurn, ...]
    now: dt.datetime
    expect: dict[str, Any]

    @property
    def is_conversation(self) -> bool:
        return len(self.history) > 1

    @property
    def label(self) -> str:
        return f"{self.source}: " + " | ".join(turn.text for turn in self.history)


def load_corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS_DIR.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            data = json.loads(line)
            if "history" in data:
                history = tuple(HistoryTurn(turn["role"], turn["text"]) for turn in data["history"])
            else:
                history = (HistoryTurn("user", data["text"]),)
            now = dt.datetime.fromisoformat(data["now"]) if "now" in data else DEFAULT_NOW
            cases.append(Case(f"{path.name}:{number}", history, now, data["expect"]))
    return cases
