"""`escape_for_log`: whatever a peer sends, one visible, bounded log line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.text_safety import ELLIPSIS, escape_for_log
from callrt.logsafe import escape_for_log as reexported


def test_forged_lines_controls_and_bidi_become_visible() -> None:
    forged = "CA1\r\n2026-12-05 INFO callrt: admin logged in"
    assert escape_for_log(forged) == "CA1\\u000d\\u000a2026-12-05 INFO callrt: admin logged in"
    assert escape_for_log("\x1b[2Jgone\x00\x85") == "\\u001b[2Jgone\\u0000\\u0085"
    assert escape_for_log("abc\u202efdp.exe\u2066x\u2069") == "abc\\u202efdp.exe\\u2066x\\u2069"
    assert escape_for_log("שלום, דנה") == "שלום, דנה"  # ordinary right-to-left text stays as it is
    assert escape_for_log("a\\u000ab") == "a\\\\u000ab"  # a literal escape cannot pose as an escaped LF
    assert reexported is escape_for_log


def test_long_text_is_cut_with_a_marker() -> None:
    assert escape_for_log("x" * 1000, limit=10) == "x" * 9 + ELLIPSIS
    assert escape_for_log("x" * 10, limit=10) == "x" * 10


@given(text=st.text(), limit=st.integers(min_value=1, max_value=300))
def test_always_one_bounded_line_without_controls(text: str, limit: int) -> None:
    line = escape_for_log(text, limit)
    assert len(line) <= limit
    assert line.splitlines() in ([line], [])
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in line)
    if len(text) * 6 <= limit:
        assert ELLIPSIS not in line or ELLIPSIS in text
