"""Peer-controlled text for log lines: `escape_for_log` (defined in actors.text_safety, which the
actors use too; this is the name the rest of callrt imports it by)."""

from actors.text_safety import ELLIPSIS, escape_for_log

__all__ = ["ELLIPSIS", "escape_for_log"]
