"""Text a peer controls, made safe for a log line: one line, visible controls, bounded length.

A caller id, a mark name, a header or a transcript can carry CR/LF (a forged second log line),
other control characters (terminal escapes) or bidi overrides (text that reads differently from
what it is). `escape_for_log` shows each of them as a visible `\\uXXXX` and cuts the result to a
limit, so a log line written with it is exactly one line of what was received. Actors use it
too, so it lives here (actors never import callrt); `callrt.logsafe` re-exports it.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
_UNSAFE = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f"  # C0 and C1 controls, CR and LF among them, and DEL
    "\u061c\u200e\u200f"  # Arabic letter mark, left-to-right and right-to-left marks
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2066-\u2069"  # bidi isolates
    "\u2028\u2029"  # line and paragraph separators
    "]"
)


def _visible(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_for_log(text: str, limit: int = 200) -> str:
    """`text` on one line with every control and bidi character escaped as `\\uXXXX`, and at most
    `limit` characters long (the cut marked with an ellipsis); a backslash is doubled so that an
    escape in the output always means an escaped character."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    escaped = _UNSAFE.sub(_visible, text.replace("\\", "\\\\"))
    if len(escaped) <= limit:
        return escaped
    return escaped[: limit - 1] + ELLIPSIS
