"""The realtime prompt builder: business facts, today's date in the business's zone, the conversation rules."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from actors.claims import detect_claim
from actors.prompt import HANDOFF_PHRASE, RUNTIME_LINE_TEXT, build_instructions, opening
from store.records import BusinessSettings

HOURS = {
    "sun": [("09:00", "19:00")],
    "mon": [("09:00", "13:00"), ("16:00", "19:00")],
    "tue": [("09:00", "19:00")],
    "wed": [("09:00", "19:00")],
    "thu": [("09:00", "19:00")],
    "fri": [("08:00", "13:00")],
    "sat": [],
}
BUSINESS = BusinessSettings(
    id=1,
    name="מספרת דנה",
    timezone="Asia/Jerusalem",
    opening_hours=HOURS,
    slot_size_min=30,
    min_notice_min=60,
    horizon_days=60,
    capacity=1,
)
# 23:30 UTC on Tuesday 24 Nov 2026 is already Wednesday 25 Nov in Israel (UTC+2).
NOW = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)


def test_hebrew_prompt_has_the_business_the_date_and_the_hours() -> None:
    prompt = build_instructions(BUSINESS, "he", NOW)
    assert "מספרת דנה" in prompt
    assert "רביעי, 2026-11-25" in prompt and "01:30" in prompt
    assert "- שני: 09:00–13:00, 16:00–19:00" in prompt
    assert "- שבת: סגור" in prompt
    assert prompt.index("- ראשון") < prompt.index("- שני") < prompt.index("- שבת")
    assert "30 דקות" in prompt


def test_english_prompt_has_the_business_the_date_and_the_hours() -> None:
    prompt = build_instructions(BUSINESS, "en", NOW)
    assert '"מספרת דנה"' in prompt
    assert "Wednesday, 2026-11-25" in prompt
    assert "- Saturday: closed" in prompt
    assert "- Friday: 08:00–13:00" in prompt


@pytest.mark.parametrize("language", ["he", "en"])
def test_the_rules_are_all_there(language: str) -> None:
    prompt = build_instructions(BUSINESS, language, NOW)  # type: ignore[arg-type]
    for phrase in (HANDOFF_PHRASE[language], *(words[language] for words in RUNTIME_LINE_TEXT.values())):  # type: ignore[index]
        assert phrase in prompt
    assert opening(language, "מספרת דנה") in prompt, "the opening, in the business's name"  # type: ignore[arg-type]
    for kind in ("appointment_created", "outside_hours", "need_name", "need_time", "booking_unavailable"):
        assert kind in prompt
    for kind in ("silence_prompt", "silence_goodbye", "false_claim_cut", "continue_after_noise"):
        assert kind in prompt
    assert "[SERVER]" in prompt


@pytest.mark.parametrize("language", ["he", "en"])
def test_the_prompt_itself_makes_no_claim_the_guard_would_cut(language: str) -> None:
    # The rules quote forbidden phrases only as forbidden; the wording the model is told to use is honest.
    assert detect_claim(HANDOFF_PHRASE[language]) is None  # type: ignore[index]


@pytest.mark.parametrize("language", ["he", "en"])
def test_without_business_settings_the_prompt_offers_no_times(language: str) -> None:
    prompt = build_instructions(None, language, NOW)  # type: ignore[arg-type]
    assert HANDOFF_PHRASE[language] in prompt  # type: ignore[index]
    assert "09:00" not in prompt


def test_coming_special_dates_and_the_greeting_name_are_in_the_prompt() -> None:
    business = attrs.evolve(
        BUSINESS,
        greeting_name="Dana's salon",
        special_days={"2026-11-20": [], "2026-11-26": [], "2026-12-01": [("09:00", "12:00")], "2027-06-01": []},
    )
    english = build_instructions(business, "en", NOW)
    assert '"Dana\'s salon"' in english and "מספרת דנה" not in english
    assert "- Thursday 2026-11-26: closed" in english
    assert "- Tuesday 2026-12-01: 09:00–12:00" in english
    assert "2026-11-20" not in english and "2027-06-01" not in english  # past, and beyond the horizon
    assert "- חמישי 2026-11-26: סגור" in build_instructions(business, "he", NOW)
    assert "Special dates" not in build_instructions(BUSINESS, "en", NOW)
