"""What a call amounted to, in one word and one sentence, read off its trace.

The one place that decides a call's outcome for people: `callrt trace summary`, the viewer's
header and the trace list all show what `call_outcome` returns. It reads only the events a
summary keeps (`callrt.viewer.summary.read_summary_events`): the call's end, escalations and
crashes, the server notes given to the model and the caller's transcribed turns.

Kinds, strongest first: `failed` (the supervisor ended the call because an actor it cannot go on
without gave up, or the trace has no end), then the last booking decision the server made
(`booked`, `rescheduled`, `cancelled`; else the last refusal: `out_of_hours`, `slot_unavailable`;
else `booking_failed`), then how a call without one ended: `silence` (the caller never said a
word), `hung_up` (the caller left), `no_booking`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from callrt.scenario.invariants import NOTE_PREFIX, Event

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


@attrs.frozen
class Outcome:
    kind: str
    words: str
    appointment: str | None = None
    """The booked (or moved) appointment's start, ISO 8601 with the business's offset."""
    requested: str | None = None
    alternatives: tuple[str, ...] = ()
    detail: str | None = None

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


def _failure(events: Sequence[Event], end: Event | None) -> Outcome | None:
    if end is None:
        return Outcome("failed", "no end recorded: the call is still running or its process died")
    by, reason = str(end.get("by", "")), str(end.get("reason", ""))
    if by == "supervisor" and reason.endswith("_failed"):
        crashes = [e for e in events if e.get("ev") == "crash" and f"{e.get('actor')}_failed" == reason]
        detail = str(crashes[-1].get("error")) if crashes else None
        actor = reason.removesuffix("_failed")
        words = f"failed: the {actor} actor gave up and the call was ended" + (f" ({detail})" if detail else "")
        return Outcome("failed", words, detail=detail)
    if reason == "cancelled":
        return Outcome("failed", "failed: the call was cut off from outside before it ended")
    return None


def _booking(notes: Sequence[tuple[str, str]]) -> Outcome | None:
    decisions = [(kind, text) for kind, text in notes if kind in _DECISIONS]
    if decisions:
        kind, text = decisions[-1]
        start = note_fields(text).get("start")
        when = readable_time(start) if start else "an unknown time"
        if kind == "appointment_cancelled":
            return Outcome("cancelled", "cancelled: the caller's appointment was cancelled")
        if kind == "appointment_rescheduled":
            return Outcome("rescheduled", f"rescheduled to {when}", appointment=start)
        return Outcome("booked", f"booked for {when}", appointment=start)
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
    end = next((e for e in reversed(events) if e.get("ev") == "call_end"), None)
    failed = _failure(events, end)
    if failed is not None:
        return failed
    assert end is not None
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
