"""SilenceLadder: what the RealtimeActor does about a silent caller: ask once, then say goodbye, then hang up.

It owns the ladder's stage, whether this call's one "are you still on the line?" was used, which
response is the goodbye, and whether the hang-up was asked for. The AudioActor repeats
`SilenceElapsed` every `silence_timeout_ms` of continued silence; each tick is one step:

1. the first tick while nothing is pending and the AI is silent claims the prompt (`"claim_prompt"`:
   the actor asks the store, which grants it once per call across restarts, and reports the answer to
   `prompt_claimed`, which answers `"silence_prompt"`); an unconfirmed claim means no prompt, never a
   possible second one;
2. the next tick, or a refused claim, starts the goodbye stage (`"silence_goodbye"`);
3. a tick while the goodbye stage is on asks for the hang-up again (`"hang_up"`): a silent call always ends.

The goodbye is the first response created once the stage is on; its audio done, or its end without
being cut by us, asks for the hang-up. A real utterance or a barge-in aborts a goodbye whose hang-up was
not asked for yet. Time is the AudioActor's: this part only counts ticks, and returns decisions.
"""

from __future__ import annotations

from typing import Literal

from .trace import Recorder

SilenceStage = Literal["none", "goodbye"]
Tick = Literal["ignored", "claim_prompt", "silence_goodbye", "hang_up"]
PromptAnswer = Literal["unconfirmed", "silence_prompt", "silence_goodbye"]
"""The note (and response) a step asks for is named by its kind: `silence_prompt`, `silence_goodbye`."""


class SilenceLadder:
    def __init__(self, trace: Recorder) -> None:
        self._trace = trace
        self.prompt_used = False
        self.stage: SilenceStage = "none"
        self.goodbye_response_id: str | None = None
        self._hangup_sent = False

    def restore(self, prompt_used: bool, goodbye_unanswered: bool) -> None:
        """A restarted actor resumes the ladder: a goodbye asked for and the caller silent since it."""
        self.prompt_used = prompt_used
        if goodbye_unanswered:
            self.stage = "goodbye"

    def tick(self, pending: bool, speaking: bool) -> Tick:
        if pending or speaking:
            self._trace("silence_ignored", pending=pending, speaking=speaking)
            return "ignored"
        if self.stage == "goodbye":
            # The goodbye failed, had no audio, or the AudioActor restarted and lost the hang-up.
            return "hang_up"
        if not self.prompt_used:
            self.prompt_used = True
            return "claim_prompt"
        return self._goodbye()

    def prompt_claimed(self, claimed: bool | None) -> PromptAnswer:
        """The store's answer to the prompt's claim: granted, refused (asked before a restart), or unknown."""
        if claimed is None:
            self._trace("silence_prompt_unconfirmed")
            return "unconfirmed"  # no prompt (it may have been asked already); the next tick says goodbye
        if claimed:
            self._trace("silence_prompt")
            return "silence_prompt"
        return self._goodbye()

    def _goodbye(self) -> Literal["silence_goodbye"]:
        self.stage = "goodbye"
        self._trace("silence_goodbye")
        return "silence_goodbye"

    def hang_up(self, *, repeat: bool = False) -> bool:
        """Whether to send `HangUpAfterPlayout` now: once, and again for each `repeat` (a later tick)."""
        if self._hangup_sent and not repeat:
            return False
        self._hangup_sent = True
        self._trace("hangup_requested", reason="silence", repeat=repeat)
        return True

    def response_created(self, response_id: str) -> None:
        # Whatever reason it was asked for under, the first response once the goodbye note is in is the goodbye.
        if self.stage == "goodbye" and self.goodbye_response_id is None:
            self.goodbye_response_id = response_id

    def audio_done(self, response_id: str) -> bool:
        """Whether this audio's end asks for the hang-up (the goodbye was said)."""
        return response_id == self.goodbye_response_id and self.hang_up()

    def response_done(self, response_id: str, cut: bool) -> bool:
        """Whether this response's end asks for the hang-up: the goodbye ended, not cut by us.

        Completed, or failed/incomplete on the server's side: either way the goodbye stage ends the
        call (whatever of it was said is played first).
        """
        return response_id == self.goodbye_response_id and not cut and self.hang_up()

    def abort(self, why: str) -> bool:
        """The caller spoke: a goodbye whose hang-up was not asked for yet is called off."""
        if self.stage != "goodbye" or self._hangup_sent:
            return False
        self._trace("silence_goodbye_aborted", why=why)
        self.stage = "none"
        self.goodbye_response_id = None
        return True

    def connection_dropped(self, goodbye_done: bool) -> None:
        if not goodbye_done:
            self.goodbye_response_id = None  # the goodbye is asked for again: its next response is the goodbye
