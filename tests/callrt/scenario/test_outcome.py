"""Whether a call failed and why (`callrt.scenario.outcome.call_failure`), on hand-made traces: each reason
is found on a trace that has it, in its order of strength, and never on a call the caller could use."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from callrt.scenario.invariants import HEARD_NOTHING_AFTER_MS
from callrt.scenario.outcome import (
    OUTCOME_KINDS,
    call_failure,
    call_outcome,
    caller_side_failure,
    reads_event,
)


def ev(t: float, ev: str, **fields: Any) -> dict[str, Any]:
    return {"t": t, "ev": ev, **fields}


GREETED = [ev(0, "call_start"), ev(3600, "playout", item_id="i1", heard_ms=3600, finished=True)]


def end(t: float, by: str = "caller", reason: str = "hangup") -> dict[str, Any]:
    return ev(t, "call_end", by=by, reason=reason, duration_ms=t)


def reason(events: list[dict[str, Any]]) -> str | None:
    failure = call_failure(events)
    return None if failure is None else failure.reason


def test_a_call_the_caller_could_use_has_no_failure() -> None:
    assert call_failure([*GREETED, end(20_000)]) is None
    assert call_outcome([*GREETED, end(20_000)]).kind == "hung_up"


def note(t: float, kind: str, text: str) -> dict[str, Any]:
    return ev(t, "realtime", what="note_injected", kind=kind, text=f"[SERVER] {kind} {text}")


def test_the_outcome_names_the_appointment_the_server_last_decided_on() -> None:
    booked = note(8000, "appointment_created", "id=7 start=2026-11-25T18:00+02:00")
    moved = note(9000, "appointment_rescheduled", "id=7 start=2026-11-26T10:00+02:00")
    cancelled = note(9000, "appointment_cancelled", "id=4")
    outcome = call_outcome([*GREETED, booked, end(20_000)])
    assert (outcome.kind, outcome.appointment_id, outcome.appointment) == ("booked", "7", "2026-11-25T18:00+02:00")
    assert call_outcome([*GREETED, booked, moved, end(20_000)]).appointment_id == "7"
    assert call_outcome([*GREETED, cancelled, end(20_000)]).appointment_id == "4"
    refused = note(8000, "outside_hours", "reason=outside_hours requested=2026-11-25T21:00+02:00 alternatives=")
    assert call_outcome([*GREETED, refused, end(20_000)]).appointment_id is None


def test_each_failure_is_found_with_its_reason_and_words() -> None:
    declared = ev(900, "call_failed", reason="session_refused")
    refused = call_failure([*GREETED, declared, end(6000, "ai", "session_refused")])
    assert refused is not None and refused.reason == "session_refused"
    assert refused.words == ("failed: the model refused every session configuration; the caller heard the handoff line")
    broken = call_failure([ev(10, "call_failed", reason="invalid_settings", error="business 3 has invalid settings")])
    assert broken is not None and broken.reason == "invalid_settings"
    assert broken.words.endswith("nothing was booked (business 3 has invalid settings)")
    assert reason([ev(10, "call_failed", reason="model_melted")]) == "model_melted"
    gave_up = [
        *GREETED,
        ev(9000, "crash", actor="audio", error="OSError: gone", attempt=3),
        end(9000, "supervisor", "audio_failed"),
    ]
    failure = call_failure(gave_up)
    assert failure is not None and failure.reason == "audio_failed"
    assert failure.words == "failed: the audio actor gave up and the call was ended (OSError: gone)"
    assert reason([*GREETED, end(9000, "supervisor", "cancelled")]) == "cancelled"
    assert reason(GREETED) == "no_end"
    silent = [ev(0, "call_start"), ev(400, "io", peer="caller", dir="out", type="media", bytes=800), end(15_000, "ai")]
    failure = call_failure(silent)
    assert failure is not None and failure.reason == "caller_heard_nothing"
    assert failure.words == "failed: the caller heard nothing in 15 s (no AI audio played within 5 s)"


def test_the_runtimes_own_failure_is_the_strongest_reason() -> None:
    """The first `call_failed` says why, even when the caller then heard nothing or the call never ended."""
    declared = ev(100, "call_failed", reason="model_unavailable")
    assert reason([ev(0, "call_start"), declared, end(20_000, "ai", "model_unavailable")]) == "model_unavailable"
    assert reason([declared, ev(200, "call_failed", reason="server_error")]) == "model_unavailable"
    assert reason([ev(0, "call_start"), end(20_000, "supervisor", "audio_failed")]) == "audio_failed"


def test_the_outcome_of_a_failed_call_is_its_failure() -> None:
    events = [ev(0, "call_start"), ev(10, "call_failed", reason="model_frozen"), end(8000, "ai", "model_frozen")]
    assert call_outcome(events) == call_failure(events)
    assert call_outcome(events).to_json()["reason"] == "model_frozen"


def test_without_a_trace_the_callers_side_tells_whether_it_heard_anything() -> None:
    failure = caller_side_failure(0.0, 12_000.0)
    assert failure is not None and failure.reason == "caller_heard_nothing"
    assert failure.words == call_failure([ev(0, "call_start"), end(12_000)]).words  # type: ignore[union-attr]
    assert caller_side_failure(250.0, 12_000.0) is None
    assert caller_side_failure(0.0, HEARD_NOTHING_AFTER_MS) is None


_events = st.lists(
    st.fixed_dictionaries(
        {
            "t": st.floats(0, 1e5, allow_nan=False),
            "ev": st.sampled_from(["realtime", "playout", "barge_in", "call_end", "crash", "call_failed", "io"]),
        },
        optional={
            "what": st.sampled_from(["user_turn", "note_injected", "response_created"]),
            "by": st.sampled_from(["ai", "caller", "supervisor"]),
            "reason": st.sampled_from(["silence", "hangup", "audio_failed", "cancelled", "session_refused"]),
            "heard_ms": st.floats(0, 1e4, allow_nan=False),
            "audio_end_ms": st.floats(0, 1e4, allow_nan=False),
            "actor": st.sampled_from(["audio", "realtime"]),
        },
    ),
    max_size=20,
)


@given(events=_events)
def test_the_outcome_reads_only_the_events_it_names(events: list[dict[str, Any]]) -> None:
    """A reader that keeps only `reads_event` events (the server's metered trace, a summary) gets the
    same outcome as one that keeps them all; a failed outcome is always `call_failure`'s."""
    events = sorted(events, key=lambda e: e["t"])
    kept = [e for e in events if reads_event(e)]
    assert call_outcome(kept) == call_outcome(events)
    assert call_failure(kept) == call_failure(events)
    outcome = call_outcome(events)
    assert outcome.kind in OUTCOME_KINDS
    assert (outcome.kind == "failed") == (call_failure(events) is not None)
    assert (outcome.reason is not None) == (outcome.kind == "failed")
