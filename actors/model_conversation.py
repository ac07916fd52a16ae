"""ModelConversation: the RealtimeActor's conversation with the model, the shell around its state machines.

It holds the model session and the state machines whose decisions the model's events drive, and does
their I/O: it configures each new session (the conversation replayed as text, unsent caller speech
re-sent), reacts to each server event (AI audio to the AudioActor, caller transcripts to the NLP, turns
to the store, an unbacked claim cut), and offers the actor the requests both sides make: a guarded
`response.create`, a `[SERVER]` note with its response, a cancel, a truncate, the silence hang-up.

* `model_session.ModelSession` (with `model_link.ModelLink`): connect, backoff, reconnect, session
  rotation, de-duplication of server events;
* `response_ledger.ResponseLedger`: pending response, the guard, cancels, whether the AI speaks;
* `silence_ladder.SilenceLadder`: one "are you still on the line?", then goodbye, then hang up;
* `claim_guard.ClaimGuard`: whether a booking backs a claim, and the claims cut;
* `turn_book.TurnBook`: turns and the caller's speech in flight; `ai_speech.AiSpeech`: AI audio heard.

Every method runs under the actor's lock (the inbox loop's or the model pump's turn), so each
transition is atomic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import attrs
import trio

from . import realtime_protocol as rp
from .ai_speech import AiSpeech
from .call_context import CallContext
from .callback_promises import CALLBACK_NOTES, RECORDED_BY_THE_BOOKING_ACTOR
from .callback_writer import promise_callback
from .claim_guard import ClaimGuard
from .claims import Claim
from .codec import ULAW_BYTES_PER_MS
from .line_capture import LineCapture
from .locks import QuickLock
from .messages import AiAudio, AiAudioDone, HangUpAfterPlayout, NoteKind, StopPlayback, UserTranscript
from .model_session import ModelSession
from .ports import ModelConnector
from .response_ledger import ResponseLedger
from .response_watch import ResponseWatch
from .runtime_lines import RuntimeLine, line_words
from .runtime_voice import say_runtime_line
from .session_fallback import SessionFallback
from .silence_ladder import SilenceLadder
from .turn_book import TurnBook, TurnSink

REPLAY_CHUNK_BYTES = 1000 * ULAW_BYTES_PER_MS

logger = logging.getLogger("callrt.realtime")

HARMLESS_ERRORS = frozenset({"response_cancel_not_active"})
"""Errors that change nothing: a cancel that raced the response's end."""

NOTE_TEXT: dict[NoteKind, str] = {
    "silence_prompt": "The caller has been silent. Ask once, briefly, whether they are still on the line.",
    "silence_goodbye": "The caller is still silent. Say the goodbye your instructions give; the call will end.",
    "continue_after_noise": "That interruption was only noise. Continue where you stopped, without apologising.",
    "caller_unheard": "The caller's last words could not be understood or were lost. Ask them briefly to say it again.",
    "ai_unheard": "A fault on the line cut off your last words before the caller heard them. Say them again, briefly.",
}
"""The notes the actor writes itself, by kind."""
SAID_IN_PLACE: dict[str, RuntimeLine] = {
    "greeting": "greeting",
    "silence_prompt": "still_there",
    "silence_goodbye": "goodbye",
}
"""Responses whose words are fixed, by the reason they are asked for: when the model is late for one, the
runtime says its line itself (`say_in_place`)."""


class ModelConversation:
    def __init__(self, ctx: CallContext, connector: ModelConnector, lock: QuickLock, turns: TurnSink) -> None:
        self.ctx = ctx
        self.instructions = ""
        """The session's system prompt, set by the actor before the first session starts."""
        self._audio = ctx.mailboxes.audio.outbox("realtime")
        self._nlp = ctx.mailboxes.nlp.outbox("realtime")
        self.session = ModelSession(connector, self, lock, ctx.trace, self.trace, ctx.config.model_max_session_s)
        self.ledger = ResponseLedger(self.trace, self.log)
        self.ladder = SilenceLadder(self.trace)
        self.claims = ClaimGuard(self.trace)
        self.book = TurnBook(turns)
        self.speech = AiSpeech()
        self.fallback = SessionFallback(ctx.config.transcription_model)
        self.capture = LineCapture(ctx.voice_lines, line_words(ctx.language, ""))
        self.keep_line: Callable[[RuntimeLine, bytes], None] = lambda _line, _audio: None
        """Set by the actor: stores the model's audio of one of the runtime's lines (off the lock)."""
        self.watch = ResponseWatch(ctx.config.first_audio_timeout_ms / 1000.0)
        self._watch_changed = trio.Event()

    # ------------------------------------------------------------------ the session (called by ModelSession)

    def greets_as(self, business_name: str) -> None:
        """The business's name on the phone, as the opening says it. Called before the first session starts."""
        self.capture.words = line_words(self.ctx.language, business_name)

    def use_models(self, realtime_model: str | None, transcription_model: str | None) -> None:
        """The business's own models (None: the server's): the session asks for them, and the fallback chain
        starts from them. Called before the first session starts."""
        self.fallback = SessionFallback(transcription_model or self.ctx.config.transcription_model, realtime_model)

    async def session_started(self) -> None:
        """A fresh session: configure it, replay the conversation as text, re-send unsent caller audio."""
        dialect, send = self.session.dialect, self.session.send
        resend, replay = self.book.to_resend(), self.book.spoken()
        self.trace("model_connected", dialect=dialect, replay_turns=len(replay), resend_utterances=len(resend))
        self.fallback.connected()
        await self._send_session_update()
        for turn in replay:
            await send(rp.text_item(dialect, turn.role, turn.text))
        for utterance in resend:
            await self._append_audio(utterance.audio)
            await send(rp.input_audio_commit())
        await self._append_audio(bytes(self.book.uncommitted))

    async def _send_session_update(self) -> None:
        choice = self.fallback.choice
        config = attrs.evolve(self.ctx.config, transcription_model=choice.transcription_model)
        update = rp.session_update(self.session.dialect, config, self.instructions, self.ctx.language)
        self.fallback.sent(await self.session.send(choice.apply(update)))
        self._watching(self.watch.session_requested)

    async def _append_audio(self, audio: bytes) -> None:
        for start in range(0, len(audio), REPLAY_CHUNK_BYTES):
            await self.session.send(rp.input_audio_append(audio[start : start + REPLAY_CHUNK_BYTES]))

    def session_dropped(self, reason: str) -> None:
        self.watch.connection_dropped()
        self.capture.connection_dropped()
        self.ledger.connection_dropped()
        self.ladder.connection_dropped(self.ledger.is_done(self.ladder.goodbye_response_id))
        self.trace("model_disconnected", reason=reason, resume=self.ledger.wanted)

    def quiet(self) -> bool:
        return self.ledger.quiet

    # ------------------------------------------------------------------ responses and notes

    async def request_response(self, reason: str) -> None:
        """response.create now, or later: never while one is pending (the guard) or before the session is ready."""
        if self.session.stopped or self.ledger.request(reason, self.session.link.ready) != "send":
            return
        aloud = self.session.dialect if reason == "audio_retry" else None
        event_id = await self.session.send(rp.response_create(aloud))
        if event_id is None:
            self.ledger.create_unsent(reason)
        else:
            self.ledger.create_sent(reason, event_id)
            self._watching(self.watch.response_requested)

    async def _flush_wanted_response(self) -> None:
        reason = self.ledger.take_wanted(self.session.link.ready)
        if reason is not None:
            await self.request_response(reason)

    async def note_and_respond(self, kind: NoteKind, text: str) -> None:
        """A `[SERVER]` note (stored, kept for replay, sent as a system item when connected), then a response."""
        rendered = self.add_note(kind, text)
        if kind in CALLBACK_NOTES:
            # The prompt has the AI tell the caller a person will get back to them: that is a record.
            found = re.search(r"reason=(\S+)", text)
            reason = found[1] if found else kind
            if reason not in RECORDED_BY_THE_BOOKING_ACTOR:
                promise_callback(self.ctx, reason, self.caller_words())
        await self.session.send(rp.text_item(self.session.dialect, "server", rendered))
        await self.request_response(kind)

    async def ask_for_line(self, kind: NoteKind) -> None:
        """A note whose answer is one of the runtime's lines: while the model is not ready to answer (not
        connected yet, reconnecting), the runtime says the line at once in its place."""
        if self.session.link.ready or not await self.say_in_place(kind):
            await self.note_and_respond(kind, NOTE_TEXT[kind])

    async def say_in_place(self, reason: str) -> bool:
        """The model is late for a response with fixed words: the runtime says them itself (the model's own
        recorded words where it has them), and the conversation says the AI said them, so the model, once
        back, does not say them again. False when it cannot (not such a response; no audio of the opening)."""
        line = SAID_IN_PLACE.get(reason)
        if line is None or self.session.stopped or not say_runtime_line(self.ctx, self._audio, line):
            return False
        self.ledger.forget_wish(reason)
        if line == "greeting":
            self.book.take_greeting()
        words = self.capture.words[line]
        self.trace("said_in_place", reason=reason, line=line)
        self.book.add("assistant", words)
        # A session still being configured learns it now; a later one from the replayed turns.
        await self.session.send(rp.text_item(self.session.dialect, "assistant", words))
        if reason == "silence_goodbye":
            self.hang_up()
        return True

    async def opening_overdue(self) -> None:
        """`opening_wait_ms` into the call: a model not ready to say the opening yet has the runtime say it."""
        if not self.session.link.ready and self.book.greeting_due():
            await self.say_in_place("greeting")

    def caller_words(self) -> str:
        """The caller's latest words (what a callback request says was asked)."""
        return next((turn.text for turn in reversed(self.book.turns) if turn.role == "user" and turn.text), "")

    def add_note(self, kind: NoteKind, text: str) -> str:
        rendered = rp.render_note(kind, text)
        self.book.add("server", rendered)
        self.claims.noted(kind)
        self.trace("note_injected", kind=kind, text=rendered)
        return rendered

    # ------------------------------------------------------------------ cutting the AI short

    async def cancel_active(self, why: str) -> None:
        active = self.ledger.cancel()
        if active is None:
            self.trace("cancel_skipped", why=why)
            return
        await self.session.send(rp.response_cancel(active))
        self.trace("cancel", why=why, response_id=active)

    async def truncate(self, item_id: str, audio_end_ms: int, why: str) -> None:
        await self.session.send(rp.item_truncate(item_id, audio_end_ms))
        sent_ms = self.speech.sent_ms(item_id)
        self.trace("truncate", why=why, item_id=item_id, audio_end_ms=audio_end_ms, sent_ms=sent_ms)

    def hang_up(self, *, repeat: bool = False) -> None:
        self._hang_up_if(self.ladder.hang_up(repeat=repeat))

    def _hang_up_if(self, asked: bool) -> None:
        """Hand the silence ladder's hang-up to the AudioActor, when the ladder asked for it."""
        if asked:
            self._audio.send_nowait(HangUpAfterPlayout(reason="silence"))

    # ------------------------------------------------------------------ server events (called by ModelSession)

    async def server_event(self, event: rp.ServerEvent) -> None:
        if isinstance(event, rp.SessionUpdated):
            self.fallback.accepted()
            self.watch.session_acknowledged()
            self.session.link.acknowledged()
            if self.book.take_greeting():
                await self.request_response("greeting")
            await self._flush_wanted_response()
        elif isinstance(event, rp.ResponseCreated):
            if self.ledger.created(event.response_id):
                self.ladder.response_created(event.response_id)
                self.capture.response_created(event.response_id, self.ledger.reason_of(event.response_id))
        elif isinstance(event, rp.OutputItemAdded):
            self.ledger.item_added(event.response_id, event.item_id)
        elif isinstance(event, rp.AudioDelta):
            self._on_audio_delta(event)
        elif isinstance(event, rp.AudioDone):
            if self.ledger.audio_done(event.response_id):
                self._audio.send_nowait(AiAudioDone(response_id=event.response_id, item_id=event.item_id))
                self._hang_up_if(self.ladder.audio_done(event.response_id))
        elif isinstance(event, rp.TranscriptDelta):
            if self.ledger.transcribing(event.response_id):
                text, checked = self.speech.transcript_delta(event.response_id, event.delta)
                await self._cut_claim(event.response_id, event.item_id, text, self.claims.unbacked_new(text, checked))
        elif isinstance(event, rp.TranscriptDone):
            await self._on_transcript_done(event)
        elif isinstance(event, rp.OutputItemDone):
            self.ledger.item_done(event.item_id)
        elif isinstance(event, rp.ResponseDone):
            if self.ledger.done(event.response_id, event.status):
                cut = self.ledger.is_cut(event.response_id)
                self._hang_up_if(self.ladder.response_done(event.response_id, cut))
                self._keep_line(event.response_id, completed=event.status == "completed" and not cut)
                await self._answered(event.response_id, self.watch.done(event.response_id, event.status, cut))
                await self._flush_wanted_response()
        elif isinstance(event, rp.InputCommitted):
            self.book.committed(event.item_id)
        elif isinstance(event, rp.UserTranscriptCompleted):
            await self._on_user_transcript(event.item_id, event.transcript)
        elif isinstance(event, rp.UserTranscriptFailed):
            self.book.transcription_failed(event.item_id)
            self.trace("user_transcript_failed", item_id=event.item_id, message=event.message)
            await self._ask_to_repeat()
        elif isinstance(event, rp.Error):
            await self._on_error(event)

    def _on_audio_delta(self, event: rp.AudioDelta) -> None:
        if not self.ledger.audio_delta(event.response_id, event.item_id):
            self.trace("audio_dropped", response_id=event.response_id, bytes=len(event.audio))
            return
        self.watch.audio(event.response_id)
        self.speech.forwarded(event.item_id, len(event.audio))
        self.capture.audio(event.response_id, event.audio)
        self._audio.send_nowait(AiAudio(response_id=event.response_id, item_id=event.item_id, payload=event.audio))

    async def _on_transcript_done(self, event: rp.TranscriptDone) -> None:
        rid, item_id = event.response_id, event.item_id
        if not self.ledger.transcript_finished(rid):
            return
        if not self.ledger.is_cut(rid):
            await self._cut_claim(rid, item_id, event.transcript, self.claims.unbacked(event.transcript))
        if self.ledger.cut_for_claim(rid):
            return
        text = event.transcript.strip()
        self.capture.transcript(rid, text)
        if self.ledger.is_cut(rid):
            # The caller heard only part of it (and the model's own context keeps only the heard part).
            heard = self.speech.heard_of(rid, item_id, text)
            self.trace("ai_turn", response_id=rid, item_id=item_id, text=text, interrupted=True, heard=heard)
            text = heard
        else:
            self.trace("ai_turn", response_id=rid, item_id=item_id, text=text, interrupted=False)
        if text:
            self.book.add("assistant", text)

    def _keep_line(self, response_id: str, *, completed: bool) -> None:
        taken = self.capture.done(response_id, completed)
        if taken is None:
            return
        line, audio = taken
        self.ctx.voice_lines.kept(line, "model", audio)
        self.trace("line_captured", line=line, response_id=response_id, bytes=len(audio))
        self.keep_line(line, audio)

    async def _cut_claim(self, response_id: str, item_id: str, text: str, claim: Claim | None) -> None:
        """Stop an unbacked claim before the caller hears it: clear playout, cancel, truncate, correct."""
        if claim is None:
            return
        correction = self.claims.cut(claim, response_id, item_id, text)
        self.log(f"[GUARD] Cut an unbacked {claim} claim: {text!r}")
        self._audio.send_nowait(StopPlayback(reason="false_claim", item_id=item_id))
        if response_id == self.ledger.active:
            await self.cancel_active("false_claim")
        self.ledger.cut_claim(response_id)
        # Truncated at what the caller heard, which only the AudioActor knows: it answers the stop.
        self.speech.truncate_when_stopped(item_id)
        await self.note_and_respond("false_claim_cut", correction)

    async def _on_user_transcript(self, item_id: str, transcript: str) -> None:
        words = self.book.transcribed(item_id, transcript)
        if words is None:
            return
        self.trace("user_turn", item_id=item_id, text=words.text)
        if not words.text:
            await self._ask_to_repeat()
            return
        self._nlp.send_nowait(UserTranscript(turn_id=item_id, text=words.text, history=words.history))

    async def _ask_to_repeat(self) -> None:
        """The caller spoke (a real utterance) but nothing usable came of it: a booking line asks again
        rather than let a request vanish. The model may have answered the audio already; this follows."""
        await self.note_and_respond("caller_unheard", NOTE_TEXT["caller_unheard"])

    async def _answered(self, response_id: str, answer: str) -> None:
        """A response is done: one that said nothing aloud is asked for again, in audio, a few times."""
        if answer == "ok":
            return
        self.trace("text_only_reply", response_id=response_id, retry=answer == "retry")
        logger.error("%s: the model answered without audio (%s)", self.ctx.call_sid, response_id)
        if answer == "retry":
            await self.request_response("audio_retry")
        else:
            await self.hand_off("model_text_only")

    async def _on_error(self, error: rp.Error) -> None:
        """Every `error` the service sends, by the client event it refuses (docs/realtime.md, "Errors")."""
        if error.code in HARMLESS_ERRORS:
            self.trace("model_error", code=error.code, harmless=True)
            return
        if self.fallback.answers_update(error.event_id):
            await self._session_refused(error)
            return
        refused = self.session.link.sent_type(error.event_id)
        self.trace("model_error", code=error.code, message=error.message, event_id=error.event_id, refused=refused)
        self.log(f"[MODEL] error {error.code}: {error.message}")
        if refused == "response.create":
            self.ledger.create_refused(error.event_id, error.code)
            await self._flush_wanted_response()

    async def _session_refused(self, error: rp.Error) -> None:
        refusal = self.fallback.refused(error.code, error.message, error.param)
        self.ctx.trace.record(
            "model_refused", code=error.code, param=error.param, refused=refusal.refused, next=refusal.next_step
        )
        logger.error(
            "%s: the model refused the session's %s (%s: %s); %s",
            self.ctx.call_sid,
            refusal.refused,
            error.code,
            error.message[:200],
            f"trying {refusal.next_step}" if refusal.next_step else "no configuration left: handing the call off",
        )
        if refusal.next_step is not None:
            await self._send_session_update()
        else:
            await self.hand_off("session_refused")

    # ------------------------------------------------------------------ giving the model up

    async def hand_off(self, reason: str) -> None:
        """The model cannot serve this call: the runtime says the handoff line itself, promises a callback
        (a record), and the call ends once the caller heard it. The model is not connected again."""
        if self.session.stopped:
            return
        self.trace("model_given_up", reason=reason)
        self.ctx.trace.record("call_failed", reason=reason)
        logger.error("%s: giving the model up (%s); the caller hears the handoff line", self.ctx.call_sid, reason)
        await self.session.stop(reason)
        self.watch.connection_dropped()
        promise_callback(self.ctx, reason, self.caller_words())
        say_runtime_line(self.ctx, self._audio, "handoff", hang_up=reason)

    def _watching(self, change: Callable[[float], None]) -> None:
        change(trio.current_time())
        self._watch_changed.set()

    async def watch_responses(self, lock: QuickLock) -> None:
        """Sleep until the watched answer is overdue; then recycle the connection, or give the model up."""
        while not self.session.stopped:
            self._watch_changed = trio.Event()
            with trio.move_on_at(self.watch.deadline):
                await self._watch_changed.wait()
                continue
            async with lock:
                if trio.current_time() < self.watch.deadline or self.session.stopped:
                    continue
                await self._frozen(self.watch.waiting_for)

    async def session_unresponsive(self) -> None:
        """The connection's keepalive ping went unanswered (it is dropped already): a freeze like any other."""
        if not self.session.stopped:
            await self._frozen("pong")

    async def _frozen(self, waited: str | None) -> None:
        """An awaited answer is overdue: recycle the connection, or (again, without audio since) give the model up."""
        expiry = self.watch.expired()
        self.trace("model_frozen", waiting_for=waited, action=expiry)
        logger.error("%s: no %s from the model in time (%s)", self.ctx.call_sid, waited, expiry)
        if expiry == "recycle":
            await self.session.drop("frozen")  # nothing left to drop when the keepalive found it dead
            if self.ledger.wanted is not None:  # the response it froze in, owed to the next connection
                await self.say_in_place(self.ledger.wanted)
        else:
            await self.hand_off("model_frozen")

    def trace(self, what: str, /, **fields: Any) -> None:
        self.ctx.trace.record("realtime", what=what, **fields)

    def log(self, line: str) -> None:
        self.ctx.log("realtime", line)
