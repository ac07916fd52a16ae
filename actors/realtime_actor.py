"""RealtimeActor: owns the model session of one call.

It turns the AudioActor's turn-taking decisions (utterances, noise, barge-in, silence) and
the server's notes into Realtime client events, and the model's server events into AI audio
for the caller, transcripts for the NLP, and stored turns. It owns `is_ai_speaking`,
`has_pending_ai_response`, the last user / AI turn ids, the silence ladder, the
response guard and the false-claim guard, and it reconnects (session, replayed turns)
when the model connection drops or the session nears its maximum duration.

Two tasks share the state: the inbox loop and the model pump. Each handles one message or
one server event at a time under `_lock`, so every transition is atomic with respect to
the other. Nothing awaits the database under the lock except the bounded silence-prompt
claim: turns are written by a third task (`TurnWriter`). Documented in docs/realtime.md
(state machine, durability and trace events).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Literal

import attrs
import trio

from store.errors import StoreError
from store.records import BusinessSettings

from . import realtime_protocol as rp
from .call_context import CallContext
from .claims import Claim, detect_claim, detect_new_claim
from .codec import ULAW_BYTES_PER_MS
from .errors import InjectedFault
from .locks import QuickLock
from .messages import (
    AiAudio,
    AiAudioDone,
    BargeIn,
    CallerAudio,
    HangUpAfterPlayout,
    HistoryTurn,
    InjectedCrash,
    NoiseIgnored,
    NoteKind,
    PlayoutFinished,
    PlayoutStopped,
    RealtimeInbox,
    ServerNote,
    SilenceElapsed,
    StopPlayback,
    UserTranscript,
    UtteranceEnded,
    UtteranceStarted,
)
from .ports import ModelClosed, ModelConnection, ModelConnector
from .prompt import build_instructions
from .turn_writer import TurnWriter

GUARD_LINE = "[GUARD] Skipping AI response – previous response still pending."

MAX_UNCOMMITTED_BYTES = 30_000 * ULAW_BYTES_PER_MS
"""Caller audio kept since the last commit/clear (30 s), re-sent after a reconnect."""
REPLAY_CHUNK_BYTES = 1000 * ULAW_BYTES_PER_MS
RECONNECT_INITIAL_S = 0.2
RECONNECT_MAX_S = 3.2
RECONNECT_ATTEMPTS = 6
CLOSE_TIMEOUT_S = 1.0
SEEN_EVENT_IDS = 1024
SILENCE_CLAIM_TIMEOUT_S = 2.0
"""The silence-prompt claim is the one store call made under the lock: bounded, unconfirmed means no prompt."""
FLUSH_TIMEOUT_S = 2.0
"""How long a stopping actor keeps writing queued turns."""
BOOKING_NOTES: dict[str, bool] = {
    "appointment_created": True,
    "appointment_rescheduled": True,
    "appointment_cancelled": False,
}
"""Server notes that change whether a booking claim is backed."""

_NOTE_TEXT: dict[str, str] = {
    "silence_prompt": "The caller has been silent. Ask once, briefly, whether they are still on the line.",
    "silence_goodbye": "The caller is still silent. Say a short, polite goodbye; the call will end.",
    "continue_after_noise": "That interruption was only noise. Continue where you stopped, without apologising.",
    "caller_unheard": "The caller's last words could not be understood or were lost. Ask them briefly to say it again.",
}
_CLAIM_TEXT: dict[Claim, str] = {
    "booking": "claim=booking. Your last reply said an appointment was booked, but the server booked nothing.",
    "sent_details": "claim=sent_details. Your last reply said details were sent, but nothing can be sent.",
}
_CORRECTION = "Correct yourself in one short sentence and continue honestly; never repeat the claim."


class ModelUnavailable(RuntimeError):
    """Every reconnect attempt failed: the actor crashes and its supervisor decides."""


@attrs.define
class _Utterance:
    """Caller speech committed to the model and not transcribed yet: kept to re-send after a reconnect."""

    turn: int
    """Index of its placeholder (an empty user turn) in `turns`."""
    audio: bytes
    item_id: str | None = None
    """The model's item, once this session acknowledged the commit."""


def _note_kind(turn: HistoryTurn) -> str | None:
    if turn.role != "server" or not turn.text.startswith(rp.SERVER_NOTE_PREFIX):
        return None
    words = turn.text[len(rp.SERVER_NOTE_PREFIX) :].split()
    return words[0] if words else None


def _spoken(turns: list[HistoryTurn]) -> tuple[HistoryTurn, ...]:
    """The conversation without caller placeholders (speech not transcribed)."""
    return tuple(turn for turn in turns if turn.text)


def _heard_part(text: str, heard_ms: int, sent_ms: int) -> str:
    """The share of `text` the caller heard (`heard_ms` of `sent_ms` of audio), cut back to a whole word."""
    if not text or sent_ms <= 0 or heard_ms <= 0:
        return ""
    if heard_ms >= sent_ms:
        return text
    cut = len(text) * heard_ms // sent_ms
    head = text[:cut] if text[cut].isspace() else re.sub(r"\S+$", "", text[:cut])
    return head.strip()


class RealtimeActor:
    name = "realtime"

    def __init__(self, ctx: CallContext, connector: ModelConnector) -> None:
        self.ctx = ctx
        self.connector = connector
        self.dialect = rp.check_dialect(connector.dialect)
        self._audio = ctx.mailboxes.audio.outbox("realtime")
        self._nlp = ctx.mailboxes.nlp.outbox("realtime")
        self._lock = QuickLock()
        self._instructions = ""
        # The connection: `_ready` once the server acknowledged our session.update.
        self._conn: ModelConnection | None = None
        self._ready = False
        self._connected_at = 0.0
        self._pump_scope = trio.CancelScope()
        self._pump_task: trio.lowlevel.Task | None = None
        self._nursery: trio.Nursery | None = None
        self._next_event = 0
        self._seen_ids: deque[str] = deque()
        self._seen_set: set[str] = set()
        # Turn-taking state (reset when the connection changes).
        self.is_ai_speaking = False
        self.has_pending_ai_response = False
        self.active_response_id: str | None = None
        self.last_user_turn_id: str | None = None
        self.last_ai_turn_id: str | None = None
        self._create_reason: str | None = None
        self._create_event_id: str | None = None
        self._response_reasons: dict[str, str] = {}
        self._response_wanted: str | None = None
        self._transcript_finished: set[str] = set()
        self._done_responses: set[str] = set()
        self._cut_responses: set[str] = set()
        self._transcripts: dict[str, str] = {}
        self._sent_ms: dict[str, int] = {}
        self._heard_ms: dict[str, int] = {}
        self._truncate_when_stopped: set[str] = set()
        """Items cut for a false claim, truncated once the AudioActor reports what was heard of them."""
        self._heard_at_cut: dict[str, int] = {}
        self._uncommitted = bytearray()
        self._utterances: list[_Utterance] = []
        self._transcribed: set[str] = set()
        self._writer = TurnWriter(ctx, self._store_failed)
        # Durable per-call state, reloaded from the store by every new instance.
        self.turns: list[HistoryTurn] = []
        self.silence_prompt_used = False
        self.booking_backed = False
        self._silence_stage: Literal["none", "goodbye"] = "none"
        self._goodbye_response_id: str | None = None
        self._hangup_sent = False
        self._greeted = False
        self.false_claims_cut = 0

    # ------------------------------------------------------------------ run

    async def run(self) -> None:
        await self._load_durable_state()
        self._instructions = build_instructions(await self._load_business(), self.ctx.language, self.ctx.now())
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._writer.run)
                self._resume_owed_turn()
                nursery.start_soon(self._model_loop)
                async for message in self.ctx.mailboxes.realtime:
                    async with self._lock:
                        await self._handle_inbox(message)
                nursery.cancel_scope.cancel()
        finally:
            await self._writer.flush(FLUSH_TIMEOUT_S)
            await self._close_quietly(self._conn)

    @property
    def writes_pending(self) -> int:
        """Turn writes queued or in flight (tests wait for 0)."""
        return self._writer.pending

    # ------------------------------------------------------------------ durable state

    async def _load_durable_state(self) -> None:
        try:
            state = await self.ctx.gateway.run(self.ctx.store.load_call_state, self.ctx.call_sid)
        except StoreError as exc:
            self._store_failed("load_call_state", exc)
            return
        for role, text in state.turns:
            if role in ("user", "assistant", "server"):
                self.turns.append(HistoryTurn(role=role, text=text))  # type: ignore[arg-type]
        self.silence_prompt_used = state.silence_prompt_used
        # The newest booking note decides: a cancelled appointment backs no claim any more.
        self.booking_backed = state.appointment_id is not None
        for turn in self.turns:
            self.booking_backed = BOOKING_NOTES.get(_note_kind(turn) or "", self.booking_backed)
        self._greeted = any(turn.role == "assistant" for turn in self.turns)
        # A goodbye was asked for and the caller has not spoken since: the ladder is at its last stage.
        goodbye_at = max((i for i, t in enumerate(self.turns) if _note_kind(t) == "silence_goodbye"), default=None)
        if goodbye_at is not None and not any(t.role == "user" for t in self.turns[goodbye_at + 1 :]):
            self._silence_stage = "goodbye"
        self._trace(
            "state_loaded",
            turns=len(self.turns),
            silence_prompt_used=self.silence_prompt_used,
            booking_backed=self.booking_backed,
            silence_stage=self._silence_stage,
        )

    def _resume_owed_turn(self) -> None:
        """After a restart: answer what the previous instance left unanswered, or ask the caller to repeat.

        An empty user turn is speech committed but never transcribed: the old model session that held
        its audio is gone, so the AI asks the caller to say it again (once per lost utterance).
        """
        last_user = max((i for i, t in enumerate(self.turns) if t.role == "user"), default=None)
        if (
            last_user is not None
            and not self.turns[last_user].text
            and not any(_note_kind(t) == "caller_unheard" for t in self.turns[last_user + 1 :])
        ):
            self._add_note("caller_unheard", _NOTE_TEXT["caller_unheard"])
            self._response_wanted = "caller_unheard"
        elif self.turns and self.turns[-1].role != "assistant":
            self._response_wanted = "resume"
        if self._response_wanted is not None:
            self._trace("response_deferred", reason=self._response_wanted)

    async def _load_business(self) -> BusinessSettings | None:
        try:
            return await self.ctx.gateway.run(self.ctx.store.get_business, self.ctx.business_id)
        except StoreError as exc:
            self._store_failed("get_business", exc)
            return None

    def _add_turn(self, role: rp.TurnRole, text: str) -> int:
        """Append a turn in memory and queue its write; returns its index."""
        index = len(self.turns)
        self.turns.append(HistoryTurn(role=role, text=text))
        self._writer.append(index, role, text)
        return index

    def _store_failed(self, operation: str, exc: Exception) -> None:
        self._trace("store_error", op=operation, error=f"{type(exc).__name__}: {exc}")
        self.ctx.log(self.name, f"[STORE] {operation} failed ({type(exc).__name__}); the call goes on")

    # ------------------------------------------------------------------ the model connection

    async def _model_loop(self) -> None:
        while True:
            conn = await self._connect_with_backoff()
            async with self._lock:
                await self._start_session(conn)
            reason = await self._pump(conn)
            async with self._lock:
                await self._drop_connection(reason)

    async def _connect_with_backoff(self) -> ModelConnection:
        delay = RECONNECT_INITIAL_S
        for attempt in range(1, RECONNECT_ATTEMPTS + 1):
            try:
                return await self.connector.connect()
            except (ModelClosed, OSError) as exc:
                self._trace("connect_failed", attempt=attempt, error=f"{type(exc).__name__}: {exc}")
            if attempt < RECONNECT_ATTEMPTS:
                await trio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
        raise ModelUnavailable(f"no model connection after {RECONNECT_ATTEMPTS} attempts")

    async def _start_session(self, conn: ModelConnection) -> None:
        """A fresh session: configure it, replay the conversation as text, re-send unsent caller audio."""
        self._conn = conn
        self._ready = False
        self._connected_at = trio.current_time()
        # Event ids are unique within one session only: a new session may reuse them.
        self._seen_ids.clear()
        self._seen_set.clear()
        self._utterances = [utterance for utterance in self._utterances if utterance.audio]
        self._trace(
            "model_connected",
            dialect=self.dialect,
            replay_turns=len(_spoken(self.turns)),
            resend_utterances=len(self._utterances),
        )
        await self._send(rp.session_update(self.dialect, self.ctx.config, self._instructions, self.ctx.language))
        for turn in _spoken(self.turns):
            await self._send(rp.text_item(self.dialect, turn.role, turn.text))
        # Committed speech not transcribed yet died with the old session: commit it again, in order.
        # (Speech the server's VAD committed has no audio of ours to re-send: it was dropped above.)
        for utterance in self._utterances:
            utterance.item_id = None
            await self._append_audio(utterance.audio)
            await self._send(rp.input_audio_commit())
        await self._append_audio(bytes(self._uncommitted))

    async def _append_audio(self, audio: bytes) -> None:
        for start in range(0, len(audio), REPLAY_CHUNK_BYTES):
            await self._send(rp.input_audio_append(audio[start : start + REPLAY_CHUNK_BYTES]))

    async def _pump(self, conn: ModelConnection) -> str:
        """Handle server events until the connection closes or is dropped, or rotate an old session when quiet.

        Only the receive is exposed to the rotation deadline: a handler is never cancelled halfway. The
        handler's scope is shielded while it runs rather than a deadline scope opened per receive, which
        cost more than the rest of the loop for a small event.
        """
        deadline = self._connected_at + self.ctx.config.model_max_session_s
        self._pump_task = trio.lowlevel.current_task()
        with trio.CancelScope() as self._pump_scope:
            with trio.move_on_at(deadline), trio.CancelScope() as handling:
                while self._conn is conn:
                    handling.shield = False
                    try:
                        raw = await conn.receive()
                    except ModelClosed:
                        return "closed"
                    handling.shield = True  # before any checkpoint: the event is handled whole
                    if not await self._handle_event(conn, raw):
                        return "dropped"
                return "dropped"
            self._trace("session_rotation_due")
            while self._conn is conn:
                if self._quiet():
                    return "session_rotation"
                try:
                    raw = await conn.receive()
                except ModelClosed:
                    return "closed"
                if not await self._handle_event(conn, raw):
                    return "dropped"
        return "dropped"

    async def _handle_event(self, conn: ModelConnection, raw: dict[str, Any]) -> bool:
        """False when the connection was dropped meanwhile (the event belongs to it and is not handled)."""
        async with self._lock:
            if self._conn is not conn:
                return False
            await self._handle_server(raw)
            return True

    def _quiet(self) -> bool:
        return not self.has_pending_ai_response and not self.is_ai_speaking

    async def _drop_connection(self, reason: str) -> None:
        """Forget the connection; pending state resets, an unfinished response is asked for again."""
        conn, self._conn, self._ready = self._conn, None, False
        if conn is None:
            return
        if trio.lowlevel.current_task() is not self._pump_task:
            # Wake the pump out of its receive; from inside the pump, its loop sees the change itself.
            self._pump_scope.cancel()
        active = self.active_response_id
        unfinished = self.has_pending_ai_response and (active is None or active not in self._transcript_finished)
        if unfinished and active not in self._cut_responses:
            asked_for = self._response_reasons.get(active) if active else self._create_reason
            self._response_wanted = self._response_wanted or asked_for or "resume"
        if self._goodbye_response_id not in self._done_responses:
            self._goodbye_response_id = None  # the goodbye is asked for again: its next response is the goodbye
        self.has_pending_ai_response = False
        self.is_ai_speaking = False
        self.active_response_id = None
        self._trace("model_disconnected", reason=reason, resume=self._response_wanted)
        await self._close_quietly(conn)

    async def _close_quietly(self, conn: ModelConnection | None) -> None:
        if conn is None:
            return
        # Already gone is fine: there is nothing left to release.
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT_S), suppress(ModelClosed, OSError):
            await conn.aclose()

    async def _send(self, event: Mapping[str, Any]) -> bool:
        """Send one client event; False (and the connection dropped) when it could not be sent."""
        conn = self._conn
        if conn is None:
            return False
        self._next_event += 1
        event_id = f"rt_{self._next_event}"
        if self.ctx.trace.detailed:  # the summary is built only for a trace that keeps it
            self.ctx.trace.record("io", peer="model", dir="out", event_id=event_id, **rp.summarise_client_event(event))
        try:
            await conn.send({**event, "event_id": event_id})
        except ModelClosed:
            await self._drop_connection("send_failed")
            return False
        if event.get("type") == "response.create":
            self._create_event_id = event_id
        return True

    # ------------------------------------------------------------------ responses and the guard

    async def _request_response(self, reason: str) -> None:
        """response.create now, or later: never while one is pending (the guard) or before the session is ready."""
        if self.has_pending_ai_response:
            self.ctx.log(self.name, GUARD_LINE)
            self._trace("guard_skip", reason=reason, pending=self.active_response_id)
            self._response_wanted = reason
            return
        if not self._ready:
            self._trace("response_deferred", reason=reason)
            self._response_wanted = reason
            return
        if await self._send(rp.response_create()):
            self.has_pending_ai_response = True
            self._create_reason = reason
            self._trace("response_create", reason=reason)
        else:
            self._response_wanted = reason

    async def _flush_wanted_response(self) -> None:
        if self._response_wanted is not None and not self.has_pending_ai_response and self._ready:
            reason, self._response_wanted = self._response_wanted, None
            await self._request_response(reason)

    async def _inject_note(self, kind: NoteKind, text: str) -> None:
        """A `[SERVER]` note: stored, kept for replay, and sent as a system item when connected."""
        rendered = self._add_note(kind, text)
        await self._send(rp.text_item(self.dialect, "server", rendered))

    def _add_note(self, kind: NoteKind, text: str) -> str:
        rendered = rp.render_note(kind, text)
        self._add_turn("server", rendered)
        self.booking_backed = BOOKING_NOTES.get(kind, self.booking_backed)
        self._trace("note_injected", kind=kind, text=rendered)
        return rendered

    # ------------------------------------------------------------------ inbox

    async def _handle_inbox(self, message: RealtimeInbox) -> None:
        if isinstance(message, CallerAudio):
            await self._on_caller_audio(message.payload)
        elif isinstance(message, UtteranceStarted):
            pass  # a cough starts an utterance too: only a real utterance or a barge-in abandons the goodbye
        elif isinstance(message, UtteranceEnded):
            await self._on_utterance_ended()
        elif isinstance(message, NoiseIgnored):
            await self._on_noise(message)
        elif isinstance(message, BargeIn):
            await self._on_barge_in(message)
        elif isinstance(message, PlayoutFinished):
            self._heard_ms[message.item_id] = min(message.heard_ms, self._sent_ms.get(message.item_id, 0))
        elif isinstance(message, PlayoutStopped):
            await self._on_playout_stopped(message)
        elif isinstance(message, SilenceElapsed):
            await self._on_silence()
        elif isinstance(message, ServerNote):
            await self._inject_note(message.kind, message.text)
            await self._request_response(message.kind)
        elif isinstance(message, InjectedCrash):
            raise InjectedFault(message.reason)

    async def _on_caller_audio(self, payload: bytes) -> None:
        self._uncommitted += payload
        overflow = len(self._uncommitted) - MAX_UNCOMMITTED_BYTES
        if overflow > 0:
            del self._uncommitted[:overflow]
        await self._send(rp.input_audio_append(payload))

    async def _on_utterance_ended(self) -> None:
        if self.ctx.config.server_vad:
            return  # the server's VAD commits and responds by itself
        self._goodbye_aborted("caller_spoke")
        if not self._uncommitted:
            self._trace("commit_skipped", reason="empty_buffer")
            return
        # The placeholder makes "the caller spoke" durable before the transcript exists.
        self._utterances.append(_Utterance(turn=self._add_turn("user", ""), audio=bytes(self._uncommitted)))
        self._uncommitted.clear()
        await self._send(rp.input_audio_commit())
        await self._request_response("user_turn")

    async def _on_noise(self, message: NoiseIgnored) -> None:
        self._uncommitted.clear()
        await self._send(rp.input_audio_clear())
        if message.interrupted_ai:
            await self._inject_note("continue_after_noise", _NOTE_TEXT["continue_after_noise"])
            await self._request_response("continue_after_noise")

    async def _on_barge_in(self, message: BargeIn) -> None:
        self._goodbye_aborted("barge_in")
        await self._cancel_active("barge_in")
        sent = self._sent_ms.get(message.item_id, 0)
        if message.item_id and sent > 0:
            self._heard_at_cut[message.item_id] = min(message.audio_end_ms, sent)
            await self._truncate(message.item_id, self._heard_at_cut[message.item_id], "barge_in")

    async def _on_playout_stopped(self, message: PlayoutStopped) -> None:
        if message.item_id not in self._truncate_when_stopped:
            return
        self._truncate_when_stopped.discard(message.item_id)
        heard = max(message.heard_ms, self._heard_ms.get(message.item_id, 0))  # a finished playout reported it
        await self._truncate(message.item_id, min(heard, self._sent_ms.get(message.item_id, 0)), "false_claim")

    async def _cancel_active(self, why: str) -> None:
        self.is_ai_speaking = False
        active = self.active_response_id
        if not self.has_pending_ai_response or active is None or active in self._done_responses:
            self._trace("cancel_skipped", why=why)
            return
        self._cut_responses.add(active)
        await self._send(rp.response_cancel(active))
        self._trace("cancel", why=why, response_id=active)

    async def _truncate(self, item_id: str, audio_end_ms: int, why: str) -> None:
        await self._send(rp.item_truncate(item_id, audio_end_ms))
        self._trace("truncate", why=why, item_id=item_id, audio_end_ms=audio_end_ms, sent_ms=self._sent_ms[item_id])

    async def _on_silence(self) -> None:
        """One tick of continued silence (the AudioActor repeats them): prompt, then goodbye, then hang up."""
        if not self._quiet():
            self._trace("silence_ignored", pending=self.has_pending_ai_response, speaking=self.is_ai_speaking)
            return
        if self._silence_stage == "goodbye":
            # Still silent after the goodbye stage began (goodbye failed, had no audio, or the AudioActor
            # restarted and lost the hang-up): hang up now, so a silent call always ends.
            self._hang_up_after_goodbye(repeat=True)
            return
        if not self.silence_prompt_used:
            self.silence_prompt_used = True
            claimed = await self._claim_silence_prompt()
            if claimed is None:
                self._trace("silence_prompt_unconfirmed")
                return  # no prompt (it may have been asked already); the next tick says goodbye
            if claimed:
                self._trace("silence_prompt")
                await self._inject_note("silence_prompt", _NOTE_TEXT["silence_prompt"])
                await self._request_response("silence_prompt")
                return
        self._silence_stage = "goodbye"
        self._trace("silence_goodbye")
        await self._inject_note("silence_goodbye", _NOTE_TEXT["silence_goodbye"])
        await self._request_response("silence_goodbye")

    async def _claim_silence_prompt(self) -> bool | None:
        """Whether this call may ask "are you still there?" (granted once per call, ever); None: unconfirmed.

        The claim runs in a task of its own: a store call in a worker thread cannot be cancelled, so only
        the wait for it is bounded; an answer that comes later is ignored (the prompt then stays unasked).
        """
        answer: list[bool | None] = []
        answered = trio.Event()

        async def claim() -> None:
            try:
                answer.append(await self.ctx.gateway.run(self.ctx.store.mark_silence_prompt_used, self.ctx.call_sid))
            except StoreError as exc:
                self._store_failed("mark_silence_prompt_used", exc)
                answer.append(None)
            answered.set()

        assert self._nursery is not None, "the claim is made from the inbox loop, inside run()"
        self._nursery.start_soon(claim)
        with trio.move_on_after(SILENCE_CLAIM_TIMEOUT_S):
            await answered.wait()
        if not answered.is_set():
            self._store_failed("mark_silence_prompt_used", TimeoutError(f"no answer in {SILENCE_CLAIM_TIMEOUT_S} s"))
            return None
        return answer[0]

    def _goodbye_aborted(self, why: str) -> None:
        if self._silence_stage == "goodbye" and not self._hangup_sent:
            self._trace("silence_goodbye_aborted", why=why)
            self._silence_stage = "none"
            self._goodbye_response_id = None
            if self._response_wanted == "silence_goodbye":
                self._response_wanted = None

    # ------------------------------------------------------------------ server events

    async def _handle_server(self, raw: dict[str, Any]) -> None:
        event_id = raw.get("event_id")
        if isinstance(event_id, str) and event_id:
            if event_id in self._seen_set:
                self.ctx.trace.record("io", peer="model", dir="in", type=raw.get("type"), duplicate=True)
                return
            self._remember(event_id)
        event = rp.parse_server_event(self.dialect, raw)
        if self.ctx.trace.detailed:
            self.ctx.trace.record("io", peer="model", dir="in", **rp.summarise_server_event(raw, event))
        if event is not None:
            await self._on_server_event(event)

    def _remember(self, event_id: str) -> None:
        self._seen_ids.append(event_id)
        self._seen_set.add(event_id)
        if len(self._seen_ids) > SEEN_EVENT_IDS:
            self._seen_set.discard(self._seen_ids.popleft())

    async def _on_server_event(self, event: rp.ServerEvent) -> None:
        if isinstance(event, rp.SessionUpdated):
            await self._on_session_updated()
        elif isinstance(event, rp.ResponseCreated):
            self._on_response_created(event.response_id)
        elif isinstance(event, rp.OutputItemAdded):
            if event.response_id not in self._cut_responses | self._done_responses:
                self.is_ai_speaking = True
                self.last_ai_turn_id = event.item_id
        elif isinstance(event, rp.AudioDelta):
            self._on_audio_delta(event)
        elif isinstance(event, rp.AudioDone):
            self._on_audio_done(event.response_id, event.item_id)
        elif isinstance(event, rp.TranscriptDelta):
            await self._on_transcript_delta(event)
        elif isinstance(event, rp.TranscriptDone):
            await self._on_transcript_done(event)
        elif isinstance(event, rp.OutputItemDone):
            if event.item_id == self.last_ai_turn_id:
                self.is_ai_speaking = False
        elif isinstance(event, rp.ResponseDone):
            await self._on_response_done(event.response_id, event.status)
        elif isinstance(event, rp.InputCommitted):
            self._on_committed(event.item_id)
        elif isinstance(event, rp.UserTranscriptCompleted):
            if not self._on_user_transcript(event.item_id, event.transcript):
                await self._ask_to_repeat()
        elif isinstance(event, rp.UserTranscriptFailed):
            self._take_utterance(event.item_id)
            self._trace("user_transcript_failed", item_id=event.item_id, message=event.message)
            await self._ask_to_repeat()
        elif isinstance(event, rp.Error):
            self._on_error(event)

    async def _on_session_updated(self) -> None:
        self._ready = True
        if not self._greeted and not self.turns:
            self._greeted = True
            await self._request_response("greeting")
        await self._flush_wanted_response()

    def _on_response_created(self, response_id: str) -> None:
        if response_id in self._done_responses or response_id == self.active_response_id:
            return
        # A response we did not ask for (server VAD) is just as pending as ours.
        self.has_pending_ai_response = True
        self.active_response_id = response_id
        reason = self._create_reason or "server"
        self._create_reason = None
        self._response_reasons[response_id] = reason
        # Whatever reason it was asked for under, the first response once the goodbye note is in is the goodbye.
        if self._silence_stage == "goodbye" and self._goodbye_response_id is None:
            self._goodbye_response_id = response_id
        self._trace("response_created", response_id=response_id, reason=reason)

    def _on_audio_delta(self, event: rp.AudioDelta) -> None:
        if event.response_id in self._cut_responses or event.response_id in self._done_responses:
            self._trace("audio_dropped", response_id=event.response_id, bytes=len(event.audio))
            return
        self.is_ai_speaking = True
        self.last_ai_turn_id = event.item_id
        self._sent_ms[event.item_id] = self._sent_ms.get(event.item_id, 0) + len(event.audio) // ULAW_BYTES_PER_MS
        self._audio.send_nowait(AiAudio(response_id=event.response_id, item_id=event.item_id, payload=event.audio))

    def _on_audio_done(self, response_id: str, item_id: str) -> None:
        if response_id in self._cut_responses:
            return
        self.is_ai_speaking = False
        self._audio.send_nowait(AiAudioDone(response_id=response_id, item_id=item_id))
        if response_id == self._goodbye_response_id:
            self._hang_up_after_goodbye()

    def _hang_up_after_goodbye(self, *, repeat: bool = False) -> None:
        if not self._hangup_sent or repeat:
            self._hangup_sent = True
            self._trace("hangup_requested", reason="silence", repeat=repeat)
            self._audio.send_nowait(HangUpAfterPlayout(reason="silence"))

    async def _on_transcript_delta(self, event: rp.TranscriptDelta) -> None:
        rid = event.response_id
        if rid in self._cut_responses or rid in self._done_responses:
            return
        checked = self._transcripts.get(rid, "")
        text = self._transcripts[rid] = checked + event.delta
        await self._check_claim(rid, event.item_id, text, detect_new_claim(text, len(checked)))

    async def _on_transcript_done(self, event: rp.TranscriptDone) -> None:
        rid = event.response_id
        if rid in self._transcript_finished:
            return
        self._transcript_finished.add(rid)
        if rid not in self._cut_responses:
            await self._check_claim(rid, event.item_id, event.transcript, detect_claim(event.transcript))
        if rid in self._cut_responses and self._response_reasons.get(rid) == "false_claim":
            return
        interrupted = rid in self._cut_responses
        text = event.transcript.strip()
        if interrupted:
            # The caller heard only part of it (and the model's own context keeps only the heard part).
            spoken = self._transcripts.get(rid, "").strip() or text
            sent = self._sent_ms.get(event.item_id, 0)
            heard = _heard_part(spoken, self._heard_at_cut.get(event.item_id, sent), sent)
            self._trace("ai_turn", response_id=rid, item_id=event.item_id, text=text, interrupted=True, heard=heard)
            text = heard
        else:
            self._trace("ai_turn", response_id=rid, item_id=event.item_id, text=text, interrupted=False)
        if text:
            self._add_turn("assistant", text)

    async def _check_claim(self, response_id: str, item_id: str, text: str, claim: Claim | None) -> None:
        if claim is None or (claim == "booking" and self.booking_backed):
            return
        await self._cut_false_claim(response_id, item_id, claim, text)

    async def _cut_false_claim(self, response_id: str, item_id: str, claim: Claim, text: str) -> None:
        """Stop the claim before the caller hears it: clear playout, cancel, truncate, correct."""
        self.false_claims_cut += 1
        self._trace("false_claim_cut", claim=claim, response_id=response_id, item_id=item_id, text=text)
        self.ctx.log(self.name, f"[GUARD] Cut an unbacked {claim} claim: {text!r}")
        self._audio.send_nowait(StopPlayback(reason="false_claim", item_id=item_id))
        if response_id == self.active_response_id:
            await self._cancel_active("false_claim")
        self._cut_responses.add(response_id)
        self._response_reasons[response_id] = "false_claim"
        self.is_ai_speaking = False
        if self._sent_ms.get(item_id, 0) > 0:
            # Truncated at what the caller heard, which only the AudioActor knows: it answers the stop.
            self._truncate_when_stopped.add(item_id)
        await self._inject_note("false_claim_cut", f"false_claim_cut {_CLAIM_TEXT[claim]} {_CORRECTION}")
        await self._request_response("false_claim_cut")

    async def _on_response_done(self, response_id: str, status: str) -> None:
        if response_id in self._done_responses:
            return
        self._done_responses.add(response_id)
        self.has_pending_ai_response = False
        self.is_ai_speaking = False
        self.active_response_id = None
        self._create_reason = None
        self._trace("response_done", response_id=response_id, status=status)
        if response_id == self._goodbye_response_id and response_id not in self._cut_responses:
            # Completed, or failed/incomplete on the server's side: either way the goodbye stage ends the call
            # (whatever of it was said is played first).
            self._hang_up_after_goodbye()
        await self._flush_wanted_response()

    def _on_committed(self, item_id: str) -> None:
        self.last_user_turn_id = item_id
        if any(utterance.item_id == item_id for utterance in self._utterances):
            return
        # Commits are acknowledged in the order we sent them.
        waiting = next((u for u in self._utterances if u.item_id is None), None)
        if waiting is None:  # the server's VAD committed by itself
            waiting = _Utterance(turn=self._add_turn("user", ""), audio=b"")
            self._utterances.append(waiting)
        waiting.item_id = item_id

    def _take_utterance(self, item_id: str) -> _Utterance | None:
        for index, utterance in enumerate(self._utterances):
            if utterance.item_id == item_id:
                return self._utterances.pop(index)
        return None

    async def _ask_to_repeat(self) -> None:
        """The caller spoke (a real utterance) but nothing usable came of it: a booking line asks again
        rather than let a request vanish. The model may have answered the audio already; this follows."""
        await self._inject_note("caller_unheard", _NOTE_TEXT["caller_unheard"])
        await self._request_response("caller_unheard")

    def _on_user_transcript(self, item_id: str, transcript: str) -> bool:
        """False when the transcript is empty (the caller's words are not known)."""
        if item_id in self._transcribed:
            return True
        self._transcribed.add(item_id)
        utterance = self._take_utterance(item_id)
        text = transcript.strip()
        self._trace("user_turn", item_id=item_id, text=text)
        if not text:
            return False
        if utterance is None:
            position = self._add_turn("user", text)
        else:
            # A late transcription goes where the caller spoke (its placeholder), before the AI's answer to it.
            position = utterance.turn
            self.turns[position] = HistoryTurn(role="user", text=text)
            self._writer.fill(position, text)
        self._nlp.send_nowait(UserTranscript(turn_id=item_id, text=text, history=_spoken(self.turns[: position + 1])))
        return True

    def _on_error(self, error: rp.Error) -> None:
        if error.code == "response_cancel_not_active":
            self._trace("model_error", code=error.code, harmless=True)
            return
        self._trace("model_error", code=error.code, message=error.message, event_id=error.event_id)
        self.ctx.log(self.name, f"[MODEL] error {error.code}: {error.message}")
        if (
            error.event_id is not None
            and error.event_id == self._create_event_id
            and self.active_response_id is None
            and error.code != "conversation_already_has_active_response"
        ):
            # Our response.create was refused: nothing is pending any more.
            self.has_pending_ai_response = False
            self._create_reason = None

    # ------------------------------------------------------------------ trace

    def _trace(self, what: str, **fields: Any) -> None:
        self.ctx.trace.record("realtime", what=what, **fields)
