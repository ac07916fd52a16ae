"""AiSpeech: what the AI said, and how much of it the caller heard.

It owns, per AI item, the audio forwarded to the AudioActor and what the caller heard of it (a finished
playout, a barge-in's cut point, the items waiting for the AudioActor's answer to a false-claim stop),
and, per response, the transcript streamed so far. From them it answers where to truncate the model's
item (never beyond what was forwarded) and which words of an interrupted reply the caller heard: the
part stored as the AI's turn. Amounts are milliseconds of mu-law audio; nothing here waits or sends.
"""

from __future__ import annotations

import re

from .codec import ULAW_BYTES_PER_MS


def heard_part(text: str, heard_ms: int, sent_ms: int) -> str:
    """The share of `text` the caller heard (`heard_ms` of `sent_ms` of audio), cut back to a whole word."""
    if not text or sent_ms <= 0 or heard_ms <= 0:
        return ""
    if heard_ms >= sent_ms:
        return text
    cut = len(text) * heard_ms // sent_ms
    head = text[:cut] if text[cut].isspace() else re.sub(r"\S+$", "", text[:cut])
    return head.strip()


class AiSpeech:
    def __init__(self) -> None:
        self._sent_ms: dict[str, int] = {}
        self._heard_ms: dict[str, int] = {}
        self._heard_at_cut: dict[str, int] = {}
        self._truncate_when_stopped: set[str] = set()
        """Items cut for a false claim, truncated once the AudioActor reports what was heard of them."""
        self._transcripts: dict[str, str] = {}

    def forwarded(self, item_id: str, audio_bytes: int) -> None:
        self._sent_ms[item_id] = self._sent_ms.get(item_id, 0) + audio_bytes // ULAW_BYTES_PER_MS

    def sent_ms(self, item_id: str) -> int:
        return self._sent_ms.get(item_id, 0)

    def playout_finished(self, item_id: str, heard_ms: int) -> None:
        self._heard_ms[item_id] = min(heard_ms, self.sent_ms(item_id))

    def barge_in_cut(self, item_id: str, audio_end_ms: int) -> int | None:
        """Where to truncate an item the caller spoke over; None when none of it was forwarded."""
        sent = self.sent_ms(item_id)
        if not item_id or sent <= 0:
            return None
        heard = self._heard_at_cut[item_id] = min(audio_end_ms, sent)
        return heard

    def truncate_when_stopped(self, item_id: str) -> None:
        """A false claim was cut: only the AudioActor knows what was heard of it; truncate on its answer."""
        if self.sent_ms(item_id) > 0:
            self._truncate_when_stopped.add(item_id)

    def playout_stopped(self, item_id: str, heard_ms: int) -> int | None:
        """The AudioActor's answer to a stop: where to truncate, or None when the item waits for no truncate."""
        if item_id not in self._truncate_when_stopped:
            return None
        self._truncate_when_stopped.discard(item_id)
        heard = max(heard_ms, self._heard_ms.get(item_id, 0))  # a finished playout reported it
        return min(heard, self.sent_ms(item_id))

    def playout_lost(self, item_ids: frozenset[str]) -> tuple[list[str], bool]:
        """A restarted AudioActor dropped what its predecessors had not played of `item_ids`: each of them
        forwarded and neither finished nor cut by a barge-in now counts as heard up to 0 ms, as nothing says
        more was.

        Returns the false-claim items whose stop the predecessor never answered (to truncate at 0 ms, so
        the model's context never keeps the claim), and whether any other item was lost: words the AI has
        to say again."""
        lost = [
            item
            for item in self._sent_ms
            if item in item_ids and item not in self._heard_ms and item not in self._heard_at_cut
        ]
        for item_id in lost:
            self._heard_at_cut[item_id] = 0
        stopped = [item for item in lost if item in self._truncate_when_stopped]
        self._truncate_when_stopped.difference_update(stopped)
        return stopped, len(stopped) < len(lost)

    def transcript_delta(self, response_id: str, delta: str) -> tuple[str, int]:
        """The response's transcript so far with `delta`, and how much of it was there before."""
        checked = self._transcripts.get(response_id, "")
        text = self._transcripts[response_id] = checked + delta
        return text, len(checked)

    def heard_of(self, response_id: str, item_id: str, transcript: str) -> str:
        """The words of an interrupted reply the caller heard (the model's context keeps only these too)."""
        spoken = self._transcripts.get(response_id, "").strip() or transcript
        sent = self.sent_ms(item_id)
        return heard_part(spoken, self._heard_at_cut.get(item_id, sent), sent)
