"""The invariant checks can fail: each violation of docs/scenario-format.md is found on a trace that has it,
and not on the same trace without it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from callrt.scenario.invariants import (
    HEARD_NOTHING_AFTER_MS,
    check_appointments,
    check_call_ended,
    check_caller_answered,
    check_caller_heard,
    check_caller_heard_something,
    check_claims_backed,
    check_foreign_appointments,
    check_no_audio_after_clear,
    check_noise_never_reaches_nlp,
    check_responses_never_overlap,
    check_silence_ends_the_call,
    check_silence_prompts,
)
from store import AppointmentInfo, BusinessSettings

TZ = dt.timezone(dt.timedelta(hours=2))
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=TZ)


def ev(t: float, ev: str, **fields: Any) -> dict[str, Any]:
    return {"t": t, "ev": ev, **fields}


def model(t: float, direction: str, type_: str) -> dict[str, Any]:
    return ev(t, "io", peer="model", dir=direction, type=type_)


def test_response_while_pending() -> None:
    ok = [model(0, "out", "response.create"), model(5, "in", "response.done"), model(6, "out", "response.create")]
    assert check_responses_never_overlap(ok) == []
    overlapping = [model(0, "out", "response.create"), model(1, "out", "response.create")]
    assert check_responses_never_overlap(overlapping) == ["response_while_pending"]
    reconnected = [model(0, "out", "response.create"), ev(1, "realtime", what="model_connected"), *overlapping[1:]]
    assert check_responses_never_overlap(reconnected) == []
    refused = [ev(1, "realtime", what="model_error", code="conversation_already_has_active_response")]
    assert check_responses_never_overlap(refused) == ["response_while_pending"]


def test_more_than_one_silence_prompt() -> None:
    one = [ev(15_000, "realtime", what="silence_prompt")]
    assert check_silence_prompts(one) == []
    assert check_silence_prompts(one * 2) == ["more_than_one_silence_prompt"]


def ai_turn(text: str, audio_bytes: int, heard_ms: float, note_first: bool) -> list[dict[str, Any]]:
    events = [ev(0, "realtime", what="note_injected", text="[SERVER] appointment_created id=1")] if note_first else []
    return [
        *events,
        ev(10, "realtime", what="response_created", response_id="r1"),
        ev(11, "io", peer="caller", dir="out", type="media", item_id="i1", bytes=audio_bytes),
        ev(20, "realtime", what="ai_turn", response_id="r1", item_id="i1", text=text),
        ev(900, "playout", item_id="i1", heard_ms=heard_ms, finished=False),
    ]


def test_claim_without_server_note_counts_only_what_was_heard() -> None:
    claim = "רגע אחד בבקשה, קבעתי לך תור למחר"
    assert check_claims_backed(ai_turn(claim, 16_000, 2000, note_first=False)) == ["claim_without_server_note"]
    assert check_claims_backed(ai_turn(claim, 16_000, 2000, note_first=True)) == []
    # Cut after the first words: the caller never heard the claim.
    assert check_claims_backed(ai_turn(claim, 16_000, 300, note_first=False)) == []
    sent = "I sent you the details by SMS"
    assert check_claims_backed(ai_turn(sent, 16_000, 2000, note_first=True)) == ["claim_without_server_note"]


def test_audio_after_clear() -> None:
    media = ev(3000, "io", peer="caller", dir="out", type="media", item_id="i1", bytes=800)
    barge = ev(2000, "barge_in", item_id="i1", speech_at_ms=1800, audio_end_ms=1500)
    assert check_no_audio_after_clear([media, barge]) == []
    assert check_no_audio_after_clear([barge, media]) == ["audio_after_clear"]


def test_noise_reached_nlp() -> None:
    utterance = ev(1000, "utterance", at_ms=0, duration_ms=900)
    commit = model(1000, "out", "input_audio_buffer.commit")
    assert check_noise_never_reaches_nlp([utterance, commit]) == []
    assert check_noise_never_reaches_nlp([ev(500, "ignored_segment"), commit]) == ["noise_reached_nlp"]
    heard = [utterance, *committed(1000, "u1"), ev(1500, "realtime", what="user_turn", item_id="u1", text="hi")]
    assert check_noise_never_reaches_nlp(heard) == []
    stray = ev(2000, "realtime", what="user_turn", item_id="x9", text="cough")
    assert check_noise_never_reaches_nlp([*heard, stray]) == ["noise_reached_nlp"]


def test_call_never_ended() -> None:
    assert check_call_ended([ev(0, "call_start")]) == ["call_never_ended"]
    assert check_call_ended([ev(9, "call_end", by="supervisor", reason="cancelled")]) == ["call_never_ended"]
    assert check_call_ended([ev(9, "call_end", by="ai", reason="silence")]) == []


BUSINESS = BusinessSettings(
    id=1,
    name="b",
    timezone="Asia/Jerusalem",
    opening_hours={d: [("09:00", "19:00")] for d in ("sun", "mon", "tue", "wed", "thu")},
    slot_size_min=30,
    min_notice_min=60,
    horizon_days=60,
    capacity=1,
)


def booked(appointment_id: int, hour: int, minute: int = 0, call: str = "CA1", day: int = 25) -> AppointmentInfo:
    start = dt.datetime(2026, 11, day, hour, minute, tzinfo=TZ)
    return AppointmentInfo(
        id=appointment_id, start=start, minutes=30, name="x", phone=None, call_sid=call, status="active"
    )


def test_appointment_rules_are_checked_independently_of_the_booking_code() -> None:
    good = booked(1, 18)
    assert check_appointments([good], [good], BUSINESS, NOW) == []
    assert check_appointments([good, booked(2, 17)], [good], BUSINESS, NOW) == ["duplicate_appointment"]
    overlap = booked(3, 18, 15, call="CA2")
    assert check_appointments([good], [good, overlap], BUSINESS, NOW) == ["overlapping_appointments"]
    late = booked(4, 21)
    assert check_appointments([late], [late], BUSINESS, NOW) == ["appointment_outside_hours"]
    saturday = booked(5, 10, day=28)
    assert check_appointments([saturday], [saturday], BUSINESS, NOW) == ["appointment_outside_hours"]
    soon = booked(6, 10, 30, day=24)
    assert check_appointments([soon], [soon], BUSINESS, NOW) == ["appointment_too_soon"]


def media(t: float, ms: float = 100.0) -> dict[str, Any]:
    return ev(t, "io", peer="caller", dir="out", type="media", item_id="i", bytes=int(ms * 8))


def test_caller_not_answered() -> None:
    said = ev(5000, "utterance", at_ms=3000, duration_ms=2000)
    answer = [media(5100 + 10 * i) for i in range(9)]
    end = ev(30_000, "call_end", by="ai", reason="silence")
    assert check_caller_answered([said, *answer, end]) == []
    assert check_caller_answered([said, *answer[:2], end]) == ["caller_not_answered"], "a cut fragment is no answer"
    assert check_caller_answered([said, ev(9000, "call_end", by="caller", reason="stop")]) == []


def committed(t: float, item: str) -> list[dict[str, Any]]:
    return [
        model(t, "out", "input_audio_buffer.commit"),
        {**model(t, "in", "input_audio_buffer.committed"), "item_id": item},
    ]


def test_caller_not_heard() -> None:
    said = ev(5000, "utterance", at_ms=3000, duration_ms=2000)
    end = ev(30_000, "call_end", by="ai", reason="silence")
    transcribed = ev(5600, "realtime", what="user_turn", item_id="u1", text="מחר בשש")
    assert check_caller_heard([said, *committed(5000, "u1"), transcribed, end]) == []
    assert check_caller_heard([said, *committed(5000, "u1"), end]) == ["caller_not_heard"]
    re_asked = ev(6000, "realtime", what="note_injected", kind="caller_unheard", text="[SERVER] caller_unheard")
    assert check_caller_heard([said, *committed(5000, "u1"), re_asked, end]) == []
    # After a reconnect, the untranscribed utterance is committed again and heard under a new item id.
    replayed = [ev(6000, "realtime", what="model_connected"), *committed(6000, "u2")]
    late = ev(6500, "realtime", what="user_turn", item_id="u2", text="מחר בשש")
    assert check_caller_heard([said, *committed(5000, "u1"), *replayed, late, end]) == []
    assert check_noise_never_reaches_nlp([said, *committed(5000, "u1"), *replayed, late, end]) == []


def test_silence_not_ended() -> None:
    greeting = [media(100 + 10 * i) for i in range(30)]
    prompt, goodbye = media(18_700), media(34_700)
    ended = ev(38_000, "call_end", by="ai", reason="silence")
    assert check_silence_ends_the_call([*greeting, prompt, goodbye, ended], 15_000) == []
    assert check_silence_ends_the_call([*greeting, prompt, ev(184_000, "call_end", by="caller")], 15_000) == [
        "silence_not_ended"
    ]


def test_foreign_appointment_touched() -> None:
    def appointment(id_: int, phone: str | None, **changes: Any) -> AppointmentInfo:
        fields: dict[str, Any] = {
            "start": NOW + dt.timedelta(days=1),
            "minutes": 30,
            "name": "x",
            "call_sid": None,
            "status": "booked",
        }
        return AppointmentInfo(id=id_, phone=phone, **{**fields, **changes})

    stranger, own_line, booked_here = (
        appointment(1, "+972529876543"),
        appointment(2, "0501234567"),
        appointment(3, "+972529876543", call_sid="CA1"),
    )
    before = [stranger, own_line, booked_here]
    caller = "+972501234567"
    assert check_foreign_appointments("CA1", caller, before, None, before) == []
    # The caller's own line (said in another form) and what this call booked may be cancelled and moved.
    later = NOW + dt.timedelta(days=2)
    mine = [
        stranger,
        appointment(2, "0501234567", status="cancelled", cancel_call_sid="CA1"),
        appointment(3, "+972529876543", call_sid="CA1", start=later),
    ]
    assert check_foreign_appointments("CA1", caller, mine, 2, before) == []
    cancelled = appointment(1, "+972529876543", status="cancelled", cancel_call_sid="CA1")
    assert check_foreign_appointments("CA1", caller, [cancelled], None) == ["foreign_appointment_touched"]
    assert check_foreign_appointments("CA2", caller, [cancelled], None) == []  # another call did it
    assert check_foreign_appointments("CA1", caller, [stranger], 1) == ["foreign_appointment_touched"]  # moved, linked
    moved = appointment(1, "+972529876543", start=later)
    assert check_foreign_appointments("CA1", caller, [moved], None, before) == ["foreign_appointment_touched"]
    # A withheld line owns nothing but what the call booked.
    assert check_foreign_appointments("CA1", None, [appointment(2, "0501234567", cancel_call_sid="CA1")], None) == [
        "foreign_appointment_touched"
    ]


def test_caller_heard_nothing() -> None:
    """The AI's audio was written to the line, but no mark came back for it: the caller heard nothing."""
    written = [ev(0, "call_start"), media(400), media(500)]
    ended = ev(HEARD_NOTHING_AFTER_MS + 1, "call_end", by="caller", reason="hangup")
    assert check_caller_heard_something([*written, ended]) == ["caller_heard_nothing"]
    played = ev(3000, "playout", item_id="i1", heard_ms=200.0, finished=True)
    assert check_caller_heard_something([*written, played, ended]) == []
    cut = ev(900, "barge_in", item_id="i1", speech_at_ms=800, clear_at_ms=900, audio_end_ms=300)
    assert check_caller_heard_something([*written, cut, ended]) == []
    unplayed = ev(900, "playout", item_id="i1", heard_ms=0, finished=False)
    assert check_caller_heard_something([*written, unplayed, ended]) == ["caller_heard_nothing"]
    short = ev(HEARD_NOTHING_AFTER_MS, "call_end", by="caller", reason="hangup")
    assert check_caller_heard_something([*written, short]) == [], "a caller who left within 5 s missed nothing"
    never_ended = [*written, ev(HEARD_NOTHING_AFTER_MS + 1, "log", actor="audio", msg="still going")]
    assert check_caller_heard_something(never_ended) == ["caller_heard_nothing"]


@given(
    duration=st.floats(0, 10 * HEARD_NOTHING_AFTER_MS, allow_nan=False),
    heard=st.lists(st.floats(0, 5000, allow_nan=False), max_size=4),
)
def test_caller_heard_nothing_exactly_when_a_long_call_played_nothing(duration: float, heard: list[float]) -> None:
    events = [
        *(ev(1.0, "playout", item_id=f"i{i}", heard_ms=ms, finished=True) for i, ms in enumerate(heard)),
        ev(duration, "call_end", by="ai", reason="silence"),
    ]
    expected = duration > HEARD_NOTHING_AFTER_MS and not any(ms > 0 for ms in heard)
    assert check_caller_heard_something(events) == (["caller_heard_nothing"] if expected else [])
