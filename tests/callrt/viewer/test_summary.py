"""A call's summary (`callrt.viewer.summary`, `callrt.scenario.outcome`) and `callrt trace summary`,
on traces of real scenario runs and on hand-made edge cases."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callrt.cli import main
from callrt.scenario.outcome import OUTCOME_KINDS, call_outcome
from callrt.viewer.summary import call_summary, read_summary_events, summarise_file


def turns(summary: dict[str, Any], kind: str) -> list[str]:
    return [entry["text"] for entry in summary["conversation"] if entry["kind"] == kind]


def test_the_fast_reader_summarises_exactly_like_reading_every_event(scenario_traces: dict[str, Path]) -> None:
    for path in scenario_traces.values():
        every_event = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert call_summary(read_summary_events(path)) == call_summary(every_event), path.name


def test_booking_names_the_appointment_caller_and_turns_in_order(scenario_traces: dict[str, Path]) -> None:
    summary = summarise_file(scenario_traces["booking"])
    assert summary["outcome"]["kind"] == "booked"
    assert summary["outcome"]["words"] == "booked for Wed 25 Nov 2026 18:00"
    assert summary["outcome"]["appointment"] == "2026-11-25T18:00+02:00"
    assert summary["caller"] == {"phone": "+972*****4567", "name": "דנה"}
    assert summary["business"] == "מספרת דנה" and summary["direction"] == "rtl"
    kinds = [entry["kind"] for entry in summary["conversation"]]
    assert kinds.index("caller") < kinds.index("action") < kinds.index("note")
    assert turns(summary, "caller") == ["אני רוצה פגישה מחר בשש בערב, קוראים לי דנה"]
    ai = turns(summary, "ai")
    assert ai[0].startswith("שלום") and any("קבעתי לך תור" in text for text in ai)
    times = [entry["t"] for entry in summary["conversation"]]
    assert times == sorted(times)
    assert summary["counts"]["silence_prompts"] == 1 and summary["duration_ms"] > 40_000


def test_out_of_hours_names_the_alternatives(scenario_traces: dict[str, Path]) -> None:
    outcome = summarise_file(scenario_traces["out_of_hours"])["outcome"]
    assert outcome["kind"] == "out_of_hours"
    assert outcome["words"] == (
        "out of hours: asked for Wed 25 Nov 2026 21:00, offered 17:30, 18:00, 18:30 that day; nothing booked"
    )
    assert len(outcome["alternatives"]) == 3


def test_barge_in_cuts_the_ai_turn_where_the_caller_stopped_hearing_it(scenario_traces: dict[str, Path]) -> None:
    summary = summarise_file(scenario_traces["barge_in_en"])
    assert summary["counts"]["barge_ins"] == 1 and summary["direction"] == "ltr"
    (cut,) = [entry for entry in summary["conversation"] if entry["kind"] == "ai" and entry["interrupted"]]
    assert 0 < cut["heard_ms"] < cut["audio_ms"]
    assert cut["heard"] and cut["text"].startswith(cut["heard"]) and len(cut["heard"]) < len(cut["text"])
    share = len(cut["heard"]) / len(cut["text"])
    assert abs(share - cut["heard_ms"] / cut["audio_ms"]) < 0.05
    assert summary["outcome"]["kind"] == "hung_up"


def test_false_claim_and_restart_are_counted_and_told(scenario_traces: dict[str, Path]) -> None:
    claim = summarise_file(scenario_traces["false_claim"])
    assert claim["counts"]["claims_cut"] == 1 and claim["outcome"]["kind"] == "no_booking"
    assert any(e["kind"] == "event" and e["what"] == "realtime" for e in claim["conversation"])
    restart = summarise_file(scenario_traces["restart"])
    assert restart["counts"]["restarts"] == 1 and restart["outcome"]["kind"] == "booked"
    assert "nlp restarted (attempt 1)" in [e["text"] for e in restart["conversation"] if e["kind"] == "event"]


def _call(*events: dict[str, Any]) -> list[dict[str, Any]]:
    header = {"ev": "trace_start", "version": 1, "call_sid": "CA1", "wall_start": "2026-11-24T08:00:00+00:00"}
    return [header, *({"seq": i + 1, **e} for i, e in enumerate(events))]


def test_failed_calls_say_why() -> None:
    gave_up = _call(
        {"t": 10.0, "ev": "crash", "actor": "realtime", "error": "ConnectError: refused", "attempt": 3},
        {"t": 10.0, "ev": "escalate", "actor": "realtime", "action": "end_call", "restarts_in_window": 3},
        {"t": 10.0, "ev": "call_end", "by": "supervisor", "reason": "realtime_failed", "duration_ms": 10.0},
    )
    outcome = call_outcome(gave_up)
    assert outcome.kind == "failed"
    assert outcome.words == "failed: the realtime actor gave up and the call was ended (ConnectError: refused)"
    cut_off = call_outcome(_call({"t": 10.0, "ev": "log", "actor": "audio", "msg": "x"}))
    assert cut_off.kind == "failed" and "no end recorded" in cut_off.words


_events = st.lists(
    st.fixed_dictionaries(
        {
            "t": st.floats(0, 1e6, allow_nan=False),
            "ev": st.sampled_from(
                ["realtime", "utterance", "ignored_segment", "barge_in", "playout", "call_end", "send"]
            ),
        },
        optional={
            "what": st.sampled_from(["user_turn", "ai_turn", "note_injected", "false_claim_cut", "silence_prompt"]),
            "text": st.text(max_size=20),
            "kind": st.sampled_from(["appointment_created", "outside_hours", "booking_failed", "need_name"]),
            "item_id": st.sampled_from(["i1", "i2"]),
            "by": st.sampled_from(["ai", "caller", "supervisor"]),
            "reason": st.sampled_from(["silence", "stop", "nlp_failed"]),
            "duration_ms": st.floats(0, 1e5, allow_nan=False),
            "heard_ms": st.floats(0, 1e5, allow_nan=False),
            "type": st.just("BookingRequest"),
        },
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(events=_events)
def test_any_trace_gets_one_outcome_and_a_conversation_in_time_order(events: list[dict[str, Any]]) -> None:
    events = sorted(events, key=lambda e: e["t"])
    summary = call_summary(_call(*events))
    assert summary["outcome"]["kind"] in OUTCOME_KINDS and summary["outcome"]["words"]
    times = [entry["t"] for entry in summary["conversation"]]
    assert times == sorted(times)
    json.dumps(summary)


def test_cli_prints_header_and_conversation(
    scenario_traces: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "summary", str(scenario_traces["booking"])]) == 0
    out = capsys.readouterr().out
    assert "outcome   booked for Wed 25 Nov 2026 18:00" in out
    assert "caller    +972*****4567 דנה" in out
    caller_line = out.index("caller   אני רוצה פגישה מחר בשש בערב")
    assert out.index("AI       שלום") < caller_line < out.index("request  create appointment")
    assert main(["trace", "summary", str(scenario_traces["barge_in_en"])]) == 0
    assert re.search(r"AI +Hello, .+ \[interrupted: heard \d\.\d of \d\.\d s; not heard: ", capsys.readouterr().out)


def test_cli_json_is_the_summary(scenario_traces: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    for path in scenario_traces.values():
        assert main(["trace", "summary", str(path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == summarise_file(path)


def test_cli_refuses_what_is_not_a_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_json = tmp_path / "notes.jsonl"
    not_json.write_text("hello\n")
    for bad in (tmp_path / "missing.jsonl", not_json, tmp_path):
        assert main(["trace", "summary", str(bad)]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("callrt trace summary:")
