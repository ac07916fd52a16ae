"""Unit tests per rule family of the booking grammar (tokens, dates, times, names, intents, the
conversation fold, the action's wire form) and Hypothesis properties over them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.appointment_nlp import Action, RuleExtractor, asks_again
from actors.appointment_nlp.dates import weekday
from actors.appointment_nlp.dialogue import offered_slots
from actors.appointment_nlp.tokens import tokenize
from actors.appointment_nlp.utterance import parse_utterance
from actors.messages import HistoryTurn

TODAY = dt.date(2026, 11, 24)  # a Tuesday
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
TZ = "Asia/Jerusalem"


def said(text: str, today: dt.date = TODAY):
    return parse_utterance(text, today)


# -- tokens ---------------------------------------------------------------------


def test_hebrew_prefixes_are_kept_apart_from_the_word() -> None:
    [tok] = tokenize("ובשש")
    assert (tok.prefix, tok.text, tok.surface) == ("וב", "שש", "ובשש")
    [clock] = tokenize("ב-11:15")
    assert (clock.prefix, clock.text, clock.shape) == ("ב", "11:15", "clock")
    assert tokenize("מחר")[0].prefix == ""  # a whole word is never split when the lexicon knows it


def test_spellings_are_normalised() -> None:
    assert [t.text for t in tokenize("6 p.m.")] == ["6", "pm"]
    assert tokenize('אחה"צ')[0].text == "אחה״צ"
    assert [t.clause for t in tokenize("לא, אני רוצה")] == [0, 1, 1]


# -- dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("היום", "2026-11-24"),
        ("מחר", "2026-11-25"),
        ("למחרתיים", "2026-11-26"),
        ("the day after tomorrow", "2026-11-26"),
        ("בעוד שבוע", "2026-12-01"),
        ("בעוד שבועיים", "2026-12-08"),
        ("in 3 days", "2026-11-27"),
        ("next week", "2026-12-01"),
        ("ביום ראשון", "2026-11-29"),
        ("ברביעי", "2026-11-25"),
        ("on Tuesday", "2026-12-01"),  # said on a Tuesday: the next one
        ("יום ה'", "2026-11-26"),
        ("ביום שלישי בשבוע הבא", "2026-12-01"),
        ("next week on Sunday", "2026-11-29"),
        ("next Wednesday", "2026-12-02"),
        ("שלישי הבא", None),  # a bare ordinal without "יום"/prefix is not a weekday
        ("ביום שלישי הבא", "2026-12-01"),
        ("3 בדצמבר", "2026-12-03"),
        ("December 3rd", "2026-12-03"),
        ("the 3rd of December", "2026-12-03"),
        ("25 לחודש", "2026-11-25"),
        ("20 לחודש", "2026-12-20"),
        ("on the 5th", "2026-12-05"),
        ("1.12", "2026-12-01"),
        ("1/12/2027", "2027-12-01"),
        ("5 בינואר", "2027-01-05"),
        ("31.2", None),
        ("30 בפברואר", None),
    ],
)
def test_dates(text: str, expected: str | None) -> None:
    got = said(text).date
    assert (got.isoformat() if got else None) == expected


@given(today=st.dates(dt.date(2020, 1, 1), dt.date(2035, 12, 31)), day=st.integers(0, 6), next_week=st.booleans())
def test_weekday_is_ahead_and_on_that_day(today: dt.date, day: int, next_week: bool) -> None:
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    match = weekday(tokenize(names[day]), 0, today, next_week)
    assert match is not None
    date = match[0]
    assert date.weekday() == day
    if next_week:  # in the Sunday-to-Saturday week after today's
        sunday = today - dt.timedelta(days=(today.weekday() + 1) % 7)
        assert sunday + dt.timedelta(days=7) <= date < sunday + dt.timedelta(days=14)
    else:
        assert 1 <= (date - today).days <= 7


# -- times ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("בשש", "18:00"),
        ("בשמונה", "08:00"),
        ("בשתים עשרה", "12:00"),
        ("באחת עשרה", "11:00"),
        ("בשש וחצי", "18:30"),
        ("בשבע ועשרים", "19:20"),
        ("בשבע עשרים", "19:20"),
        ("בשש ועשרים וחמש", "18:25"),
        ("ברבע לחמש", "16:45"),
        ("בעשרה לשש", "17:50"),
        ("בשתיים בצהריים", "14:00"),
        ("בעשר בבוקר", "10:00"),
        ("בשש בערב", "18:00"),
        ("בתשע בלילה", "21:00"),
        ("בשלוש אחר הצהריים", "15:00"),
        ("מחר בצהריים", "12:00"),
        ("ב-11:15", "11:15"),
        ("בשעה 11.30", "11:30"),
        ("18:00", "18:00"),
        ("07:30", "07:30"),
        ("at 6:30", "18:30"),
        ("6pm", "18:00"),
        ("10:30 am", "10:30"),
        ("at noon", "12:00"),
        ("a quarter to five", "16:45"),
        ("half past six", "18:30"),
        ("ten past seven", "19:10"),
        ("eleven in the morning", "11:00"),
        ("at 8 in the evening", "20:00"),
        ("six oh five", "18:05"),
        ("at 6 o'clock", "18:00"),
        ("שש", None),  # a bare number is not a time without a cue
        ("I have two kids", None),
        ("מחמש לשש", "18:00"),  # a range: the later hour is the new one, not 5:55
    ],
)
def test_times(text: str, expected: str | None) -> None:
    got = said(text).time
    assert (got.strftime("%H:%M") if got else None) == expected


@given(hour=st.integers(1, 12), hebrew=st.booleans())
def test_bare_hours_follow_the_business_hours_convention(hour: int, hebrew: bool) -> None:
    words_he = ["אחת", "שתיים", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע", "עשר", "אחת עשרה", "שתים עשרה"]
    text = f"ב{words_he[hour - 1]}" if hebrew else f"at {hour}"
    got = said(text).time
    assert got == dt.time(hour + 12 if hour <= 7 else hour, 0)


@given(hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_24_hour_clock_is_literal(hour: int, minute: int) -> None:
    assert said(f"בשעה {hour:02d}:{minute:02d}").time == dt.time(hour, minute)


# -- names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("קוראים לי דנה", "דנה"),
        ("שמי דנה כהן ואני רוצה תור", "דנה כהן"),
        ("השם שלי יוסי, תודה", "יוסי"),
        ("תרשמי על שם רונית מחר", "רונית"),
        ("שלום, מדברת מיכל", "מיכל"),
        ("my name is Sarah Cohen and I'd like", "Sarah Cohen"),
        ("this is Mike from next door", "Mike"),
        ("This is about my appointment", None),
        ("I'm looking to book", None),
        ("I'm Tom", "Tom"),
        ("name's Kevin", "Kevin"),
        ("קוראים לי", None),
    ],
)
def test_names(text: str, expected: str | None) -> None:
    assert said(text).name == expected


def test_phone_numbers() -> None:
    assert said("המספר שלי 050-1234567").phone == "0501234567"
    assert said("call me at +972501234567").phone == "+972501234567"
    assert said("at 12").phone is None


# -- intents --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("אני רוצה לקבוע תור", "create"),
        ("I want to cancel my appointment", "cancel"),
        ("I'd like to move my appointment", "reschedule"),
        ("אני לא רוצה לבטל", None),
        ("אני לא רוצה לבטל, אני רוצה להזיז", "reschedule"),
        ("לא, אני רוצה לבטל", "cancel"),  # the negation is in another clause
        ("I can't come tomorrow", "cancel"),
        ("I won't be able to make it", "cancel"),
        ("אני מתקשר לגבי התור שלי", None),
        ("אני צריך תור", "create"),
        ("cancel Monday and book Tuesday instead", "reschedule"),
        ("what are your hours?", None),
    ],
)
def test_intents(text: str, expected: str | None) -> None:
    assert said(text).intent == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cancel it please", True),
        ("תבטלי אותו בבקשה", True),
        ("can you move it to 5:30?", True),
        ("so it's at 5:30?", True),  # the slot itself
        ("so is it cancelled?", True),
        ("אז התור בוטל?", True),
        ("ושבוטל?", True),  # prefixes stripped as for any known word
        ("did you move it?", True),
        ("אז הזזת אותו?", True),
        ("so is it booked?", True),
        ("thanks", False),
        ("great, thank you, bye", False),
        ("תודה רבה, להתראות", False),
        ("לא, זהו", False),
        ("what are your hours?", False),
    ],
)
def test_a_turn_asks_again_for_a_request_its_slot_or_its_outcome(text: str, expected: bool) -> None:
    assert asks_again(text, TODAY) is expected


@pytest.mark.parametrize("text", ["is my appointment cancelled?", "האם התור שלי בוטל?", "was it moved?", "הוזז?"])
def test_asking_what_became_of_a_request_is_no_request(text: str) -> None:
    assert said(text).intent is None
    assert fold(("user", text))["action"] == "none"


def test_rejected_and_old_slots() -> None:
    assert said("לא בשש, בשבע").time == dt.time(19, 0)
    assert said("at 11 instead of 10").time == dt.time(11, 0)
    assert said("not at six").time is None
    assert said("from Thursday to Friday").date == dt.date(2026, 11, 27)
    assert said("אני יכולה מחמש").time == dt.time(17, 0)  # "from" alone is still the time said


# -- the conversation -----------------------------------------------------------


def fold(*turns: tuple[str, str]) -> dict:
    history = [HistoryTurn(role, text) for role, text in turns]  # type: ignore[arg-type]
    return RuleExtractor().extract_sync(history, NOW, TZ).to_json()


def test_latest_statement_wins_piece_by_piece() -> None:
    got = fold(("user", "אני רוצה תור מחר בשש, קוראים לי דנה"), ("user", "בעצם ביום חמישי"), ("user", "ובשבע"))
    assert (got["date"], got["time"], got["name"]) == ("2026-11-26", "19:00", "דנה")


def test_server_notes_are_never_the_callers_intent() -> None:
    got = fold(("user", "hello"), ("server", "[SERVER] appointment_cancelled id=3 cancel tomorrow at 5"))
    assert got["action"] == "none"
    got = fold(("user", "hello"), ("user", "[SERVER] cancel my appointment tomorrow at 5"))
    assert got["action"] == "none"


def test_a_new_slot_after_a_confirmed_booking_is_a_reschedule_until_cancelled() -> None:
    booked = [("user", "book me tomorrow at 5"), ("server", "[SERVER] appointment_created id=1")]
    assert fold(*booked, ("user", "actually at 6"))["action"] == "reschedule_appointment"
    assert fold(*booked, ("user", "thanks"))["action"] == "create_appointment"
    after_cancel = [*booked, ("server", "[SERVER] appointment_cancelled id=1")]
    assert fold(*after_cancel, ("user", "book me Sunday at 4"))["action"] == "create_appointment"


def test_assistant_questions_give_bare_answers_a_meaning() -> None:
    got = fold(("user", "I want to book"), ("assistant", "What's your name?"), ("user", "Lisa"))
    assert got["name"] == "Lisa"
    got = fold(("user", "I want to book"), ("assistant", "How about 3?"), ("user", "4 is better"))
    assert got["time"] == "16:00"
    assert fold(("user", "I want to book"), ("user", "Lisa"))["name"] is None


# -- the server's offer ----------------------------------------------------------------

CLOSED_FRIDAY = (
    "[SERVER] outside_hours reason=closed_day requested=2026-11-27T18:00+02:00 "
    "alternatives=2026-11-29T09:00+02:00,2026-11-29T09:30+02:00"
)
ONE_OFFER = (
    "[SERVER] slot_unavailable reason=taken requested=2026-11-27T10:00+02:00 alternatives=2026-11-29T10:00+02:00"
)


def test_a_bare_time_that_is_one_of_the_offered_starts_takes_its_day() -> None:
    asked = [("user", "I'd like Friday at 6pm, I'm Dana"), ("server", CLOSED_FRIDAY)]
    got = fold(*asked, ("assistant", "We're closed on Fridays. Sunday at 9 or 9:30?"), ("user", "9:30 please"))
    assert (got["action"], got["date"], got["time"], got["name"]) == (
        "create_appointment",
        "2026-11-29",
        "09:30",
        "Dana",
    )
    got = fold(*asked, ("assistant", "סגור בשישי. ביום ראשון בתשע או בתשע וחצי?"), ("user", "בתשע וחצי"))
    assert (got["date"], got["time"]) == ("2026-11-29", "09:30")


def test_a_yes_to_the_proposal_takes_the_only_offered_start() -> None:
    asked = [("user", "book me Friday at 10"), ("server", ONE_OFFER)]
    for yes in ("yes", "sure, that works", "כן, מתאים", "בסדר"):
        got = fold(*asked, ("assistant", "Friday at 10 is taken; how about Sunday at 10?"), ("user", yes))
        assert (got["date"], got["time"]) == ("2026-11-29", "10:00"), yes


def test_what_an_offer_does_not_decide() -> None:
    proposal = ("assistant", "Sunday at 9 or 9:30?")
    # Two starts offered: a yes does not choose between them; the refused day stays (and is refused again).
    assert fold(("user", "Friday at 6pm"), ("server", CLOSED_FRIDAY), proposal, ("user", "yes"))["date"] == "2026-11-27"
    # A yes that answers another question, or a no, takes nothing.
    asked = [("user", "book me Friday at 10"), ("server", ONE_OFFER)]
    assert fold(*asked, ("assistant", "What's your name?"), ("user", "yes"))["date"] == "2026-11-27"
    assert fold(*asked, ("assistant", "How about Sunday at 10?"), ("user", "no, that's fine"))["date"] == "2026-11-27"
    # A day the caller names wins over the offer; a time offered on two days does not choose a day.
    assert fold(*asked, ("assistant", "Sunday at 10?"), ("user", "Monday at 10"))["date"] == "2026-11-30"
    two_days = "[SERVER] slot_unavailable reason=taken alternatives=2026-11-29T09:00+02:00,2026-11-30T09:00+02:00"
    got = fold(("user", "Friday at 8"), ("server", two_days), ("assistant", "Sunday or Monday at 9?"), ("user", "9"))
    assert (got["date"], got["time"]) == ("2026-11-27", "09:00")
    # Once an appointment is booked the offer is over.
    booked = [*asked, ("server", "[SERVER] appointment_created id=4"), ("assistant", "Booked for Sunday at 10?")]
    assert fold(*booked, ("user", "yes"))["date"] == "2026-11-27"


def test_offered_starts_are_read_from_the_note_and_bad_entries_skipped() -> None:
    note = "[SERVER] slot_unavailable alternatives=2026-11-29T09:00+02:00,15:30,garbage,2026-11-29T07:30+00:00"
    slots = offered_slots(note, ZoneInfo(TZ))
    assert [slot.isoformat(timespec="minutes") for slot in slots] == [
        "2026-11-29T09:00+02:00",
        "2026-11-29T09:30+02:00",
    ]
    assert offered_slots("[SERVER] slot_unavailable reason=taken", ZoneInfo(TZ)) == ()


# -- the action's wire form -------------------------------------------------------


def test_action_round_trips_and_validates() -> None:
    action = Action.build("create_appointment", dt.date(2026, 11, 25), dt.time(18, 0), TZ, "דנה")
    assert action.to_json() == {
        "action": "create_appointment",
        "start": "2026-11-25T18:00:00+02:00",
        "date": "2026-11-25",
        "time": "18:00",
        "name": "דנה",
        "phone": None,
    }
    assert Action.from_json(action.to_json()) == Action.from_json(action.to_json(), timezone=TZ)
    for bad, reason in [
        ({"action": "book"}, "unknown action"),
        ({"action": "none", "date": 5}, "must be a string"),
        ({"action": "none", "time": "6pm"}, "HH:MM"),
        ({"action": "none", "extra": 1}, "unknown fields"),
        ({"action": "none", "date": "2026-11-25", "time": "18:00"}, "start is null"),
        ({"action": "none", "start": "2026-11-25T18:00:00+02:00", "date": "2026-11-26", "time": "18:00"}, "disagrees"),
        ({"action": "none", "start": "2026-11-25T18:00:00", "date": "2026-11-25", "time": "18:00"}, "UTC offset"),
    ]:
        with pytest.raises(ValueError, match=reason):
            Action.from_json(bad)


@settings(max_examples=300)
@given(text=st.text(max_size=80))
def test_any_text_gives_a_valid_action(text: str) -> None:
    action = RuleExtractor().extract_sync([HistoryTurn("user", text)], NOW, TZ)
    assert Action.from_json(action.to_json()) == action


BOOKING_WORDS = (
    "אני רוצה לקבוע לבטל להזיז תור מחר ביום שלישי בשש וחצי ברבע לחמש בערב קוראים לי דנה לא במקום book cancel "
    "move tomorrow at 6 pm next week on Tuesday my name is Mike instead of not 3 בדצמבר 1.12 18:00"
)


BOOKING_WORDS = (
    "אני רוצה לקבוע לבטל להזיז תור מחר ביום שלישי בשש וחצי ברבע לחמש בערב קוראים לי דנה לא במקום book cancel "
    "move tomorrow at 6 pm next week on Tuesday my name is Mike instead of not 3 בדצמבר 1.12 18:00"
)


@settings(max_examples=100)
@given(
    words=st.lists(
        st.sampled_from(BOOKING_WORDS.split()),
        max_size=14,
    )
)
def test_booking_words_in_any_order_give_a_valid_action(words: list[str]) -> None:
    action = RuleExtractor().extract_sync([HistoryTurn("user", " ".join(words))], NOW, TZ)
    assert Action.from_json(action.to_json()) == action
    assert (action.start is None) == (action.date is None or action.time is None)
