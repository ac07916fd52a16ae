"""The claim detector: what the false-claim guard and the scenario invariants rely on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import claims
from actors.claims import Claim, detect_claim, detect_new_claim, normalise
from actors.prompt import HANDOFF_PHRASE, RUNTIME_LINE_TEXT, opening

BOOKING_CLAIMS = [
    "העברתי את התור ליום רביעי בחמש",
    "הזזתי לך את הפגישה למחר",
    "I have moved your appointment to Friday at ten.",
    "Your appointment has been rescheduled to Monday.",
    "מעולה, קבעתי לך תור למחר בשש",
    "התור נקבע למחר בשעה 18:00",
    "התור שלך נקבע, נתראה!",
    "הפגישה נקבעה ליום רביעי",
    "רשמתי אותך למחר בארבע",
    "שריינתי לך את השעה חמש",
    "אתה רשום למחר בעשר",
    "Great, I've booked you for tomorrow at six.",
    "I have booked your appointment.",
    "You're booked for Wednesday at 4 pm.",
    "you are all set for tomorrow",
    "Your appointment has been confirmed for 10:00.",
    "I booked you in for Monday",
    "Perfect, I’ve scheduled it.",
]
SENT_CLAIMS = [
    "שלחתי לך את הפרטים בוואטסאפ",
    "שלחנו לך SMS עם האישור",
    "נשלחה לך הודעה עם כל הפרטים",
    "אשלח לך את הכתובת בהודעה",
    "תקבל הודעת SMS עם האישור",
    "I sent you the details by WhatsApp.",
    "I've sent you a text with the address.",
    "I'll send you a confirmation right away.",
    "You'll receive a WhatsApp message shortly.",
    "Please check your WhatsApp.",
]
HONEST = [
    "אפשר להעביר את התור לשעה אחרת?",
    "Shall I move your appointment to Friday?",
    HANDOFF_PHRASE["he"],
    HANDOFF_PHRASE["en"],
    opening("he", "מספרת דנה"),
    opening("en", "Dana's Salon"),
    RUNTIME_LINE_TEXT["still_there"]["he"],
    RUNTIME_LINE_TEXT["still_there"]["en"],
    "שלום, כאן העוזרת הקולית של מספרת דנה. אני יכולה לעזור לקבוע תור. איך אפשר לעזור?",
    "רגע, אני בודקת אם השעה הזאת פנויה",
    "האם לקבוע לך תור למחר בשש?",
    "לא קבעתי לך עדיין תור, אני בודקת",
    "התור עוד לא נקבע",
    "אנחנו סגורים בשבת. אפשר ביום ראשון בעשר או באחת עשרה?",
    "Shall I book you in for tomorrow at six?",
    "Would you like me to schedule an appointment?",
    "I haven't booked anything yet, let me check.",
    "You're not booked yet; I'm checking availability.",
    "Could you tell me your name, please?",
    "We are closed on Saturday; how about Sunday at ten?",
]


@pytest.mark.parametrize("text", BOOKING_CLAIMS)
def test_booking_claims_are_detected(text: str) -> None:
    assert detect_claim(text) == "booking"


@pytest.mark.parametrize("text", SENT_CLAIMS)
def test_sent_details_claims_are_detected(text: str) -> None:
    assert detect_claim(text) == "sent_details"


@pytest.mark.parametrize("text", HONEST)
def test_honest_phrasings_are_not_claims(text: str) -> None:
    assert detect_claim(text) is None


@given(st.sampled_from(BOOKING_CLAIMS + SENT_CLAIMS), st.sampled_from(HONEST), st.sampled_from(HONEST))
def test_a_claim_is_found_anywhere_in_a_longer_reply(claim: str, before: str, after: str) -> None:
    expected = detect_claim(claim)
    assert detect_claim(f"{before} {claim} {after}") == expected


@given(st.lists(st.sampled_from(HONEST), max_size=4))
def test_honest_replies_stay_honest_when_combined(parts: list[str]) -> None:
    assert detect_claim(" ".join(parts)) is None


@given(st.sampled_from(BOOKING_CLAIMS + SENT_CLAIMS), st.data())
def test_a_claim_split_into_deltas_is_found_once_joined(claim: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(claim)))
    prefix = claim[:cut]
    # The guard scans the accumulated transcript: a prefix alone may or may not match, the whole always does.
    assert detect_claim(prefix + claim[cut:]) is not None
    assert detect_claim(prefix) in (None, detect_claim(claim))


@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    assert detect_claim(text) in (None, "booking", "sent_details")


@given(
    st.lists(st.sampled_from(HONEST), min_size=2, max_size=8),
    st.sampled_from([*BOOKING_CLAIMS, *SENT_CLAIMS, ""]),
    st.data(),
)
def test_checking_only_the_new_text_finds_what_a_full_scan_finds(
    honest: list[str], claim: str, data: st.DataObject
) -> None:
    """The guard checks each delta against the tail of the transcript: at every delta it must decide
    exactly as a scan of the whole transcript so far would, up to the first claim."""
    at = data.draw(st.integers(min_value=0, max_value=len(honest)))
    text = " ".join([*honest[:at], claim, *honest[at:]]) if claim else " ".join(honest)
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=len(text) - 1), max_size=40)))
    ends = [*cuts, len(text)]
    checked = 0
    for end in ends:
        full = detect_claim(text[:end])
        assert detect_new_claim(text[:end], checked) == full, (text[:end], checked)
        if full is not None:
            break
        checked = end
    else:
        assert not claim or detect_claim(text) is None


def _word_pieces() -> list[str]:
    """Words and spaces cut from every example and pattern literal, to build texts near the patterns."""
    words = {word for text in [*BOOKING_CLAIMS, *SENT_CLAIMS, *HONEST] for word in normalise(text).split()}
    return sorted(words | {"not", "never", "לא", "טרם", "'ve", "'ll", "'re", "just", "all", "n't"})


def _every_pattern_decides(text: str) -> Claim | None:
    """`detect_claim` without its first, combined scan: each pattern on its own."""
    clean = normalise(text)
    if claims.affirmed(claims.BOOKING_CLAIMS, clean):
        return "booking"
    if claims.affirmed(claims.SENT_CLAIMS, clean):
        return "sent_details"
    return None


@given(
    st.lists(st.sampled_from(_word_pieces()), max_size=14).map(" ".join)
    | st.sampled_from([*BOOKING_CLAIMS, *SENT_CLAIMS, *HONEST])
    | st.text(max_size=80)
)
def test_the_combined_scan_never_hides_a_claim_one_pattern_finds(text: str) -> None:
    clean = normalise(text)
    found_by_one = any(pattern.search(clean) for pattern in (*claims.BOOKING_CLAIMS, *claims.SENT_CLAIMS))
    assert (claims._ANY_CLAIM.search(clean) is not None) == found_by_one
    assert detect_claim(text) == _every_pattern_decides(text)
