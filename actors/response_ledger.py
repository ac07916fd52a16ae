"""ResponseLedger: the model's responses, one at a time: the pending guard, cancels, and what the AI is saying.

It owns whether a response is pending (asked for with `response.create`, or started by the server) and
which one is active, why each was asked for, the wish for a response that could not be sent yet (held
back by the guard or until the session is ready, or lost with a connection: one response serves every
wish queued meanwhile), which responses are done or were cut by us, and whether the AI is speaking.

The invariant it keeps: never a `response.create` while one is pending. It decides and the actor sends:
`request` answers `"send"`, `"guard"` or `"defer"`, and the actor reports back with `create_sent` or
`create_unsent`. Its trace events (`guard_skip`, `response_deferred`, `response_create`,
`response_created`, `response_done`) go to the recorder it is given, the guard's call-log line to `log`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from .trace import Recorder

GUARD_LINE = "[GUARD] Skipping AI response – previous response still pending."

Request = Literal["send", "guard", "defer"]


class ResponseLedger:
    def __init__(self, trace: Recorder, log: Callable[[str], None]) -> None:
        self._trace = trace
        self._log = log
        self.pending = False
        self.active: str | None = None
        self.speaking = False
        """The AI's audio is streaming: from its output item (or first audio) to its audio done."""
        self.last_item: str | None = None
        """The AI's latest output item."""
        self.wanted: str | None = None
        """A response owed and not asked for yet, by its reason."""
        self._create_reason: str | None = None
        self._create_event_id: str | None = None
        self._reasons: dict[str, str] = {}
        self._done: set[str] = set()
        self._cut: set[str] = set()
        self._transcript_finished: set[str] = set()

    @property
    def quiet(self) -> bool:
        """Nothing pending and the AI not speaking: a moment where a session may rotate or silence counts."""
        return not self.pending and not self.speaking

    # ------------------------------------------------------------------ asking

    def request(self, reason: str, ready: bool) -> Request:
        """Whether a response asked for under `reason` may be created now; if not, it is remembered."""
        if self.pending:
            self._log(GUARD_LINE)
            self._trace("guard_skip", reason=reason, pending=self.active)
            self.wanted = reason
            return "guard"
        if not ready:
            self._trace("response_deferred", reason=reason)
            self.wanted = reason
            return "defer"
        return "send"

    def owe(self, reason: str) -> None:
        """A response the previous instance left owed: asked for once the session is ready."""
        self.wanted = reason
        self._trace("response_deferred", reason=reason)

    def create_sent(self, reason: str, event_id: str) -> None:
        self.pending = True
        self._create_reason = reason
        self._create_event_id = event_id
        self._trace("response_create", reason=reason)

    def create_unsent(self, reason: str) -> None:
        """The create could not be sent (the connection dropped): it is owed to the next session."""
        self.wanted = reason

    def take_wanted(self, ready: bool) -> str | None:
        """The reason of an owed response that may be asked for now (it is then no longer owed)."""
        if self.wanted is None or self.pending or not ready:
            return None
        reason, self.wanted = self.wanted, None
        return reason

    def forget_wish(self, reason: str) -> None:
        """An owed response under `reason` is no longer wanted (the caller spoke before the goodbye)."""
        if self.wanted == reason:
            self.wanted = None

    def create_refused(self, event_id: str | None, code: str | None) -> None:
        """An `error` naming our last create, before any response started: nothing is pending any more."""
        if (
            event_id is not None
            and event_id == self._create_event_id
            and self.active is None
            and code != "conversation_already_has_active_response"
        ):
            self.pending = False
            self._create_reason = None

    # ------------------------------------------------------------------ the server's side

    def created(self, response_id: str) -> bool:
        """A `response.created`: False for one already known (a repeat, or done already)."""
        if response_id in self._done or response_id == self.active:
            return False
        # A response we did not ask for (server VAD) is just as pending as ours.
        self.pending = True
        self.active = response_id
        reason = self._create_reason or "server"
        self._create_reason = None
        self._reasons[response_id] = reason
        self._trace("response_created", response_id=response_id, reason=reason)
        return True

    def item_added(self, response_id: str, item_id: str) -> None:
        if response_id not in self._cut and response_id not in self._done:
            self.speaking = True
            self.last_item = item_id

    def audio_delta(self, response_id: str, item_id: str) -> bool:
        """Whether this audio goes to the caller: not for a response cut or already done."""
        if response_id in self._cut or response_id in self._done:
            return False
        self.speaking = True
        self.last_item = item_id
        return True

    def audio_done(self, response_id: str) -> bool:
        """Whether the end of this audio is the caller's business (not for a cut response)."""
        if response_id in self._cut:
            return False
        self.speaking = False
        return True

    def item_done(self, item_id: str) -> None:
        if item_id == self.last_item:
            self.speaking = False

    def transcribing(self, response_id: str) -> bool:
        """Whether a transcript delta of this response still counts (not cut, not done)."""
        return response_id not in self._cut and response_id not in self._done

    def transcript_finished(self, response_id: str) -> bool:
        """A transcript done: False when this response's transcript had finished already."""
        if response_id in self._transcript_finished:
            return False
        self._transcript_finished.add(response_id)
        return True

    def done(self, response_id: str, status: str) -> bool:
        """A `response.done`, whatever its status: nothing is pending. False for a repeat."""
        if response_id in self._done:
            return False
        self._done.add(response_id)
        self.pending = False
        self.speaking = False
        self.active = None
        self._create_reason = None
        self._trace("response_done", response_id=response_id, status=status)
        return True

    def reason_of(self, response_id: str) -> str | None:
        """Why this response was asked for (`server` for one we did not ask for); None for an unknown one."""
        return self._reasons.get(response_id)

    def is_done(self, response_id: str | None) -> bool:
        return response_id in self._done

    def is_cut(self, response_id: str) -> bool:
        return response_id in self._cut

    def cut_for_claim(self, response_id: str) -> bool:
        """Whether this response was cut for a false claim (its transcript is then never stored)."""
        return response_id in self._cut and self._reasons.get(response_id) == "false_claim"

    # ------------------------------------------------------------------ cutting

    def cancel(self) -> str | None:
        """The AI stops speaking; the active response to cancel, None when there is none to cancel."""
        self.speaking = False
        active = self.active
        if not self.pending or active is None or active in self._done:
            return None
        self._cut.add(active)
        return active

    def cut_claim(self, response_id: str) -> None:
        """A response cut for a false claim: the rest of its audio is dropped, its transcript not stored."""
        self._cut.add(response_id)
        self._reasons[response_id] = "false_claim"
        self.speaking = False

    def connection_dropped(self) -> None:
        """The connection is gone: nothing is pending; a response that had not finished is owed again."""
        active = self.active
        unfinished = self.pending and (active is None or active not in self._transcript_finished)
        if unfinished and active not in self._cut:
            asked_for = self._reasons.get(active) if active else self._create_reason
            self.wanted = self.wanted or asked_for or "resume"
        self.pending = False
        self.speaking = False
        self.active = None
