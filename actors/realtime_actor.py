"""RealtimeActor: owns the model session of one call.

It turns the AudioActor's turn-taking decisions (utterances, noise, barge-in, silence) and the server's
notes into Realtime client events, and the model's server events into AI audio for the caller,
transcripts for the NLP, and stored turns; it reconnects (session, replayed turns) when the model
connection drops or the session nears its maximum duration.

The decisions are made by synchronous state machines without I/O (`response_ledger`, `silence_ladder`,
`claim_guard`, `turn_book`, `ai_speech`, `model_link`). `model_conversation.ModelConversation` does
their I/O on the model's side (`model_session.ModelSession` is the connection); this module is the
actor around them: it reloads the call's durable state, runs the inbox loop, and makes the one store
call of the call's turn-taking (the silence-prompt claim).

Two tasks share the state: the inbox loop and the model pump. Each handles one message or one server
event at a time under `_lock`, so every transition is atomic with respect to the other. Nothing awaits
the database under the lock except the bounded silence-prompt claim: turns are written by a third task
(`TurnWriter`). Documented in docs/realtime.md (state machine, durability and trace events).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import trio

from store import InvalidVoiceLine
from store.errors import BrokenSettings, StoreError
from store.records import BusinessSettings

from . import realtime_protocol as rp
from .call_context import CallContext
from .callback_writer import promise_callback
from .errors import InjectedFault
from .locks import QuickLock
from .messages import (
    BargeIn,
    CallerAudio,
    HistoryTurn,
    InjectedCrash,
    NoiseIgnored,
    PlayoutFinished,
    PlayoutLost,
    PlayoutStopped,
    RealtimeInbox,
    ServerNote,
    SilenceElapsed,
    UtteranceEnded,
    UtteranceStarted,
)
from .model_conversation import NOTE_TEXT, ModelConversation
from .ports import ModelConnector
from .prompt import build_instructions, name_on_the_phone
from .runtime_lines import RuntimeLine, duration_ms
from .turn_writer import TurnWriter

logger = logging.getLogger("callrt.realtime")

SILENCE_CLAIM_TIMEOUT_S = 2.0
"""The silence-prompt claim is the one store call made under the lock: bounded, unconfirmed means no prompt."""
FLUSH_TIMEOUT_S = 2.0
"""How long a stopping actor keeps writing queued turns."""


class RealtimeActor:
    name = "realtime"

    def __init__(self, ctx: CallContext, connector: ModelConnector) -> None:
        self.ctx = ctx
        self._lock = QuickLock()
        self._nursery: trio.Nursery | None = None
        self._writer = TurnWriter(ctx, self._store_failed)
        self.conversation = ModelConversation(ctx, connector, self._lock, self._writer)
        self.conversation.keep_line = self._keep_line_soon
        # The state machines, by the names the docs and tests use.
        self.ledger = self.conversation.ledger
        self.ladder = self.conversation.ladder
        self.claims = self.conversation.claims
        self.book = self.conversation.book
        self.speech = self.conversation.speech
        self._segment_at_ms: float | None = None
        """When the caller's segment the AudioActor is deciding on started (`UtteranceStarted`), until it ends."""
        self._business: BusinessSettings | None = None

    @property
    def is_ai_speaking(self) -> bool:
        return self.ledger.speaking

    @property
    def has_pending_ai_response(self) -> bool:
        return self.ledger.pending

    @property
    def last_ai_turn_id(self) -> str | None:
        return self.ledger.last_item

    @property
    def last_user_turn_id(self) -> str | None:
        return self.book.last_user_turn_id

    @property
    def turns(self) -> list[HistoryTurn]:
        return self.book.turns

    @property
    def handling(self) -> bool:
        """Whether a message or a model event is being handled right now (tests wait for a quiet moment)."""
        return self._lock.locked()

    @property
    def writes_pending(self) -> int:
        """Turn writes queued or in flight (tests wait for 0)."""
        return self._writer.pending

    async def run(self) -> None:
        await self.load_durable_state()
        self._business = business = await self._load_business()
        self.conversation.instructions = build_instructions(business, self.ctx.language, self.ctx.now())
        self.conversation.greets_as(name_on_the_phone(business, self.ctx.language))
        if business is not None:
            self.conversation.use_models(business.realtime_model, business.transcription_model)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._writer.run)
                self._resume_owed_turn()
                nursery.start_soon(self.conversation.session.run)
                nursery.start_soon(self.conversation.watch_responses, self._lock)
                nursery.start_soon(self._opening_deadline)
                async for message in self.ctx.mailboxes.realtime:
                    async with self._lock:
                        await self._handle_inbox(message)
                nursery.cancel_scope.cancel()
        finally:
            await self._writer.flush(FLUSH_TIMEOUT_S)
            self.ctx.known_conversation.remember(
                self.book.turns,
                silence_prompt_used=self.ladder.prompt_used,
                booking_backed=self.claims.booking_backed,
                business=self._business,
                held_writes=self._writer.held(),
            )
            await self.conversation.session.close()

    # ------------------------------------------------------------------ durable state

    async def load_durable_state(self) -> None:
        """Restore the turns, the claim backing and the silence stage from the store: what an instance
        does first, so a restarted one carries on where its predecessor stopped. While the store cannot
        be read, from what the predecessor knew (`known_conversation`), if there was one."""
        try:
            state = await self.ctx.gateway.run(self.ctx.store.load_call_state, self.ctx.call_sid)
        except StoreError as exc:
            self._store_failed("load_call_state", exc)
            known = self.ctx.known_conversation
            if known.turns is not None:
                self._restore(known.turns, known.silence_prompt_used, known.booking_backed, source="memory")
                if known.held_writes is not None:
                    self._writer.adopt(known.held_writes)  # the same turns, index for index
            return
        self._restore(state.turns, state.silence_prompt_used, state.appointment_id is not None, source="store")

    def _restore(
        self, turns: Iterable[tuple[str, str]], silence_prompt_used: bool, booking_backed: bool, *, source: str
    ) -> None:
        self.book.restore(turns)
        self.claims.restore(booking_backed, self.book.note_kinds())
        self.ladder.restore(silence_prompt_used, self.book.goodbye_unanswered())
        self.conversation.trace(
            "state_loaded",
            source=source,
            turns=len(self.book.turns),
            silence_prompt_used=self.ladder.prompt_used,
            booking_backed=self.claims.booking_backed,
            silence_stage=self.ladder.stage,
        )

    async def _opening_deadline(self) -> None:
        await trio.sleep(self.ctx.config.opening_wait_ms / 1000.0)
        async with self._lock:
            await self.conversation.opening_overdue()

    def _resume_owed_turn(self) -> None:
        """After a restart: answer what the previous instance left unanswered, or ask the caller to repeat."""
        owed = self.book.owed_response()
        if owed == "caller_unheard":
            self.conversation.add_note(owed, NOTE_TEXT[owed])
        if owed is not None:
            self.ledger.owe(owed)

    async def _load_business(self) -> BusinessSettings | None:
        try:
            return await self.ctx.gateway.run(self.ctx.store.get_business, self.ctx.business_id)
        except BrokenSettings as exc:
            # Never dead air: the call is answered with the prompt for an unknown business (a greeting and
            # the handoff line, no booking), the business is told, and the caller is called back.
            self.ctx.trace.record("call_failed", reason="invalid_settings", error=str(exc)[:300])
            logger.error("%s: %s; answering with the handoff line, no booking", self.ctx.call_sid, exc)
            promise_callback(self.ctx, "invalid_settings", "(the business's settings are invalid: no booking)")
            return None
        except StoreError as exc:
            self._store_failed("get_business", exc)
            # A restart while the database is down answers for the business its predecessor answered for.
            return self.ctx.known_conversation.business

    def _keep_line_soon(self, line: RuntimeLine, audio: bytes) -> None:
        assert self._nursery is not None, "the model speaks only while run() is running"
        self._nursery.start_soon(self._keep_line, line, audio)

    async def _keep_line(self, line: RuntimeLine, audio: bytes) -> None:
        """Store the model's audio of a runtime line for the business's later calls (the first one stays)."""
        ctx = self.ctx
        try:
            kept = await ctx.gateway.run(
                ctx.store.keep_model_line, ctx.business_id, ctx.config.voice, line, ctx.language, audio
            )
        except (StoreError, InvalidVoiceLine) as exc:
            self._store_failed("keep_model_line", exc)
            return
        self.conversation.trace("line_kept", line=line, ms=round(duration_ms(audio)), kept=kept)

    def _store_failed(self, operation: str, exc: Exception) -> None:
        self.conversation.trace("store_error", op=operation, error=f"{type(exc).__name__}: {exc}")
        self.ctx.log(self.name, f"[STORE] {operation} failed ({type(exc).__name__}); the call goes on")

    # ------------------------------------------------------------------ inbox

    async def _handle_inbox(self, message: RealtimeInbox) -> None:
        conversation, send = self.conversation, self.conversation.session.send
        if isinstance(message, CallerAudio):
            self.book.caller_audio(message.payload)
            await send(rp.input_audio_append(message.payload))
        elif isinstance(message, UtteranceStarted):
            # A cough starts an utterance too: only a real utterance or a barge-in abandons the goodbye.
            self._segment_at_ms = message.at_ms
        elif isinstance(message, UtteranceEnded):
            self._segment_at_ms = None
            await self._on_utterance_ended()
        elif isinstance(message, NoiseIgnored):
            self._segment_at_ms = None
            self.book.discard_uncommitted()
            await send(rp.input_audio_clear())
            if message.interrupted_ai:
                await conversation.note_and_respond("continue_after_noise", NOTE_TEXT["continue_after_noise"])
        elif isinstance(message, BargeIn):
            self._goodbye_aborted("barge_in")
            await conversation.cancel_active("barge_in")
            heard = self.speech.barge_in_cut(message.item_id, message.audio_end_ms)
            if heard is not None:
                await conversation.truncate(message.item_id, heard, "barge_in")
        elif isinstance(message, PlayoutFinished):
            self.speech.playout_finished(message.item_id, message.heard_ms)
        elif isinstance(message, PlayoutStopped):
            heard = self.speech.playout_stopped(message.item_id, message.heard_ms)
            if heard is not None:
                await conversation.truncate(message.item_id, heard, "false_claim")
        elif isinstance(message, PlayoutLost):
            await self._on_playout_lost(message.item_ids)
        elif isinstance(message, SilenceElapsed):
            await self._on_silence()
        elif isinstance(message, ServerNote):
            await conversation.note_and_respond(message.kind, message.text)
        elif isinstance(message, InjectedCrash):
            raise InjectedFault(message.reason)

    async def _on_playout_lost(self, item_ids: frozenset[str]) -> None:
        """The AudioActor restarted and cleared the line: what the caller did not hear is said again, and a
        segment of the caller's the dead instance was still deciding on ends where it stopped."""
        conversation = self.conversation
        stopped, repeat = self.speech.playout_lost(item_ids)
        cut_at_ms, self._segment_at_ms = self._segment_at_ms, None
        cut = cut_at_ms is not None and bool(self.book.uncommitted) and not self.ctx.config.server_vad
        fields: dict[str, object] = {"unanswered_stops": len(stopped), "repeat": repeat, "cut_utterance": cut}
        if cut and cut_at_ms is not None:
            fields |= {"at_ms": cut_at_ms, "duration_ms": round(self.ctx.trace.now_ms() - cut_at_ms)}
        conversation.trace("playout_lost", **fields)
        for item_id in stopped:
            await conversation.truncate(item_id, 0, "false_claim")
        if cut:
            # The new instance segments afresh and will never end it: what was forwarded is the caller's turn,
            # answered like any other (an empty transcript has the AI ask them to say it again).
            await self._on_utterance_ended()
        elif repeat:
            # Audio still streaming would be dropped by the new AudioActor: stop it, then say it again whole.
            await conversation.cancel_active("playout_lost")
            await conversation.note_and_respond("ai_unheard", NOTE_TEXT["ai_unheard"])

    async def _on_utterance_ended(self) -> None:
        if self.ctx.config.server_vad:
            return  # the server's VAD commits and responds by itself
        self._goodbye_aborted("caller_spoke")
        if not self.book.commit():
            self.conversation.trace("commit_skipped", reason="empty_buffer")
            return
        await self.conversation.session.send(rp.input_audio_commit())
        await self.conversation.request_response("user_turn")

    def _goodbye_aborted(self, why: str) -> None:
        if self.ladder.abort(why):
            self.ledger.forget_wish("silence_goodbye")

    async def _on_silence(self) -> None:
        """One tick of continued silence (the AudioActor repeats them): prompt, then goodbye, then hang up."""
        step = self.ladder.tick(self.ledger.pending, self.ledger.speaking)
        if step == "claim_prompt":
            answer = self.ladder.prompt_claimed(await self._claim_silence_prompt())
            if answer != "unconfirmed":
                await self.conversation.ask_for_line(answer)
        elif step == "silence_goodbye":
            await self.conversation.ask_for_line(step)
        elif step == "hang_up":
            self.conversation.hang_up(repeat=True)

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
