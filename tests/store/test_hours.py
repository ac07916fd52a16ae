"""Opening hours: accepted shapes, normalisation, the working_hours fallback, and clear errors."""

from __future__ import annotations

import pytest

from store import InvalidHours
from store.hours import effective_hours, parse_opening_hours, parse_working_hours


def test_contract_shape_is_normalised_to_seven_days() -> None:
    hours = parse_opening_hours({"sun": [["09:00", "19:00"]], "Friday": ["08:00-13:00"], "SAT": []})
    assert hours["sun"] == [("09:00", "19:00")]
    assert hours["fri"] == [("08:00", "13:00")]
    assert hours["sat"] == [] and hours["mon"] == []
    assert set(hours) == {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}


def test_several_ranges_a_day_are_sorted() -> None:
    hours = parse_opening_hours({"mon": [["16:00", "19:00"], ["09:00", "13:00"]]})
    assert hours["mon"] == [("09:00", "13:00"), ("16:00", "19:00")]


def test_json_text_is_accepted() -> None:
    assert parse_opening_hours('{"tue": [["10:00", "24:00"]]}')["tue"] == [("10:00", "24:00")]


def test_working_hours_string_means_every_day_but_saturday() -> None:
    hours = parse_working_hours("09:00-13:00, 16:00-19:00")
    assert hours["sat"] == []
    for day in ("sun", "mon", "tue", "wed", "thu", "fri"):
        assert hours[day] == [("09:00", "13:00"), ("16:00", "19:00")]


@pytest.mark.parametrize("empty", [None, {}, {"sun": [], "mon": None}])
def test_empty_opening_hours_fall_back_to_working_hours(empty: object) -> None:
    assert effective_hours(empty, "10:00-18:00")["mon"] == [("10:00", "18:00")]


def test_opening_hours_win_over_working_hours() -> None:
    assert effective_hours({"mon": [["07:00", "08:00"]]}, "10:00-18:00")["sun"] == []


@pytest.mark.parametrize(
    ("opening", "working", "message"),
    [
        ({"mon": [["9:00", "17:00"]]}, None, "not a time of day"),
        ({"mon": [["09:00", "25:00"]]}, None, "not a time of day"),
        ({"mon": [["18:00", "09:00"]]}, None, "closes before it opens"),
        ({"mon": [["09:00", "09:00"]]}, None, "closes before it opens"),
        ({"mon": [["09:00", "13:00"], ["12:00", "15:00"]]}, None, "overlap"),
        ({"funday": [["09:00", "13:00"]]}, None, "unknown weekday"),
        ({"mon": "always"}, None, "not a range"),
        ({"mon": [["09:00"]]}, None, "not a range"),
        ({"mon": 9}, None, "expected a list"),
        (["09:00-17:00"], None, "must be an object"),
        ("{not json", None, "invalid JSON"),
        (None, "9-17", "not a time of day"),
        (None, 42, "working_hours must be"),
        (None, None, "no opening hours"),
        ({"mon": []}, {"sat": []}, "no opening hours"),
        ({"mon": [["09:00", "17:00"]]}, "oops", "not a range"),
    ],
)
def test_malformed_hours_give_a_clear_error(opening: object, working: object, message: str) -> None:
    with pytest.raises(InvalidHours, match=message):
        effective_hours(opening, working)


def test_invalid_hours_is_a_value_error() -> None:
    assert issubclass(InvalidHours, ValueError)
