"""ClaimGuard without a model: which claims are unbacked, and what the correcting note says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.claim_guard import BOOKING_NOTES, ClaimGuard
from tests.support.recorder import Recorded

BOOKED = "מעולה, קבעתי לך תור למחר בשש"
SENT = "I sent you the details by WhatsApp."
HONEST = "Shall I book you in for tomorrow at six?"


def make() -> tuple[ClaimGuard, Recorded]:
    recorded = Recorded()
    return ClaimGuard(recorded), recorded


def test_a_booking_claim_is_unbacked_until_the_server_booked() -> None:
    guard, _ = make()
    assert guard.unbacked(BOOKED) == "booking"
    guard.noted("appointment_created")
    assert guard.unbacked(BOOKED) is None
    guard.noted("appointment_cancelled")
    assert guard.unbacked(BOOKED) == "booking"


def test_sent_details_are_never_backed_and_honest_text_is_never_cut() -> None:
    guard, _ = make()
    guard.noted("appointment_created")
    assert guard.unbacked(SENT) == "sent_details"
    assert guard.unbacked(HONEST) is None


def test_a_streaming_claim_is_found_once_in_the_delta_that_completes_it() -> None:
    guard, _ = make()
    first = "מעולה, קבעתי"
    assert guard.unbacked_new(first, 0) is None
    assert guard.unbacked_new(BOOKED, len(first)) == "booking"


def test_other_notes_leave_the_backing_alone() -> None:
    guard, _ = make()
    guard.restore(has_appointment=True, note_kinds=[None, "need_date", "outside_hours"])
    assert guard.booking_backed
    guard.noted(None)
    assert guard.booking_backed


def test_a_cut_is_counted_traced_and_answered_with_a_correction() -> None:
    guard, recorded = make()
    note = guard.cut("booking", "resp_1", "item_1", BOOKED)
    assert guard.false_claims_cut == 1
    assert recorded.events == [
        ("false_claim_cut", {"claim": "booking", "response_id": "resp_1", "item_id": "item_1", "text": BOOKED})
    ]
    assert note.startswith("false_claim_cut claim=booking. ")
    assert "never repeat the claim" in note
    assert guard.cut("sent_details", "resp_2", "item_2", SENT).startswith("false_claim_cut claim=sent_details. ")


@given(st.booleans(), st.lists(st.sampled_from([*BOOKING_NOTES, "need_date", None])))
def test_the_newest_booking_note_decides_the_backing(has_appointment: bool, kinds: list[str | None]) -> None:
    guard, _ = make()
    guard.restore(has_appointment, kinds)
    booking_notes = [kind for kind in kinds if kind in BOOKING_NOTES]
    expected = BOOKING_NOTES[booking_notes[-1]] if booking_notes else has_appointment
    assert guard.booking_backed == expected
    assert (guard.unbacked(BOOKED) is None) == expected
