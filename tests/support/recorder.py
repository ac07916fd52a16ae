"""A recorder for the RealtimeActor's state machines: what they report, as a plain list."""

from __future__ import annotations

from typing import Any


class Recorded:
    """Collects `(what, fields)` reports and call-log lines."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lines: list[str] = []

    def __call__(self, what: str, /, **fields: Any) -> None:
        self.events.append((what, fields))

    def log(self, line: str) -> None:
        self.lines.append(line)

    def whats(self) -> list[str]:
        return [what for what, _ in self.events]
