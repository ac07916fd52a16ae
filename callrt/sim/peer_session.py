"""One Realtime session of the simulated model peer: the protocol state machine.

`PeerSession.run` plays the service's side of one websocket connection: it
sends `session.created`, then answers each client event as the Realtime API
does (see peer_dialect for the spellings and the validation), streams replies
faster than real time in the documented order, transcribes committed audio
with the script's next line, and emits the real service's errors for invalid
requests. This module is the event loop and the sending; the parts it drives
have their own modules: the items (`peer_conversation`), a response's pacing
and audio plan (`peer_response`), and what outlives a connection, the script
cursor and the faults already played (`peer_call`, shared by every connection
of one call). A new connection is a new session with an empty conversation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import trio

from actors.locks import QuickLock
from callrt.net.transport import TransportClosed
from callrt.sim.peer_call import PeerCall
from callrt.sim.peer_conversation import Item, PeerConversation, item_doc
from callrt.sim.peer_dialect import Dialect, PeerError, validate_strict
from callrt.sim.peer_replies import FALSE_CLAIM, plan_reply
from callrt.sim.peer_response import ActiveResponse, audio_plan, text_pieces
from callrt.sim.peer_script import PeerFault
from callrt.sim.peer_vad import Edge, ServerVad, SpeechStarted, VadSettings
from callrt.sim.peer_voice import bytes_per_ms, speech_duration_ms

log = logging.getLogger(__name__)

MIN_COMMIT_MS = 100.0
TRANSCRIBE_BASE_S = 0.30
TRANSCRIBE_PER_CHAR_S = 0.008
TRANSCRIBE_MAX_S = 1.2
LATE_TRANSCRIPTION_FALLBACK_S = 5.0
"""A transcription held for a response that never starts is released this long after its commit."""

SendText = Callable[[str], Awaitable[None]]
ReceiveText = Callable[[], Awaitable[str]]


class PeerSession:
    def __init__(self, send_text: SendText, call: PeerCall, dialect: Dialect, model: str | None = None) -> None:
        self._send_text = send_text
        self.call = call
        self.dialect = dialect
        self.model = model or dialect.default_model
        self.session = dialect.default_session(call.new_id("sess"), self.model, int(trio.current_time()))
        self.conversation = PeerConversation()
        self._buffer_ms = 0.0
        self._buffer_digest = hashlib.sha256()
        self._audio_ms_written = 0.0
        """Input audio appended in this session: the server VAD's positions count from its start."""
        self._vad: ServerVad | None = None
        self._speech_item_id: str | None = None
        """The user item the server VAD announced in `speech_started`, committed when speech stops."""
        self._configure_vad()
        self._untranscribed: dict[str, tuple[bytes, str | None]] = {}
        self._response: ActiveResponse | None = None
        self._response_started = trio.Event()
        """Set (and replaced) each time a response starts: late transcriptions wait on it."""
        self._voice_used = False
        self._event_ids = itertools.count(1)
        self._send_lock = QuickLock()
        self._nursery: trio.Nursery | None = None

    # --- the connection loop -------------------------------------------------------------------

    async def run(self, receive_text: ReceiveText) -> None:
        """Serve the connection until the client goes away (or the caller cancels us)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    await self.emit("session.created", session=self.session)
                    while True:
                        await self.handle(await receive_text())
                except TransportClosed:
                    pass
                nursery.cancel_scope.cancel()
        finally:
            self.call.orphaned.update(self._untranscribed.values())

    async def handle(self, text: str) -> None:
        """Answer one client message; invalid ones get the service's `error` event, never an exception."""
        client_event_id: str | None = None
        try:
            try:
                event = json.loads(text)
            except json.JSONDecodeError as exc:
                raise PeerError("invalid_json", f"Invalid JSON in the client event: {exc.msg}.") from exc
            if not isinstance(event, dict):
                raise PeerError("invalid_type", "Invalid type for the client event: expected an object.")
            client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            event_type = event.get("type")
            if not isinstance(event_type, str):
                raise PeerError("missing_required_parameter", "Missing required parameter: 'type'.", "type")
            model = self.dialect.client_event_model(event_type)
            if event_type != "session.update":  # session.update is judged field by field in the dialect
                validate_strict(model, event, "")
            await self._dispatch(event_type, event)
        except PeerError as error:
            await self.error(error, client_event_id)

    async def _dispatch(self, event_type: str, event: dict[str, Any]) -> None:
        handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._truncate,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }
        handler = handlers.get(event_type)
        if handler is None:
            raise PeerError(
                "invalid_value", f"'{event_type}' is not supported on a websocket realtime session.", "type"
            )
        await handler(event)

    # --- sending -------------------------------------------------------------------------------

    async def emit(self, event_type: str, **fields: Any) -> None:
        """Send one server event (twice under the `duplicate_events` fault, same event_id)."""
        event = {"type": event_type, "event_id": f"event_sim{next(self._event_ids):06d}", **fields}
        # orjson: the peer encodes every audio delta, and shares a CPU with the bench's callers.
        text = orjson.dumps(event).decode()
        # `realtime_freeze`: the service goes quiet (the socket stays open); what it had to say comes after.
        await trio.sleep_until(self.call.frozen_until())
        async with self._send_lock:
            for _ in range(2 if self.call.duplicating() else 1):
                await self._send_text(text)

    async def error(self, error: PeerError, client_event_id: str | None) -> None:
        body = {
            "type": "invalid_request_error",
            "code": error.code,
            "message": error.message,
            "param": error.param,
            "event_id": client_event_id,
        }
        await self.emit("error", error=body)

    async def _emit_item_added(self, doc: dict[str, Any], previous_item_id: str | None) -> None:
        """beta: `conversation.item.created`; GA: `conversation.item.added` (+ `.done` for complete items)."""
        if self.dialect.is_ga:
            await self.emit("conversation.item.added", previous_item_id=previous_item_id, item=doc)
            if doc.get("status") == "completed":
                await self.emit("conversation.item.done", previous_item_id=previous_item_id, item=doc)
        else:
            await self.emit("conversation.item.created", previous_item_id=previous_item_id, item=doc)

    # --- session and input audio ---------------------------------------------------------------

    async def _session_update(self, event: dict[str, Any]) -> None:
        update = event.get("session")
        paths = _paths(update) if isinstance(update, Mapping) else {}
        refusal = self.call.refuses(paths)
        if refusal is not None:
            raise _refused(refusal.field, paths.get(refusal.field))
        self.session = self.dialect.updated_session(self.session, event.get("session"), voice_locked=self._voice_used)
        self._configure_vad()
        await self.emit("session.updated", session=self.session)

    def _configure_vad(self) -> None:
        """Run the server VAD while the session's `turn_detection` asks for it (kept as it is while unchanged)."""
        settings = VadSettings.of(self.dialect.turn_detection(self.session))
        audio_format = self.dialect.input_format(self.session)
        if settings is None:
            self._vad = None
        elif self._vad is None or (self._vad.settings, self._vad.audio_format) != (settings, audio_format):
            self._vad = ServerVad(settings, audio_format, position_ms=round(self._audio_ms_written))

    async def _append(self, event: dict[str, Any]) -> None:
        try:
            audio = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PeerError("invalid_value", "Invalid 'audio'. Expected base64-encoded audio bytes.", "audio") from exc
        ms = len(audio) / bytes_per_ms(self.dialect.input_format(self.session))
        self._buffer_ms += ms
        self._audio_ms_written += ms
        self._buffer_digest.update(audio)
        if self._vad is not None:
            for edge in self._vad.feed(audio):
                await self._on_speech_edge(edge, self._vad.settings)

    async def _on_speech_edge(self, edge: Edge, settings: VadSettings) -> None:
        """The service's server VAD: announce speech, interrupt the reply, and at its end commit and answer."""
        if isinstance(edge, SpeechStarted):
            self._speech_item_id = self.call.new_id("item")
            await self.emit(
                "input_audio_buffer.speech_started", audio_start_ms=edge.audio_start_ms, item_id=self._speech_item_id
            )
            response = self._response
            if settings.interrupt_response and response is not None and not response.cancelled:
                response.cancel("turn_detected")
            return
        item_id, self._speech_item_id = self._speech_item_id or self.call.new_id("item"), None
        await self.emit("input_audio_buffer.speech_stopped", audio_end_ms=edge.audio_end_ms, item_id=item_id)
        await self._commit_buffer(item_id)
        if settings.create_response and self._response is None:
            await self._start_response({})

    async def _clear(self, event: dict[str, Any]) -> None:
        self._buffer_ms = 0.0
        self._buffer_digest = hashlib.sha256()
        await self.emit("input_audio_buffer.cleared")

    async def _commit(self, event: dict[str, Any]) -> None:
        if self._buffer_ms < MIN_COMMIT_MS:
            raise PeerError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {self._buffer_ms:.2f}ms of audio.",
            )
        # A commit while the server VAD hears speech takes the item it announced.
        item_id, self._speech_item_id = self._speech_item_id or self.call.new_id("item"), None
        await self._commit_buffer(item_id)

    async def _commit_buffer(self, item_id: str) -> None:
        """The buffer becomes user item `item_id` (committed, added, and transcribed when the session asks)."""
        self._buffer_ms = 0.0
        digest, self._buffer_digest = self._buffer_digest.digest(), hashlib.sha256()
        item = Item(item_id, "user", [{"type": "input_audio", "transcript": None}])
        previous = self.conversation.append(item)
        await self.emit("input_audio_buffer.committed", item_id=item.id, previous_item_id=previous)
        await self._emit_item_added(item_doc(item), previous)
        if self.dialect.transcription_model(self.session) is not None:
            late = self.call.take_due("late_transcription")
            assert self._nursery is not None
            text = self.call.orphaned.pop(digest) if digest in self.call.orphaned else self.call.take_say()
            self._untranscribed[item.id] = (digest, text)
            self._nursery.start_soon(self._transcribe, item, text, late)

    async def _transcribe(self, item: Item, text: str | None, late: PeerFault | None) -> None:
        if late is None:
            chars = len(text or "")
            await trio.sleep(min(TRANSCRIBE_MAX_S, TRANSCRIBE_BASE_S + TRANSCRIBE_PER_CHAR_S * chars))
        else:
            # The fault: the transcription lands `ms` after the response to this turn has started.
            with trio.move_on_after(LATE_TRANSCRIPTION_FALLBACK_S):
                await self._response_started.wait()
            await trio.sleep(late.ms / 1000)
        del self._untranscribed[item.id]
        if text is None:
            error = {
                "type": "transcription_error",
                "code": "audio_unintelligible",
                "message": "Audio could not be transcribed.",
                "param": None,
            }
            await self.emit(
                "conversation.item.input_audio_transcription.failed", item_id=item.id, content_index=0, error=error
            )
            return
        item.text = text
        item.content = [{"type": "input_audio", "transcript": text}]
        await self.emit(
            "conversation.item.input_audio_transcription.completed",
            item_id=item.id,
            content_index=0,
            transcript=text,
            usage={"type": "duration", "seconds": round(speech_duration_ms(text) / 1000, 3)},
        )

    # --- conversation items --------------------------------------------------------------------

    async def _item_create(self, event: dict[str, Any]) -> None:
        raw = event["item"]
        role = raw.get("role")
        if raw.get("type", "message") != "message" or role not in ("user", "assistant", "system"):
            raise PeerError("invalid_value", "The simulated peer only keeps message items.", "item.type")
        content = [dict(part) for part in raw.get("content") or []]
        text = " ".join(str(part.get("text") or part.get("transcript") or "") for part in content).strip()
        item = Item(raw.get("id") or self.call.new_id("item"), role, content, text=text)
        previous = self.conversation.insert(item, event.get("previous_item_id"))
        await self._emit_item_added(item_doc(item), previous)

    async def _truncate(self, event: dict[str, Any]) -> None:
        item = self.conversation.find(event["item_id"])
        if item.role != "assistant" or not item.audio_ms:
            raise PeerError("invalid_value", "Only model output audio messages can be truncated", "item_id")
        if event["content_index"] != 0:
            raise PeerError("invalid_value", f"Invalid content_index {event['content_index']}.", "content_index")
        end_ms = event["audio_end_ms"]
        if end_ms < 0:
            raise PeerError("invalid_value", "audio_end_ms must not be negative.", "audio_end_ms")
        if end_ms > item.audio_ms:
            # As observed on the service: the refusal (with a null event_id), then the truncation clamped anyway.
            await self.error(
                PeerError("invalid_value", f"Audio content of {item.audio_ms}ms is already shorter than {end_ms}ms"),
                None,
            )
            end_ms = item.audio_ms
        item.audio_ms = end_ms
        # The service drops the transcript of truncated audio: the model's context holds only what was heard.
        for part in item.content:
            if "transcript" in part:
                part["transcript"] = ""
        await self.emit("conversation.item.truncated", item_id=item.id, content_index=0, audio_end_ms=end_ms)

    async def _item_delete(self, event: dict[str, Any]) -> None:
        item = self.conversation.find(event["item_id"])
        self.conversation.remove(item)
        await self.emit("conversation.item.deleted", item_id=item.id)

    async def _item_retrieve(self, event: dict[str, Any]) -> None:
        await self.emit("conversation.item.retrieved", item=item_doc(self.conversation.find(event["item_id"])))

    # --- responses -----------------------------------------------------------------------------

    async def _response_create(self, event: dict[str, Any]) -> None:
        if self._response is not None:
            raise PeerError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._response.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        await self._start_response(event.get("response") or {})

    async def _start_response(self, options: Mapping[str, Any]) -> None:
        """One response (`response.create`'s `response` options), streamed in the background."""
        response = ActiveResponse(self.call.new_id("resp"))
        self._response = response
        script = self.call.script
        text = plan_reply(self.conversation.turns(), script.language, script.business_name)
        if self.call.take_due("ai_false_claim"):
            text = FALSE_CLAIM[script.language]
        modalities = self.dialect.modalities(self.session, options)
        # `text_only_reply`: the model answers in text whatever the session says (seen after text history).
        with_audio = "audio" in modalities and not self.call.take_due("text_only_reply")
        assert self._nursery is not None
        self._nursery.start_soon(self._stream_response, response, text, with_audio)

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        response = self._response
        wanted = event.get("response_id")
        if response is None or response.cancelled or (wanted and wanted != response.id):
            raise PeerError("response_cancel_not_active", "Cancellation failed: no active response found")
        response.cancel("client_cancelled")

    async def _stream_response(self, response: ActiveResponse, text: str, with_audio: bool) -> None:
        d = self.dialect
        await self.emit("response.created", response=d.response_object(response.id, self.session, "in_progress", []))
        self._response_started.set()
        self._response_started = trio.Event()
        item = Item(self.call.new_id("item"), "assistant", [], text=text)
        previous = self.conversation.append(item)
        ids = {"response_id": response.id, "item_id": item.id, "output_index": 0, "content_index": 0}
        await self.emit(
            "response.output_item.added",
            response_id=response.id,
            output_index=0,
            item=item_doc(item, "in_progress"),
        )
        await self._emit_item_added(item_doc(item, "in_progress"), previous)
        part_type = "audio" if with_audio else "text"
        empty_part = {"type": part_type, "transcript": ""} if with_audio else {"type": "text", "text": ""}
        await self.emit("response.content_part.added", **ids, part=empty_part)
        # Deltas stop at the first pause a cancel interrupts; the closing events are sent either way.
        if with_audio:
            said = await self._stream_audio(response, item, text, ids)
        else:
            said = ""
            for piece in text_pieces(text):
                await self.emit(d.text_delta, **ids, delta=piece)
                said += piece
                if await response.pause():
                    break
        status = "cancelled" if response.cancelled else "completed"
        if with_audio:
            await self.emit(d.audio_done, **ids)
            await self.emit(d.transcript_done, **ids, transcript=said)
            part = {"type": "audio", "transcript": said}
            item.content = [{"type": d.audio_content, "transcript": said}]
        else:
            await self.emit(d.text_done, **ids, text=said)
            part = {"type": "text", "text": said}
            item.content = [{"type": d.text_content, "text": said}]
        await self.emit("response.content_part.done", **ids, part=part)
        final = item_doc(item, "completed" if status == "completed" else "incomplete")
        await self.emit("response.output_item.done", response_id=response.id, output_index=0, item=final)
        if d.is_ga:
            await self.emit("conversation.item.done", previous_item_id=previous, item=final)
        done = d.response_object(response.id, self.session, status, [final])
        if status == "cancelled":
            done["status_details"] = {"type": "cancelled", "reason": response.cancel_reason}
        done["usage"] = self.conversation.usage(said, item.audio_ms)
        self._response = None
        await self.emit("response.done", response=done)

    async def _stream_audio(self, response: ActiveResponse, item: Item, text: str, ids: Mapping[str, Any]) -> str:
        """Audio deltas with the transcript a little ahead (see `audio_plan`); returns what was said."""
        fmt = self.dialect.output_format(self.session)
        said = ""
        self._voice_used = True
        for due_pieces, chunk in audio_plan(text, fmt):
            for piece in due_pieces:
                await self.emit(self.dialect.transcript_delta, **ids, delta=piece)
                said += piece
            await self.emit(self.dialect.audio_delta, **ids, delta=base64.b64encode(chunk).decode("ascii"))
            item.audio_ms += round(len(chunk) / bytes_per_ms(fmt))
            if await response.pause():
                break
        return said


def _paths(doc: Mapping[str, Any], prefix: str = "") -> dict[str, object]:
    """Every leaf of a session update by its dotted path (`audio.input.transcription.model`)."""
    paths: dict[str, object] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            paths.update(_paths(value, f"{path}."))
        else:
            paths[path] = value
    return paths


def _refused(field: str, value: object) -> PeerError:
    """The service's answer to a session it will not take, as its `error` event spells it."""
    if field == "*":
        return PeerError("invalid_request_error", "The session could not be configured. Please try again later.")
    return PeerError(
        "invalid_value", f"Invalid value: {value!r} for 'session.{field}'. It is not supported.", f"session.{field}"
    )
