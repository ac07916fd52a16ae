"""What a call amounted to, in one word and one sentence, read off its trace: the one source of a
call's outcome and of whether it failed.

`call_outcome` is what `callrt trace summary`, the viewer's header and the trace list show; `call_failure`
(the same rule, for a failed call only) is what `callrt scenario run` and `callrt call` report as `failed`
and what `callrt serve` logs at ERROR and counts in `callrt_calls_failed_total{reason}` at each call's end.
Both read only the events `OUTCOME_EVENTS` names (a summary's reader and the server's metered trace keep
them): the call's end, crashes, the runtime's own `call_failed`, what the caller heard (`playout`,
`barge_in`), the server notes given to the model and the caller's transcribed turns.

Kinds, strongest first: `failed` (the call the caller could not use: see `call_failure`), then the last
booking decision the server made (`booked`, `rescheduled`, `cancelled`; else the last refusal:
`out_of_hours`, `slot_unavailable`; else `booking_failed`), then how a call without one ended: `silence`
(the caller never said a word), `hung_up` (the caller left), `no_booking`.

A failure's `reason`, strongest first (docs/scenario-format.md, "Failed calls"):

- the first `call_failed` reason: `session_refused`, `model_frozen`, `model_text_only`,
  `model_unavailable`, `invalid_settings` (the runtime could not serve the call as configured, and the
  caller heard the handoff line), or `server_error` (the server's code for the call raised an error);
- `no_end`: the trace has no end: the call is still running, or its process died;
- `<actor>_failed`: the supervisor ended the call because an actor it cannot go on without gave up;
- `cancelled`: the call was cut off from outside before it ended;
- `caller_heard_nothing`: the call lasted more than `HEARD_NOTHING_AFTER_MS` and the caller heard no
  AI audio.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from callrt.scenario.invariants import HEARD_NOTHING_AFTER_MS, NOTE_PREFIX, Event, caller_heard_nothing

OUTCOME_KINDS = (
    "failed",
    "booked",
    "rescheduled",
    "cancelled",
    "out_of_hours",
    "slot_unavailable",
    "booking_failed",
    "silence",
    "hung_up",
    "no_booking",
)
_DECISIONS = ("appointment_created", "appointment_rescheduled", "appointment_cancelled")
_REFUSALS = ("outside_hours", "slot_unavailable")
_FAILURES = ("booking_failed", "booking_unavailable")
_RUNTIME_FAILURES = {
    "session_refused": "the model refused every session configuration; the caller heard the handoff line",
    "model_frozen": "the model stopped answering; the caller heard the handoff line",
    "model_text_only": "the model kept answering in text only; the caller heard the handoff line",
    "model_unavailable": "the model could not be reached; the caller heard the handoff line",
    "invalid_settings": "the business's settings are invalid; the caller heard the handoff line, nothing was booked",
    "server_error": "the server's code for the call raised an error (the server's log has it)",
}
"""The words for each `call_failed` reason: the runtime gave the model or the business up and said the
handoff line, or (`server_error`) the server hosting the call broke it."""
OUTCOME_EVENTS = frozenset({"call_end", "crash", "call_failed", "playout", "barge_in", "realtime"})
"""The kinds of event the outcome reads (of `realtime` ones, those `reads_event` keeps)."""
_REALTIME_READ = frozenset({"note_injected", "user_turn"})


def reads_event(event: Event) -> bool:
    """Whether the outcome reads this event: a reader may keep only these (the server's metered trace does)."""
    ev = event.get("ev")
    return ev in OUTCOME_EVENTS and (ev != "realtime" or event.get("what") in _REALTIME_READ)


@attrs.frozen
class Outcome:
    kind: str
    words: str
    appointment: str | None = None
    """The booked (or moved) appointment's start, ISO 8601 with the business's offset."""
    appointment_id: str | None = None
    """The id of the appointment the server booked, moved or cancelled, as its note gave it."""
    requested: str | None = None
    alternatives: tuple[str, ...] = ()
    detail: str | None = None
    reason: str | None = None
    """A failed call's reason (the `reason` label of `callrt_calls_failed_total`)."""

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "alternatives": list(self.alternatives)}


def note_fields(text: str) -> dict[str, str]:
    """The `key=value` words of a booking note (`appointment_created id=2 start=…`)."""
    return dict(word.split("=", 1) for word in text.split() if "=" in word)


def readable_time(iso: str) -> str:
    """`2026-11-25T18:00+02:00` -> `Wed 25 Nov 2026 18:00` (the business's local time, as the note gives it)."""
    try:
        instant = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return instant.strftime("%a %d %b %Y %H:%M")


def _alternatives_words(alternatives: Sequence[str]) -> str:
    if not alternatives:
        return "no alternative offered"
    times = sorted(alternatives)
    days = {t[:10] for t in times}
    if len(days) == 1:
        return "offered " + ", ".join(t[11:16] for t in times) + " that day"
    return "offered " + ", ".join(readable_time(t) for t in times)


def runtime_failure(reason: str, detail: str | None = None) -> Outcome:
    """The `failed` outcome of a call the runtime (or its server) declared failed with `reason`."""
    why = _RUNTIME_FAILURES.get(reason, f"the call could not be served ({reason})")
    return Outcome("failed", f"failed: {why}" + (f" ({detail})" if detail else ""), detail=detail, reason=reason)


def call_failure(events: Sequence[Event]) -> Outcome | None:
    """The `failed` outcome of a call the caller could not use, with its reason; None for any other call."""
    declared = next((e for e in events if e.get("ev") == "call_failed"), None)
    if declared is not None:
        return runtime_failure(
            str(declared.get("reason", "unknown")), str(declared["error"]) if declared.get("error") else None
        )
    end = next((e for e in reversed(events) if e.get("ev") == "call_end"), None)
    if end is None:
        words = "failed: no end recorded: the call is still running or its process died"
        return Outcome("failed", words, reason="no_end")
    by, reason = str(end.get("by", "")), str(end.get("reason", ""))
    if by == "supervisor" and reason.endswith("_failed"):
        crashes = [e for e in events if e.get("ev") == "crash" and f"{e.get('actor')}_failed" == reason]
        detail = str(crashes[-1].get("error")) if crashes else None
        actor = reason.removesuffix("_failed")
        words = f"failed: the {actor} actor gave up and the call was ended" + (f" ({detail})" if detail else "")
        return Outcome("failed", words, detail=detail, reason=reason)
    if reason == "cancelled":
        return Outcome("failed", "failed: the call was cut off from outside before it ended", reason="cancelled")
    return _heard_nothing(float(end["t"])) if caller_heard_nothing(events) else None


def _heard_nothing(duration_ms: float) -> Outcome:
    words = (
        f"failed: the caller heard nothing in {duration_ms / 1000:.0f} s"
        f" (no AI audio played within {HEARD_NOTHING_AFTER_MS / 1000:g} s)"
    )
    return Outcome("failed", words, reason="caller_heard_nothing")


def caller_side_failure(heard_ms: float, duration_ms: float) -> Outcome | None:
    """Without the call's trace (a call to another server): `caller_heard_nothing` read off the caller's
    own side, how much AI audio reached it; the only failure a caller can tell by itself."""
    return _heard_nothing(duration_ms) if heard_ms <= 0.0 and duration_ms > HEARD_NOTHING_AFTER_MS else None


def _booking(notes: Sequence[tuple[str, str]]) -> Outcome | None:
    decisions = [(kind, text) for kind, text in notes if kind in _DECISIONS]
    if decisions:
        kind, text = decisions[-1]
        fields = note_fields(text)
        start, appointment_id = fields.get("start"), fields.get("id")
        when = readable_time(start) if start else "an unknown time"
        if kind == "appointment_cancelled":
            return Outcome(
                "cancelled", "cancelled: the caller's appointment was cancelled", appointment_id=appointment_id
            )
        if kind == "appointment_rescheduled":
            return Outcome("rescheduled", f"rescheduled to {when}", appointment=start, appointment_id=appointment_id)
        return Outcome("booked", f"booked for {when}", appointment=start, appointment_id=appointment_id)
    refusals = [(kind, text) for kind, text in notes if kind in _REFUSALS]
    if refusals:
        kind, text = refusals[-1]
        fields = note_fields(text)
        requested = fields.get("requested")
        alternatives = tuple(a for a in fields.get("alternatives", "").split(",") if a)
        asked = readable_time(requested) if requested else "a time"
        outcome = "out_of_hours" if kind == "outside_hours" else "slot_unavailable"
        words = f"{outcome.replace('_', ' ')}: asked for {asked}, {_alternatives_words(alternatives)}; nothing booked"
        return Outcome(outcome, words, requested=requested, alternatives=alternatives)
    failures = [text for kind, text in notes if kind in _FAILURES]
    if failures:
        reason = note_fields(failures[-1]).get("reason", "unknown")
        return Outcome("booking_failed", f"no booking: the booking could not be made ({reason})", detail=reason)
    return None


def call_outcome(events: Sequence[Event]) -> Outcome:
    failed = call_failure(events)
    if failed is not None:
        return failed
    end = next(e for e in reversed(events) if e.get("ev") == "call_end")
    notes = [
        (str(e.get("kind", "")), str(e.get("text", "")).removeprefix(NOTE_PREFIX))
        for e in events
        if e.get("ev") == "realtime" and e.get("what") == "note_injected"
    ]
    booking = _booking(notes)
    if booking is not None:
        return booking
    spoke = any(
        e.get("ev") == "realtime" and e.get("what") == "user_turn" and str(e.get("text", "")).strip() for e in events
    )
    by, reason = str(end.get("by", "")), str(end.get("reason", ""))
    if not spoke and by == "ai" and reason == "silence":
        return Outcome("silence", "silence: the caller never spoke and the AI said goodbye")
    if by == "caller":
        return Outcome("hung_up", "caller hung up" + ("" if spoke else " before saying anything") + "; nothing booked")
    return Outcome("no_booking", f"no booking: the call ended by {by} ({reason})")
