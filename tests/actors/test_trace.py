"""The trace file: JSON lines, masking, summaries, and the reader."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from actors.mailbox import Mailbox
from actors.messages import AiAudio, BookingRequest
from actors.trace import Trace, UnsafeTracePath, check_trace_path, mask_phone, read_trace, trace_file


async def test_trace_file_round_trips_through_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "call.jsonl"
    trace = Trace("CA123", path, meta={"scenario": "x"})
    box: Mailbox[BookingRequest | AiAudio] = Mailbox("booking", "booking", trace)
    start = dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    box.outbox("nlp").send_nowait(
        BookingRequest(request_id="r1", kind="create_appointment", start=start, name="דנה", phone="+972501234567")
    )
    box.outbox("realtime").send_nowait(AiAudio(response_id="resp", item_id="item", payload=b"\xff" * 800))
    await box.receive()
    trace.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line) for line in lines)
    events = read_trace(path)
    assert events[0].ev == "trace_start" and events[0].get("call_sid") == "CA123"
    assert events[-1].ev == "trace_end"
    booking = next(e for e in events if e.ev == "send" and e.get("type") == "BookingRequest")
    fields = booking.get("fields")
    assert fields["name"] == "דנה", "Hebrew stays readable"
    assert fields["phone"] == "+972*****4567"
    assert fields["start"] == "2026-11-25T18:00:00+02:00"
    audio = next(e for e in events if e.ev == "send" and e.get("type") == "AiAudio")
    assert audio.get("fields")["payload"] == {"bytes": 800}
    assert [e.seq for e in events[1:]] == sorted(e.seq for e in events[1:])


def test_reader_skips_a_cut_last_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text('{"t":0,"seq":1,"ev":"trace_start"}\n{"t":1,"seq":2,"ev":"lo', encoding="utf-8")
    assert [e.ev for e in read_trace(path)] == ["trace_start"]


def test_phone_masking_keeps_prefix_and_last_four() -> None:
    assert mask_phone("+972501234567") == "+972*****4567"
    assert mask_phone("12345") == "*****"


async def test_times_are_call_relative_in_virtual_time(autojump_clock: trio.testing.MockClock) -> None:
    trace = Trace("CA-time")
    await trio.sleep(30)
    trace.record("log", actor="audio", msg="hello")
    assert trace.events[-1]["t"] == 30_000.0


async def test_a_trace_with_neither_file_nor_memory_builds_no_event() -> None:
    class Counting(Trace):
        counted_events = frozenset({"counted"})

        def __init__(self, call_sid: str) -> None:
            self.written: list[str] = []
            super().__init__(call_sid, keep_in_memory=False)

        def write(self, event: dict[str, Any]) -> None:
            self.written.append(event["ev"])
            super().write(event)

    trace = Counting("CA-quiet")
    assert not trace.detailed
    trace.record("recv", mailbox="audio")
    trace.record("counted", n=1)
    trace.close()
    # The header is always built; of the rest, only what the subclass counts reaches `write`.
    assert trace.written == ["trace_start", "counted"] and trace.events == []
    assert Trace("CA-kept").detailed and Trace("CA-file", "t.jsonl", keep_in_memory=False).detailed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(fields=st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_trace_lines_are_the_json_of_the_event(
    tmp_path_factory: pytest.TempPathFactory, fields: dict[str, Any]
) -> None:
    path = tmp_path_factory.mktemp("lines") / "CA-json.jsonl"
    # The second event carries an integer beyond 64 bits: orjson refuses it, the standard encoder writes it.
    written = [{"x": fields, "he": "שלום"}, {"x": fields, "he": "שלום", "big": 2**70}]

    async def write() -> None:
        trace = Trace("CA-json", path, keep_in_memory=False)
        for event in written:
            trace.record("log", **event)
        trace.close()

    trio.run(write)
    lines = path.read_bytes().splitlines()[1:3]
    read = [{k: v for k, v in json.loads(line).items() if k not in ("t", "seq", "ev")} for line in lines]
    assert read == written
    assert all("שלום".encode() in line for line in lines)  # unescaped UTF-8, like `ensure_ascii=False`


def test_buffered_trace_lines_hold_about_their_own_length(tmp_path: Path) -> None:
    # A call buffers up to 512 encoded events: each must cost its length, not an encoder's spare buffer
    # (orjson's bytes keep 4 KiB each, which made a traced call hold 2 MiB).
    async def main() -> int:
        trace = Trace("CA-mem", tmp_path / "CA-mem.jsonl", keep_in_memory=False)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(400):  # under the flush threshold: every line stays buffered
                trace.record("send", mailbox="audio", frm="realtime", to="audio", id=i, type="AiAudio")
            return tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

    held = trio.run(main)
    assert held < 400 * 400, f"{held / 400:.0f} B per buffered line of about 100 characters"


@pytest.mark.parametrize(
    "path",
    ["traces/../../x.jsonl", "../x.jsonl", "traces/CA1/../../../x.jsonl", "traces/.hidden", "traces/a\\b", "/", "."],
)
def test_a_trace_path_climbing_out_of_its_folder_is_refused(path: str) -> None:
    with pytest.raises(UnsafeTracePath):
        Trace("CA1", path)


@given(call_sid=st.text(max_size=80))
def test_trace_file_is_a_plain_file_inside_its_folder_whatever_the_call_sid(call_sid: str) -> None:
    path = trace_file("traces", call_sid)
    assert path.parent == Path("traces")
    assert check_trace_path(path) == path
    assert len(path.name) <= 64 + len(".jsonl")
