"""The scenario report (docs/scenario-format.md, "The report"), read off the call's trace
and the appointments the database holds for the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callrt.scenario.invariants import (
    Event,
    ai_turns,
    model_io,
    server_note_texts,
    silence_prompts,
    user_turns,
)
from callrt.scenario.outcome import Outcome, call_outcome
from store import AppointmentInfo


def _ms(value: Any) -> float:
    return round(float(value), 1)


def _barge_in_cancel_at(events: Sequence[Event], barge_in_t: float) -> float | None:
    """When the RealtimeActor cancelled the response for this barge-in; None when there was nothing
    to cancel (the response had finished streaming: the clear and the truncation still happened)."""
    decision = next(
        (
            e
            for e in events
            if e.get("ev") == "realtime"
            and e.get("what") in ("cancel", "cancel_skipped")
            and e.get("why") == "barge_in"
            and float(e["t"]) >= barge_in_t
        ),
        None,
    )
    return _ms(decision["t"]) if decision is not None and decision.get("what") == "cancel" else None


def _user_turns(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Each non-empty caller transcription, with the timing of the utterance its item holds."""
    return [
        {
            "at_ms": _ms(utterance["at_ms"] if utterance else event["t"]),
            "text": event.get("text", ""),
            "duration_ms": _ms(utterance["duration_ms"]) if utterance else None,
        }
        for event, utterance in user_turns(events)
    ]


def _realtime(events: Sequence[Event], what: str) -> list[Event]:
    return [e for e in events if e.get("ev") == "realtime" and e.get("what") == what]


def failed_json(outcome: Outcome | None) -> dict[str, Any] | None:
    """The report's `failed`: the reason and words of a failed call; None for any other."""
    return (
        {"reason": outcome.reason, "words": outcome.words} if outcome is not None and outcome.kind == "failed" else None
    )


def appointment_json(appointment: AppointmentInfo) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "start": appointment.start.isoformat(),
        "minutes": appointment.minutes,
        "name": appointment.name,
        "phone": appointment.phone,
    }


def build_report(
    *,
    scenario_name: str,
    events: Sequence[Event],
    appointments: Sequence[AppointmentInfo],
    violations: Sequence[str],
    trace_path: str | None,
) -> dict[str, Any]:
    end = next((e for e in reversed(events) if e.get("ev") == "call_end"), None)
    outcome = call_outcome(events)
    return {
        "scenario": scenario_name,
        "violations": list(violations),
        "failed": failed_json(outcome),
        "outcome": {"kind": outcome.kind, "words": outcome.words},
        "duration_ms": _ms(end["t"] if end else (events[-1]["t"] if events else 0.0)),
        "hangup": (
            {"by": end.get("by"), "reason": end.get("reason"), "at_ms": _ms(end["t"])} if end is not None else None
        ),
        "appointments": [appointment_json(a) for a in appointments],
        "ai_turns": [
            {
                "at_ms": _ms(turn["started_t"]),
                "text": turn["text"],
                "interrupted": turn["interrupted"],
                "heard_ms": _ms(turn["heard_ms"]),
            }
            for turn in ai_turns(events)
        ],
        "user_turns": _user_turns(events),
        "ignored_segments": [
            {"at_ms": _ms(e.get("at_ms", e["t"])), "duration_ms": _ms(e["duration_ms"]), "rms": round(e["rms"])}
            for e in events
            if e.get("ev") == "ignored_segment"
        ],
        "silence_prompts": len(silence_prompts(events)),
        "barge_ins": [
            {
                "speech_at_ms": _ms(e["speech_at_ms"]),
                "clear_at_ms": _ms(e.get("clear_at_ms", e["t"])),
                "cancel_at_ms": _barge_in_cancel_at(events, float(e["t"])),
                "audio_end_ms": e["audio_end_ms"],
            }
            for e in events
            if e.get("ev") == "barge_in"
        ],
        "server_notes": [text for _, text in server_note_texts(events)],
        "responses_created": len(model_io(events, "out", "response.create")),
        "guard_skips": sum(1 for e in events if e.get("ev") == "realtime" and e.get("what") == "guard_skip"),
        "false_claims_cut": sum(1 for e in events if e.get("ev") == "realtime" and e.get("what") == "false_claim_cut"),
        "restarts": [{"actor": e["actor"], "at_ms": _ms(e["t"])} for e in events if e.get("ev") == "restart"],
        "session_refusals": [e.get("refused") for e in events if e.get("ev") == "model_refused"],
        "text_only_replies": len(_realtime(events, "text_only_reply")),
        "model_frozen": [e.get("action") for e in _realtime(events, "model_frozen")],
        "model_given_up": next((e.get("reason") for e in _realtime(events, "model_given_up")), None),
        "runtime_lines": [{"line": e["line"], "at_ms": _ms(e["t"])} for e in events if e.get("ev") == "runtime_line"],
        "callbacks_recorded": [e["reason"] for e in events if e.get("ev") == "callback_recorded"],
        "trace": trace_path,
    }
