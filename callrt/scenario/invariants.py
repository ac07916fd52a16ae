"""Invariants of a call, checked on its trace and on the database, never on the
runner's own bookkeeping. Each check returns the names of the violations it found
(docs/scenario-format.md, "Invariants").
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from actors.caller_identity import same_line
from actors.claims import detect_claim
from store import AppointmentInfo, BusinessSettings, Store
from store.availability import check_slot
from store.errors import BrokenSettings

Event = dict[str, Any]


def _of(events: Iterable[Event], ev: str, **match: Any) -> list[Event]:
    return [e for e in events if e.get("ev") == ev and all(e.get(k) == v for k, v in match.items())]


def model_io(events: Sequence[Event], direction: str, type_: str) -> list[Event]:
    return _of(events, "io", peer="model", dir=direction, type=type_)


def check_responses_never_overlap(events: Sequence[Event]) -> list[str]:
    """No response.create is sent while an earlier response of the same model session has not reached response.done.

    A new model session (`model_connected`, after a reconnect) starts with nothing pending.
    """
    pending = 0
    for event in events:
        ev = event.get("ev")
        if ev == "realtime" and event.get("what") == "model_connected":
            pending = 0
        elif ev == "io" and event.get("peer") == "model":
            kind, direction = event.get("type"), event.get("dir")
            if direction == "out" and kind == "response.create":
                if pending > 0:
                    return ["response_while_pending"]
                pending += 1
            elif direction == "in" and kind == "response.done":
                pending = max(0, pending - 1)
        elif (
            ev == "realtime"
            and event.get("what") == "model_error"
            and event.get("code") == "conversation_already_has_active_response"
        ):
            return ["response_while_pending"]
    return []


def check_silence_prompts(events: Sequence[Event]) -> list[str]:
    return ["more_than_one_silence_prompt"] if len(silence_prompts(events)) > 1 else []


def silence_prompts(events: Sequence[Event]) -> list[Event]:
    return _of(events, "realtime", what="silence_prompt")


def check_no_audio_after_clear(events: Sequence[Event]) -> list[str]:
    """After a barge-in cleared an item, none of that item's audio reaches the caller."""
    cleared: set[str] = set()
    for event in events:
        if event.get("ev") == "barge_in" and event.get("item_id"):
            cleared.add(str(event["item_id"]))
        elif (
            event.get("ev") == "io"
            and event.get("peer") == "caller"
            and event.get("dir") == "out"
            and event.get("type") == "media"
            and event.get("item_id") in cleared
        ):
            return ["audio_after_clear"]
    return []


def committed_utterances(events: Sequence[Event]) -> tuple[dict[str, Event], int]:
    """Which caller utterance each committed model item holds, and how many commits held none.

    Each real utterance (`utterance`, or a segment a restarted AudioActor cut: `playout_lost` with
    `cut_utterance`) is committed once; after a reconnect the RealtimeActor may
    commit again, before its first `response.create`, audio whose transcription the old session
    never delivered: such a replay holds the oldest utterance still without a transcript (a commit the
    old session never acknowledged included: it is sent again too).
    """
    pending: list[Event] = []
    untranscribed: list[Event] = []
    by_item: dict[str, Event] = {}
    replaying = False
    stray = 0
    awaiting_item: list[Event] = []
    for event in events:
        ev = event.get("ev")
        if ev == "utterance" or (
            ev == "realtime" and event.get("what") == "playout_lost" and event.get("cut_utterance")
        ):
            # A segment a dead AudioActor never closed: the RealtimeActor committed what it had of it.
            pending.append(event)
        elif ev == "realtime" and event.get("what") == "model_connected":
            replaying = True
            untranscribed = [*awaiting_item, *untranscribed]
            awaiting_item.clear()
        elif ev == "realtime" and event.get("what") == "user_turn":
            utterance = by_item.get(str(event.get("item_id")))
            if utterance in untranscribed:
                untranscribed.remove(utterance)
        elif ev == "io" and event.get("peer") == "model":
            kind = event.get("type")
            if event.get("dir") == "out" and kind == "response.create":
                replaying = False
            elif event.get("dir") == "out" and kind == "input_audio_buffer.commit":
                if pending:
                    awaiting_item.append(pending.pop(0))
                elif replaying and untranscribed:
                    awaiting_item.append(untranscribed[0])
                else:
                    stray += 1
            elif event.get("dir") == "in" and kind == "input_audio_buffer.committed" and awaiting_item:
                utterance = awaiting_item.pop(0)
                by_item[str(event.get("item_id"))] = utterance
                if utterance not in untranscribed:
                    untranscribed.append(utterance)
    return by_item, stray


def user_turns(events: Sequence[Event]) -> list[tuple[Event, Event | None]]:
    """Each non-empty caller transcription (`user_turn`), with the utterance its item holds when known."""
    by_item, _ = committed_utterances(events)
    return [
        (event, by_item.get(str(event.get("item_id"))))
        for event in _of(events, "realtime", what="user_turn")
        if str(event.get("text", "")).strip()
    ]


def check_noise_never_reaches_nlp(events: Sequence[Event]) -> list[str]:
    """Every committed input buffer holds a real utterance: noise is cleared, never committed or transcribed."""
    by_item, stray = committed_utterances(events)
    transcripts = [e for e in _of(events, "realtime", what="user_turn") if str(e.get("item_id")) not in by_item]
    return ["noise_reached_nlp"] if stray or transcripts else []


NOTE_PREFIX = "[SERVER] "


def server_note_texts(events: Sequence[Event]) -> list[tuple[float, str]]:
    """(time, text) of every note injected into the model, without the `[SERVER] ` prefix."""
    return [
        (float(e["t"]), str(e.get("text", "")).removeprefix(NOTE_PREFIX))
        for e in _of(events, "realtime", what="note_injected")
    ]


def ai_turns(events: Sequence[Event]) -> list[Event]:
    """Every AI turn with what the caller really heard of it.

    The text comes from the RealtimeActor's `ai_turn`; its start from `response_created`;
    its audio length from the media the AudioActor wrote to the line; what was heard
    from the acknowledged playout (`playout`) and barge-ins, i.e. from Twilio's marks.
    """
    created_at = {e.get("response_id"): float(e["t"]) for e in _of(events, "realtime", what="response_created")}
    audio_ms: dict[str, float] = {}
    heard_ms: dict[str, float] = {}
    cut: set[str] = set()
    for event in events:
        ev, item = event.get("ev"), event.get("item_id")
        if item is None:
            continue
        if ev == "io" and event.get("peer") == "caller" and event.get("type") == "media":
            audio_ms[item] = audio_ms.get(item, 0.0) + float(event.get("bytes", 0)) / 8.0
        elif ev == "playout":
            heard_ms[item] = max(heard_ms.get(item, 0.0), float(event.get("heard_ms", 0.0)))
        elif ev == "barge_in":
            heard_ms[item] = max(heard_ms.get(item, 0.0), float(event.get("audio_end_ms", 0.0)))
            cut.add(item)
        elif ev == "realtime" and event.get("what") in ("truncate", "false_claim_cut"):
            cut.add(item)
    turns = []
    for turn in _of(events, "realtime", what="ai_turn"):
        item = str(turn.get("item_id"))
        turns.append(
            {
                "t": float(turn["t"]),
                "started_t": created_at.get(turn.get("response_id"), float(turn["t"])),
                "item_id": item,
                "text": str(turn.get("text", "")),
                "interrupted": bool(turn.get("interrupted")) or item in cut,
                "audio_ms": audio_ms.get(item, 0.0),
                "heard_ms": heard_ms.get(item, 0.0),
            }
        )
    return turns


def heard_text(turn: Event) -> str:
    """The part of an AI turn the caller heard, by the share of its audio that was played."""
    text = str(turn["text"])
    if turn["audio_ms"] <= 0.0:
        return ""
    return text[: int(len(text) * min(1.0, turn["heard_ms"] / turn["audio_ms"]))]


def check_claims_backed(events: Sequence[Event]) -> list[str]:
    """The caller never hears a booking claim before an `appointment_created` (or `_rescheduled`) note,
    nor a 'details sent' claim (the runtime sends no messages)."""
    notes = server_note_texts(events)
    for turn in ai_turns(events):
        claim = detect_claim(heard_text(turn))
        if claim is None:
            continue
        backed = claim == "booking" and any(
            t <= turn["started_t"] and text.startswith(("appointment_created", "appointment_rescheduled"))
            for t, text in notes
        )
        if not backed:
            return ["claim_without_server_note"]
    return []


def check_call_ended(events: Sequence[Event]) -> list[str]:
    """The call ended by itself: a hang-up by either side or an escalation, not an outside cancellation."""
    ends = _of(events, "call_end")
    return [] if ends and ends[-1].get("reason") != "cancelled" else ["call_never_ended"]


def check_appointments(
    created: Sequence[AppointmentInfo],
    all_active: Sequence[AppointmentInfo],
    business: BusinessSettings,
    call_started_at: dt.datetime,
) -> list[str]:
    """Rules of the business, checked independently of how the booking code decided."""
    violations: list[str] = []
    by_call: dict[str | None, list[AppointmentInfo]] = {}
    for appointment in created:
        by_call.setdefault(appointment.call_sid, []).append(appointment)
    if any(len(group) > 1 for group in by_call.values()):
        violations.append("duplicate_appointment")
    intervals = sorted((a.start, a.start + dt.timedelta(minutes=a.minutes)) for a in all_active)
    for i, (start, end) in enumerate(intervals):
        overlapping = sum(1 for s, e in intervals[i:] if s < end and start < e)
        if overlapping > business.capacity:
            violations.append("overlapping_appointments")
            break
    for appointment in created:
        problem = check_slot(business, (), appointment.start, call_started_at).reason
        if problem in ("closed_day", "outside_hours", "not_on_slot_grid", "beyond_horizon"):
            violations.append("appointment_outside_hours")
        elif problem in ("too_soon", "in_past"):
            violations.append("appointment_too_soon")
    return sorted(set(violations), key=violations.index)


def check_appointments_in_store(
    store: Store, business_id: int, created: Sequence[AppointmentInfo], call_started_at: dt.datetime
) -> list[str]:
    """`check_appointments` against the business as the database holds it; with settings nobody can read
    (`BrokenSettings`) the only right number of bookings is none."""
    try:
        business = store.get_business(business_id)
    except BrokenSettings:
        return ["booked_with_invalid_settings"] if created else []
    return check_appointments(created, store.list_appointments(business_id), business, call_started_at)


def check_foreign_appointments(
    call_sid: str,
    caller_phone: str | None,
    after: Sequence[AppointmentInfo],
    linked_appointment_id: int | None,
    before: Sequence[AppointmentInfo] | None = None,
) -> list[str]:
    """No appointment of someone else — not booked by this call, and not of its verified caller line —
    was cancelled or moved by the call. Read from the database: who cancelled each appointment, the
    appointment the call's session points at (a move links it), and, for a call that ran alone, any
    start that changed since `before`."""
    start_before = {a.id: a.start for a in before or ()}
    for appointment in after:
        if appointment.call_sid == call_sid or same_line(appointment.phone, caller_phone):
            continue
        cancelled = appointment.cancel_call_sid == call_sid
        moved = appointment.id == linked_appointment_id or start_before.get(appointment.id, appointment.start) != (
            appointment.start
        )
        if cancelled or moved:
            return ["foreign_appointment_touched"]
    return []


ANSWER_WITHIN_MS = 10_000.0
"""A real caller utterance is answered with AI audio within this long (or the call ends first)."""
MIN_ANSWER_MS = 500.0
"""How much AI audio counts as an answer: a fragment cut by a fault is not one."""
GOODBYE_ALLOWANCE_MS = 15_000.0
"""Room for the silence prompt and the goodbye to play on top of the two silence timeouts."""


def _ai_audio(events: Sequence[Event]) -> list[tuple[float, float]]:
    """(time written to the caller, ms of audio) of every AI audio chunk."""
    return [
        (float(e["t"]), float(e.get("bytes", 0)) / 8.0)
        for e in events
        if e.get("ev") == "io" and e.get("peer") == "caller" and e.get("dir") == "out" and e.get("type") == "media"
    ]


def _end_time(events: Sequence[Event]) -> float:
    return max((float(e.get("t", 0.0)) for e in events), default=0.0)


def check_caller_answered(events: Sequence[Event]) -> list[str]:
    """The AI never leaves a caller's real utterance without an audible answer (a mute AI)."""
    audio = _ai_audio(events)
    end = _end_time(events)
    for utterance in _of(events, "utterance"):
        said = float(utterance["t"])
        answered_ms = sum(ms for t, ms in audio if said <= t <= said + ANSWER_WITHIN_MS)
        if end - said > ANSWER_WITHIN_MS and answered_ms < MIN_ANSWER_MS:
            return ["caller_not_answered"]
    return []


def check_caller_heard(events: Sequence[Event]) -> list[str]:
    """What the caller says reaches the conversation: each real utterance is transcribed, or the AI
    asks the caller to repeat it (a `caller_unheard` note), or the model was given up and the runtime's
    handoff line promised a person's call — never silently lost to a fault."""
    by_item, _ = committed_utterances(events)
    transcribed = {
        id(by_item[item])
        for e in _of(events, "realtime", what="user_turn")
        if (item := str(e.get("item_id"))) in by_item
    }
    re_asked = [float(e["t"]) for e in _of(events, "realtime", what="note_injected", kind="caller_unheard")]
    # The model given up: the runtime's handoff line tells the caller a person will get back to them.
    re_asked += [float(e["t"]) for e in _of(events, "runtime_line", line="handoff")]
    end = _end_time(events)
    for utterance in _of(events, "utterance"):
        said = float(utterance["t"])
        if id(utterance) in transcribed or end - said <= ANSWER_WITHIN_MS:
            continue
        if not any(said <= t <= said + ANSWER_WITHIN_MS for t in re_asked):
            return ["caller_not_heard"]
    return []


HEARD_NOTHING_AFTER_MS = 5_000.0
"""A call that lasts longer than this lets the caller hear some AI audio, acknowledged by a mark: the
greeting starts within a second or two of the call, so this long in silence is a call the caller could
not use (`caller_heard_nothing`)."""


def caller_heard_nothing(events: Sequence[Event]) -> bool:
    """The call lasted more than `HEARD_NOTHING_AFTER_MS` and no AI audio reached the caller: no item was
    heard in part or whole, as the AudioActor's playout record (`playout`, `barge_in`) tells from Twilio's
    marks."""
    ends = _of(events, "call_end")
    duration = float(ends[-1]["t"]) if ends else _end_time(events)
    heard = any(
        (e.get("ev") == "playout" and float(e.get("heard_ms", 0.0)) > 0.0)
        or (e.get("ev") == "barge_in" and float(e.get("audio_end_ms", 0.0)) > 0.0)
        for e in events
    )
    return duration > HEARD_NOTHING_AFTER_MS and not heard


def check_caller_heard_something(events: Sequence[Event]) -> list[str]:
    return ["caller_heard_nothing"] if caller_heard_nothing(events) else []


def check_silence_ends_the_call(events: Sequence[Event], silence_timeout_ms: float) -> list[str]:
    """A caller who stays silent is asked once, then said goodbye to: no stretch without caller speech
    or AI audio outlasts two silence timeouts and the time to say those two things."""
    limit = 2 * silence_timeout_ms + GOODBYE_ALLOWANCE_MS
    activity = sorted([float(e["t"]) for e in _of(events, "utterance")] + [t for t, _ in _ai_audio(events)])
    moments = [0.0, *activity, _end_time(events)]
    longest = max((b - a for a, b in itertools.pairwise(moments)), default=0.0)
    return ["silence_not_ended"] if longest > limit else []


def check_trace(events: Sequence[Event], silence_timeout_ms: float = 15_000.0) -> list[str]:
    """Every trace-level invariant (docs/scenario-format.md, "Invariants")."""
    violations: list[str] = []
    for check in (
        check_silence_prompts,
        check_responses_never_overlap,
        check_claims_backed,
        check_no_audio_after_clear,
        check_noise_never_reaches_nlp,
        check_call_ended,
        check_caller_answered,
        check_caller_heard,
        check_caller_heard_something,
    ):
        violations.extend(check(events))
    violations.extend(check_silence_ends_the_call(events, silence_timeout_ms))
    return violations
