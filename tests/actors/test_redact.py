"""Phone numbers said aloud are masked in what traces and logs keep; dates, times and ids are not."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import HistoryTurn, UserTranscript
from actors.redact import mask_phone_numbers
from actors.trace import Trace, message_fields


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("my number is 050-123-4567 thanks", "my number is ***-***-4567 thanks"),
        ("+972 50 123 4567", "+*** ** *** 4567"),
        ("קוראים לי דנה, 0521234567", "קוראים לי דנה, ******4567"),
        ("call 03.123.4567.", "call **.***.4567."),
    ],
)
def test_phone_numbers_keep_only_their_last_four_digits(said: str, kept: str) -> None:
    assert mask_phone_numbers(said) == kept


@pytest.mark.parametrize(
    "text",
    [
        "appointment_created id=5 start=2026-12-06T18:00:00+02:00",
        "outside_hours alternatives=2026-12-07 09:00, 2026-12-07 09:30",
        "call CAlive0123456789abcdef at 10:30",
        "1500 shekels, 12345678",
    ],
)
def test_dates_times_ids_and_short_numbers_are_left_alone(text: str) -> None:
    assert mask_phone_numbers(text) == text


separators = st.sampled_from(["", " ", "-", "."])


@given(
    st.text(alphabet="abc אבג,", max_size=20),
    st.lists(st.integers(0, 9), min_size=9, max_size=15),
    separators,
    st.text(alphabet="abc אבג,", max_size=20),
)
def test_a_spoken_number_never_survives_whole(before: str, digits: list[int], sep: str, after: str) -> None:
    number = sep.join(map(str, digits))
    masked = mask_phone_numbers(f"{before} {number} {after}")
    assert number not in masked
    assert re.sub(r"\D", "", masked).endswith("".join(map(str, digits[-4:])) + re.sub(r"\D", "", after))


async def test_the_trace_keeps_its_events_with_the_text_masked() -> None:
    trace = Trace("CA1")
    said = "my number is 0501234567"
    message = UserTranscript(turn_id="u1", text=said, history=(HistoryTurn(role="user", text=said),))
    trace.record("send", mailbox="nlp", type="UserTranscript", fields=message_fields(message))
    trace.record("realtime", what="user_turn", item_id="i1", text="my number is 0501234567")
    trace.record("log", actor="nlp", msg="[NLP] phone 0501234567")
    sent, turn, log = trace.events[1:]
    assert sent["fields"]["text"] == turn["text"] == "my number is ******4567"
    assert sent["fields"]["history"][0]["text"] == "my number is ******4567"
    assert log["msg"] == "[NLP] phone ******4567"
    assert [event["ev"] for event in trace.events] == ["trace_start", "send", "realtime", "log"]
