"""The dialogue state and the spoken patterns it reads: offers taken by a yes or a pick, refusals and
deferrals, "פחות" and English spoken times, English self-corrections, introductions; with Hypothesis
properties for the invariants (a start is never in the past, a refusal after an offer is always none,
a yes or a pick takes exactly the offered time)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.appointment_nlp import Action, RuleExtractor
from actors.appointment_nlp.replies import read_reply
from actors.appointment_nlp.utterance import parse_utterance
from actors.messages import HistoryTurn

TZ = "Asia/Jerusalem"
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo(TZ))  # a Tuesday
TODAY = NOW.date()


def fold(*turns: tuple[str, str], now: dt.datetime = NOW) -> dict[str, Any]:
    history = [HistoryTurn(role, text) for role, text in turns]  # type: ignore[arg-type]
    return RuleExtractor().extract_sync(history, now, TZ).to_json()


def slot(got: dict[str, Any]) -> tuple[str | None, str | None]:
    return got["date"], got["time"]


# -- spoken times ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("בשבע פחות רבע", "18:45"),
        ("חמש פחות עשרה", "16:50"),  # minutes said with the hour make it a time, as "שש וחצי" does
        ("בחמש פחות עשרה", "16:50"),
        ("בשמונה פחות רבע בערב", "19:45"),
        ("בעשר פחות עשרים", "09:40"),
        ("at fiveish", "17:00"),
        ("around 5ish", "17:00"),
        ("at 4 30", "16:30"),
        ("at ten past four", "16:10"),
        ("move it to 5", "17:00"),
        ("the first one", None),
        ("I have two kids", None),
    ],
)
def test_spoken_times(text: str, expected: str | None) -> None:
    got = parse_utterance(text, TODAY).time
    assert (got.strftime("%H:%M") if got else None) == expected


@given(hour=st.integers(1, 12), quarter=st.sampled_from([("רבע", 15), ("עשרה", 10), ("עשרים", 20), ("חמש", 5)]))
def test_less_is_minutes_before_the_hour_read_by_the_convention(hour: int, quarter: tuple[str, int]) -> None:
    words = ["אחת", "שתיים", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע", "עשר", "אחת עשרה", "שתים עשרה"]
    got = parse_utterance(f"ב{words[hour - 1]} פחות {quarter[0]}", TODAY).time
    full = dt.datetime.combine(TODAY, dt.time(hour + 12 if hour <= 7 else hour))
    assert got == (full - dt.timedelta(minutes=quarter[1])).time()


# -- corrections, introductions, small words ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thursday at four sorry i mean five", ("2026-11-26", "17:00")),
        ("monday at ten actually no eleven", ("2026-11-30", "11:00")),
        ("friday at five no not five six", ("2026-11-27", "18:00")),
        ("tomorrow at 3 no wait make it friday", ("2026-11-27", "15:00")),
        ("at 9 i mean 10 tomorrow", ("2026-11-25", "10:00")),
        ("not at six", (None, None)),  # "not" still rejects
        ("לא בשש, בשבע", (None, "19:00")),
    ],
)
def test_self_corrections(text: str, expected: tuple[str | None, str | None]) -> None:
    said = parse_utterance(text, TODAY)
    got = (said.date.isoformat() if said.date else None, said.time.strftime("%H:%M") if said.time else None)
    assert got == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("שלום זה יוסי רציתי לקבוע תור", "יוסי"),
        ("היי זה טל", "טל"),
        ("שלום מדברת אור", "אור"),
        ("מדברת שמחה", "שמחה"),
        ("שלום רותי מדברת", "רותי"),
        ("hi this is mike here", "mike"),
        ("yeah hi John speaking", "John"),
        ("hi, Hope here", "Hope"),
        # The same words where the sentence does not introduce the speaker.
        ("זה בסדר גמור", None),
        ("זה טוב לי מחר", None),
        ("אני שמחה לשמוע", None),
        ("אז זה יוסי?", None),  # "זה" introduces only at the opening of a turn
        ("this is about my appointment", None),
        ("i hope you have something", None),
        ("hi it's about the booking", None),
    ],
)
def test_introductions(text: str, expected: str | None) -> None:
    assert parse_utterance(text, TODAY).name == expected


def test_small_words_that_change_the_reading() -> None:
    assert parse_utterance("cancel tomorrow's appointment", TODAY).date == dt.date(2026, 11, 25)
    # "but" starts a clause, as a comma does: only 3:30 is offered.
    assert parse_utterance("3 is taken but I have 3:30", TODAY, frozenset({"time"})).slots == ((None, dt.time(15, 30)),)
    assert parse_utterance("השני", TODAY).date is None  # "the second one", not Monday
    assert parse_utterance("רביעי", TODAY, frozenset({"date"})).date == dt.date(2026, 11, 25)


def test_replies() -> None:
    assert read_reply("כן מתאים").yes and not read_reply("no, that's fine").yes
    assert read_reply("no thanks").drops and read_reply("לא משנה תודה").drops and read_reply("neither works").drops
    assert not read_reply("no, that's fine").drops  # refuses the offer, not the request
    assert read_reply("i'll call back later").defers and read_reply("אני אחזור אליכם").defers
    assert read_reply("the first one").place == 0 and read_reply("את האחרון").place == -1


# -- the offer on the table ------------------------------------------------------------------


def test_a_yes_takes_the_one_slot_the_assistant_offered_on_the_day_under_discussion() -> None:
    got = fold(("user", "אני רוצה לקבוע תור למחר"), ("assistant", "מה דעתך על 17:00?"), ("user", "כן מתאים"))
    assert (got["action"], *slot(got)) == ("create_appointment", "2026-11-25", "17:00")
    got = fold(("user", "i need to move my appointment"), ("assistant", "I can offer Thursday at 11."), ("user", "ok"))
    assert (got["action"], *slot(got)) == ("reschedule_appointment", "2026-11-26", "11:00")


def test_a_pick_by_clock_by_place_or_by_day() -> None:
    asked = [("user", "can i come tomorrow"), ("assistant", "Tomorrow I have 10, 11 or 2.")]
    assert slot(fold(*asked, ("user", "two"))) == ("2026-11-25", "14:00")
    assert slot(fold(*asked, ("user", "the first one"))) == ("2026-11-25", "10:00")
    assert slot(fold(*asked, ("user", "the last one"))) == ("2026-11-25", "14:00")
    assert slot(fold(*asked, ("user", "yes"))) == ("2026-11-25", None)  # a yes does not choose among three
    days = [("user", "a manicure please"), ("assistant", "I have tomorrow at 1 or Thursday at 10.")]
    assert slot(fold(*days, ("user", "thursday"))) == ("2026-11-26", "10:00")
    assert slot(fold(*days, ("user", "at 8 pm"))) == (None, "20:00")  # not offered: taken as said


def test_an_offer_after_a_booking_is_a_confirmation_until_the_caller_asks_again() -> None:
    booked = [("user", "book me tomorrow at 5"), ("server", "[SERVER] appointment_created id=1")]
    assert slot(fold(*booked, ("assistant", "Booked for Friday at 4?"), ("user", "yes"))) == ("2026-11-25", "17:00")
    moving = [*booked, ("user", "can i move it"), ("assistant", "I can do Friday at 4."), ("user", "yes")]
    got = fold(*moving)
    assert (got["action"], *slot(got)) == ("reschedule_appointment", "2026-11-27", "16:00")


def test_refusals_and_deferrals() -> None:
    offered = [("user", "can i come tomorrow at 4"), ("assistant", "4 is taken, I have 5 or 6.")]
    assert fold(*offered, ("user", "no thanks, i'll call back"))["action"] == "none"
    assert slot(fold(*offered, ("user", "no, how about seven"))) == ("2026-11-25", "19:00")  # a counter-offer
    # Without an offer on the table a bare "no thanks" ends nothing; a deferral always does.
    asked = [("user", "can i come tomorrow at 4"), ("assistant", "Would you like a reminder text?")]
    assert fold(*asked, ("user", "no thanks"))["action"] == "create_appointment"
    assert fold(*asked, ("user", "actually i'll call you back"))["action"] == "none"
    # Once booked, neither ends the appointment.
    booked = [*offered[:1], ("server", "[SERVER] appointment_created id=2"), ("assistant", "Booked for 4!")]
    assert fold(*booked, ("user", "no thanks bye"))["action"] == "create_appointment"
    assert fold(("user", "i get off work at six so i'll call back later"))["action"] == "none"


def test_next_week_carries_to_a_weekday_said_later() -> None:
    got = fold(("user", "i want to book next week"), ("assistant", "Which day?"), ("user", "wednesday"))
    assert got["date"] == "2026-12-02"
    got = fold(("user", "i want to book tomorrow"), ("assistant", "Which day?"), ("user", "wednesday"))
    assert got["date"] == "2026-11-25"


def test_a_time_already_past_today_is_not_requested() -> None:
    got = fold(("user", "can i come today at 9"))
    assert (got["action"], got["date"], got["time"], got["start"]) == ("create_appointment", "2026-11-24", None, None)
    assert fold(("user", "אפשר תור ל-1/1/2026 בשש"))["date"] is None


# -- invariants ----------------------------------------------------------------------------------

REQUESTS = (
    "i want to book tomorrow at 4",
    "can i come in on friday",
    "אני רוצה לקבוע תור למחר בחמש",
    "אפשר תור ליום חמישי",
    "i'd like an appointment next week",
)
OFFERS = (
    "I have {t}, does that work?",
    "{t} is free.",
    "יש לי ב-{t}, מתאים?",
    "How about {t} or {u}?",
    "יש ב-{t} או ב-{u}",
)
DECLINES = (
    "no thanks i'll check my schedule and call back",
    "no thank you",
    "never mind",
    "nah forget it",
    "לא תודה אני אחזור אליכם",
    "לא משנה",
    "לא עזבי",
    "neither works thanks anyway",
)
times = st.times(dt.time(8, 0), dt.time(19, 45)).map(lambda t: t.replace(minute=t.minute // 15 * 15, second=0))


@settings(max_examples=150)
@given(request=st.sampled_from(REQUESTS), offer=st.sampled_from(OFFERS), first=times, second=times,
       decline=st.sampled_from(DECLINES))  # fmt: skip
def test_a_refusal_after_an_offer_is_always_none(
    request: str, offer: str, first: dt.time, second: dt.time, decline: str
) -> None:
    text = offer.format(t=first.strftime("%H:%M"), u=second.strftime("%H:%M"))
    assert fold(("user", request), ("assistant", text), ("user", decline))["action"] == "none"


@settings(max_examples=150)
@given(request=st.sampled_from(REQUESTS), offered=st.lists(times, min_size=1, max_size=4, unique=True),
       data=st.data())  # fmt: skip
def test_a_pick_by_clock_takes_exactly_the_offered_time(request: str, offered: list[dt.time], data: Any) -> None:
    dial = [(t.hour % 12, t.minute) for t in offered]
    chosen = data.draw(st.sampled_from(offered))
    if dial.count((chosen.hour % 12, chosen.minute)) > 1:
        return  # two offered times on the same 12-hour dial: the pick is ambiguous
    listed = ", ".join(t.strftime("%H:%M") for t in offered)
    hour = chosen.hour % 12 or 12  # said as on a 12-hour clock
    answer = f"{hour}:{chosen.minute:02d} please"
    got = fold(("user", request), ("assistant", f"I have {listed}."), ("user", answer))
    assert got["time"] == chosen.strftime("%H:%M")


@settings(max_examples=150)
@given(request=st.sampled_from(REQUESTS), offered=times, yes=st.sampled_from(["yes", "כן מתאים", "sure that works"]))
def test_a_yes_takes_the_only_offered_time(request: str, offered: dt.time, yes: str) -> None:
    got = fold(("user", request), ("assistant", f"How about {offered.strftime('%H:%M')}?"), ("user", yes))
    assert got["time"] == offered.strftime("%H:%M")


WORDS = (
    "היום מחר today tonight tomorrow at 6 9 11 בשש בתשע בשמונה בבוקר in the morning pm 08:30 23:45 "
    "yes no book cancel 1/1/2026 24.11 31.12 next week Tuesday ביום שלישי at 10 am 7 פחות רבע quarter to"
)


@settings(max_examples=300)
@given(
    now=st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2027, 12, 31)),
    turns=st.lists(st.lists(st.sampled_from(WORDS.split()), min_size=1, max_size=8), min_size=1, max_size=3),
)
def test_an_extracted_start_is_never_in_the_past(now: dt.datetime, turns: list[list[str]]) -> None:
    aware = now.replace(tzinfo=ZoneInfo(TZ))
    history = [HistoryTurn("user", "book " + " ".join(words)) for words in turns]
    action = RuleExtractor().extract_sync(history, aware, TZ)
    assert action.start is None or action.start >= aware
    assert Action.from_json(action.to_json()) == action
