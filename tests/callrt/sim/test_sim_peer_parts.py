"""The simulated peer's pieces on their own: the script format, the reply templates, the voice."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.claims import detect_claim
from actors.codec import ulaw_rms, ulaw_to_pcm16
from callrt.sim.peer_replies import Turn, parse_note, plan_reply, spoken_time
from callrt.sim.peer_script import PeerFault, ScriptError, SimScript
from callrt.sim.peer_voice import speech_audio, speech_duration_ms

SCENARIO = {
    "name": "booking-tomorrow-evening",
    "language": "he",
    "business": {"name": "מספרת דנה", "timezone": "Asia/Jerusalem"},
    "script": [
        {"wait": "ai_done"},
        {"pause_ms": 400},
        {"say": "אני רוצה פגישה מחר בשש בערב, קוראים לי דנה", "ms": 2600},
        {"noise": "cough", "ms": 300, "rms": 900},
        {"say": "תודה", "ms": 600},
        {"silence_ms": 40000},
    ],
    "faults": [
        {"at_ms": 4000, "kind": "crash", "actor": "realtime"},
        {"at_ms": 5000, "kind": "late_transcription", "ms": 1200},
        {"at_ms": 9000, "kind": "realtime_disconnect"},
        {"at_ms": 100, "kind": "db_down", "ms": 3000},
    ],
}


def test_script_from_scenario_keeps_the_says_and_the_peer_faults() -> None:
    script = SimScript.from_scenario(SCENARIO)
    assert script.language == "he" and script.business_name == "מספרת דנה"
    assert script.says == ("אני רוצה פגישה מחר בשש בערב, קוראים לי דנה", "תודה")
    assert script.faults == (
        PeerFault("late_transcription", at_ms=5000, ms=1200),
        PeerFault("realtime_disconnect", at_ms=9000),
    )
    assert SimScript.from_json(script.to_json()) == script


def test_script_json_is_a_valid_header_value() -> None:
    text = SimScript.from_scenario(SCENARIO).to_json()
    assert text.isascii() and "\n" not in text and "\r" not in text
    assert json.loads(text)["s"][1] == "תודה"


@settings(max_examples=60)
@given(
    language=st.sampled_from(["he", "en"]),
    name=st.text(max_size=30),
    says=st.lists(st.text(max_size=60), max_size=6),
    faults=st.lists(
        st.builds(
            PeerFault,
            kind=st.sampled_from(["realtime_disconnect", "late_transcription", "duplicate_events", "ai_false_claim"]),
            at_ms=st.integers(0, 600_000),
            ms=st.integers(0, 10_000),
        ),
        max_size=4,
    ),
)
def test_script_json_round_trip(language: str, name: str, says: list[str], faults: list[PeerFault]) -> None:
    script = SimScript(language=language, business_name=name, says=tuple(says), faults=tuple(faults))  # type: ignore[arg-type]
    text = script.to_json()
    assert text.isascii()
    assert SimScript.from_json(text) == script


@pytest.mark.parametrize(
    "bad", ["", "[]", '{"l": "fr"}', '{"f": [{"kind": "crash"}]}', '{"f": [{"kind": "ai_false_claim", "at_ms": "x"}]}']
)
def test_bad_script_json_is_refused(bad: str) -> None:
    with pytest.raises(ScriptError):
        SimScript.from_json(bad)


def test_notes_parse() -> None:
    note = parse_note("[SERVER] outside_hours reason=closed_day alternatives=a,b,c")
    assert note is not None and note.kind == "outside_hours"
    assert note.fields == {"reason": "closed_day", "alternatives": "a,b,c"}
    assert parse_note("hello") is None and parse_note("[SERVER]") is None


def test_spoken_times() -> None:
    assert spoken_time("2026-11-25T18:00+02:00", "he") == "ליום רביעי 25.11 בשעה 18:00"
    assert spoken_time("2026-11-25T18:00:00+02:00", "en") == "Wednesday 25 November at 18:00"
    assert spoken_time("18:30", "he") == "בשעה 18:30"
    assert spoken_time("18:30", "en") == "18:30"


@pytest.mark.parametrize(
    ("note", "he", "en"),
    [
        ("[SERVER] silence_prompt", "אתה עדיין על הקו?", "Are you still on the line?"),
        (
            "[SERVER] need_name start=2026-11-25T18:00+02:00",
            "על איזה שם לרשום את התור?",
            "What name should I book it under?",
        ),
        ("[SERVER] need_time date=2026-11-25", "לאיזו שעה?", "What time would suit you?"),
        ("[SERVER] need_date", "לאיזה יום?", "Which day would you like?"),
        (
            "[SERVER] false_claim_cut",
            "סליחה, עוד לא קבעתי את התור — אני בודקת.",
            "Sorry, I haven't booked it yet — I'm checking.",
        ),
    ],
)
def test_note_replies(note: str, he: str, en: str) -> None:
    turns = [Turn("assistant", "שלום"), Turn("user", "x"), Turn("system", note)]
    assert plan_reply(turns, "he", "b") == he
    assert plan_reply(turns, "en", "b") == en
    assert detect_claim(he) is None and detect_claim(en) is None


def test_reply_choice() -> None:
    greeting = plan_reply([], "he", "מספרת דנה")
    assert greeting.endswith("איך אפשר לעזור?") and "מספרת דנה" in greeting
    assert plan_reply([Turn("assistant", greeting), Turn("user", "שלום")], "en", "x") == "One moment, let me check."
    # A server note wins over a newer user turn; an answered note is not answered again.
    booked = "[SERVER] appointment_created id=7 start=2026-11-25T18:00+02:00"
    confirmation = plan_reply([Turn("assistant", greeting), Turn("system", booked), Turn("user", "הלו?")], "he", "x")
    assert confirmation == "מעולה, קבעתי לך תור ליום רביעי 25.11 בשעה 18:00. נתראה!"
    after = [Turn("assistant", greeting), Turn("system", booked), Turn("assistant", confirmation), Turn("user", "תודה")]
    assert plan_reply(after, "he", "x") == "רגע, אני בודקת."
    assert plan_reply([Turn("assistant", greeting)], "en", "x") == "Yes, I'm here. How can I help?"
    noise = [
        Turn("assistant", "We're closed then. I can offer 9:00 or 10:00."),
        Turn("system", "[SERVER] continue_after_noise"),
    ]
    assert plan_reply(noise, "en", "x") == "As I was saying, We're closed then."
    repeat = [Turn("assistant", "מעולה, קבעתי לך תור ליום רביעי 25.11 בשעה 18:00. נתראה!")]
    repeat.append(Turn("system", "[SERVER] continue_after_noise"))
    assert plan_reply(repeat, "he", "x") == "כמו שאמרתי, מעולה, קבעתי לך תור ליום רביעי 25.11 בשעה 18:00."
    callback = plan_reply([Turn("assistant", "x"), Turn("system", "[SERVER] booking_unavailable")], "he", "x")
    assert "אעביר את הפרטים לנציג והוא יחזור אליך בהמשך" in callback and detect_claim(callback) is None


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["user", "assistant", "system"]),
            st.sampled_from(
                [
                    "אני רוצה תור",
                    "[SERVER] outside_hours reason=closed alternatives=2026-11-29T09:00+02:00",
                    "[SERVER] need_name",
                    "[SERVER] silence_prompt",
                    "[SERVER] false_claim_cut",
                    "[SERVER] continue_after_noise",
                    "[SERVER] booking_unavailable",
                    "[SERVER] appointment_created id=1 start=2026-11-25T18:00+02:00",
                    "[SERVER] mystery_kind",
                ]
            ),
        ),
        max_size=8,
    ),
    st.sampled_from(["he", "en"]),
)
def test_a_booking_is_claimed_only_when_an_appointment_note_backs_it(raw: list[tuple[str, str]], language: str) -> None:
    # The assistant's own turns are what it really said: replay them through the planner.
    turns: list[Turn] = []
    for speaker, text in raw:
        if speaker == "assistant":
            turns.append(Turn("assistant", plan_reply(turns, language, "b")))  # type: ignore[arg-type]
        else:
            turns.append(Turn(speaker, text))  # type: ignore[arg-type]
    text = plan_reply(turns, language, "b")  # type: ignore[arg-type]
    last_assistant = max((i for i, t in enumerate(turns) if t.speaker == "assistant"), default=-1)
    unanswered = [t.text.split()[1] for t in turns[last_assistant + 1 :] if t.speaker == "system"]
    ever_booked = any(t.speaker == "system" and "appointment_created" in t.text for t in turns)
    if detect_claim(text) == "booking":
        assert ever_booked, text  # a repeat after noise may restate a confirmation, never invent one
    if unanswered and unanswered[-1] == "appointment_created":
        assert detect_claim(text) == "booking", text


def test_voice_is_speech_like_and_deterministic() -> None:
    text = "שלום, הגעת למספרת דנה"
    audio = speech_audio(text, "g711_ulaw")
    assert audio == speech_audio(text, "audio/pcmu")
    assert len(audio) == 8 * speech_duration_ms(text) == 8 * 60 * len(text)
    assert 1800 < ulaw_rms(audio) < 2200
    pcm = ulaw_to_pcm16(audio).astype(np.float64)
    frames = pcm[: len(pcm) // 160 * 160].reshape(-1, 160)
    frame_rms = np.sqrt((frames**2).mean(axis=1))
    assert frame_rms.min() < 400 < 1500 < frame_rms.max()  # syllables and gaps, not a flat tone
    assert speech_audio("כן", "g711_ulaw") != speech_audio("לא", "g711_ulaw")
    assert len(speech_audio("כן", "g711_ulaw")) == 8 * 600  # the 600 ms minimum
    pcm24 = speech_audio(text, "pcm16")
    assert len(pcm24) == 2 * 24 * 60 * len(text)
