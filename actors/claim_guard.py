"""ClaimGuard: whether the AI may say what it just said: a booking only the server made, details never.

It owns whether a booking backs a claim now (the newest of the `appointment_created` /
`appointment_rescheduled` / `appointment_cancelled` notes decides; without one, the call session's
appointment) and how many claims were cut. The detector itself is `claims`; the cut (stop the
playout, cancel, truncate at what was heard, ask for a correction) is the actor's I/O: this part
says which claim is unbacked and what the correcting note says.
"""

from __future__ import annotations

from collections.abc import Iterable

from .claims import Claim, detect_claim, detect_new_claim
from .trace import Recorder

BOOKING_NOTES: dict[str, bool] = {
    "appointment_created": True,
    "appointment_rescheduled": True,
    "appointment_cancelled": False,
}
"""Server notes that change whether a booking claim is backed."""

_CLAIM_TEXT: dict[Claim, str] = {
    "booking": "claim=booking. Your last reply said an appointment was booked, but the server booked nothing.",
    "sent_details": "claim=sent_details. Your last reply said details were sent, but nothing can be sent.",
}
_CORRECTION = "Correct yourself in one short sentence and continue honestly; never repeat the claim."


class ClaimGuard:
    def __init__(self, trace: Recorder) -> None:
        self._trace = trace
        self.booking_backed = False
        self.false_claims_cut = 0

    def restore(self, has_appointment: bool, note_kinds: Iterable[str | None]) -> None:
        """A restarted actor's backing: the newest booking note decides, a cancelled one backs nothing."""
        self.booking_backed = has_appointment
        for kind in note_kinds:
            self.noted(kind)

    def noted(self, kind: str | None) -> None:
        """A server note went into the conversation: a booking note changes the backing."""
        self.booking_backed = BOOKING_NOTES.get(kind or "", self.booking_backed)

    def unbacked_new(self, text: str, checked: int) -> Claim | None:
        """An unbacked claim completed by the text after its first `checked` characters (a streaming delta)."""
        return self._unbacked(detect_new_claim(text, checked))

    def unbacked(self, text: str) -> Claim | None:
        """An unbacked claim anywhere in a whole transcript."""
        return self._unbacked(detect_claim(text))

    def _unbacked(self, claim: Claim | None) -> Claim | None:
        if claim is None or (claim == "booking" and self.booking_backed):
            return None
        return claim

    def cut(self, claim: Claim, response_id: str, item_id: str, text: str) -> str:
        """Count a cut claim; returns the text of the `false_claim_cut` note asking the AI to correct itself."""
        self.false_claims_cut += 1
        self._trace("false_claim_cut", claim=claim, response_id=response_id, item_id=item_id, text=text)
        return f"false_claim_cut {_CLAIM_TEXT[claim]} {_CORRECTION}"
