"""Trace files under attack: a size cap with a clear `trace_truncated` event, never overwriting a
trace that exists, never writing or reading through a symlink."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.trace import Trace, read_trace


async def test_a_capped_trace_says_where_it_was_cut_and_still_ends(tmp_path: Path) -> None:
    path = tmp_path / "CAbig.jsonl"
    trace = Trace("CAbig", path, keep_in_memory=True, max_bytes=4096)
    for i in range(500):
        trace.record("mark", name="x" * 40, i=i)
    trace.close()
    size = path.stat().st_size
    assert size <= 4096
    events = read_trace(path)
    assert [e.ev for e in events[-2:]] == ["trace_truncated", "trace_end"]
    assert events[-2].get("limit_bytes") == 4096
    assert sum(1 for e in events if e.ev == "trace_truncated") == 1
    assert 10 < sum(1 for e in events if e.ev == "mark") < 500
    assert [e["ev"] for e in trace.events] == [e.ev for e in events]  # memory is capped alike
    assert [e.seq for e in events[1:]] == sorted(e.seq for e in events[1:])


async def test_an_uncapped_trace_keeps_everything(tmp_path: Path) -> None:
    trace = Trace("CAsmall", tmp_path / "small.jsonl", max_bytes=None)
    for i in range(500):
        trace.record("mark", name="x" * 40, i=i)
    trace.close()
    assert sum(1 for e in read_trace(tmp_path / "small.jsonl") if e.ev == "mark") == 500


async def test_an_exclusive_trace_never_replaces_an_existing_one(tmp_path: Path) -> None:
    path = tmp_path / "CAsame.jsonl"
    first = Trace("CAsame", path, exclusive=True)
    first.record("log", msg="the first call")
    first.close()
    with pytest.raises(FileExistsError):
        Trace("CAsame", path, exclusive=True)
    assert any(e.get("msg") == "the first call" for e in read_trace(path))
    assert path.stat().st_mode & 0o077 == 0  # the owner's alone: traces hold what callers said


async def test_traces_are_never_written_or_read_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("precious\n")
    link = tmp_path / "CAlink.jsonl"
    link.symlink_to(victim)
    with pytest.raises(FileExistsError):
        Trace("CAlink", link, exclusive=True)
    trace = Trace("CAlink", link)
    trace.record("log", msg="x")
    with pytest.raises(OSError):
        trace.close()
    assert victim.read_text() == "precious\n"
    with pytest.raises(OSError):
        read_trace(link)
    assert link.is_symlink()
