"""One Realtime session of the simulated model peer: the protocol state machine.

`PeerSession.run` plays the service's side of one websocket connection: it
sends `session.created`, then answers each client event as the Realtime API
does (see peer_dialect for the spellings and the validation), streams replies
faster than real time in the documented order, transcribes committed audio
with the script's next line, and emits the real service's errors for invalid
requests. A new connection is a new session with an empty conversation; what
outlives a connection (the script cursor, the faults already played) lives in
`PeerCall`, shared by every connection of one call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import orjson
import trio

from actors.locks import QuickLock
from callrt.net.transport import TransportClosed
from callrt.sim.peer_dialect import Dialect, PeerError, validate_strict
from callrt.sim.peer_replies import FALSE_CLAIM, Speaker, Turn, plan_reply
from callrt.sim.peer_script import PeerFault, SimScript
from callrt.sim.peer_voice import bytes_per_ms, speech_audio, speech_duration_ms

log = logging.getLogger(__name__)

CHUNK_MS = 100
"""Audio per `*.audio.delta`."""
CHUNK_INTERVAL_S = 0.010
"""Pause between deltas: 100 ms of audio every 10 ms, ten times real time, as the service streams."""
MIN_COMMIT_MS = 100.0
TRANSCRIBE_BASE_S = 0.30
TRANSCRIBE_PER_CHAR_S = 0.008
TRANSCRIBE_MAX_S = 1.2
LATE_TRANSCRIPTION_FALLBACK_S = 5.0
"""A transcription held for a response that never starts is released this long after its commit."""

SendText = Callable[[str], Awaitable[None]]
ReceiveText = Callable[[], Awaitable[str]]


@attrs.define
class PeerCall:
    """What the peer keeps across the connections of one call: the script cursor and the faults played."""

    script: SimScript
    origin: float | None = None
    """trio time of the first connection: fault `at_ms` counts from here."""
    next_say: int = 0
    fired: set[int] = attrs.field(factory=set)
    ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    orphaned: dict[bytes, str | None] = attrs.field(factory=dict)
    """Transcripts of committed audio a closed session never delivered, by the audio's digest: the same
    audio committed again in a later session transcribes the same (as the service would)."""

    def connected(self) -> None:
        if self.origin is None:
            self.origin = trio.current_time()

    def elapsed_ms(self) -> float:
        return 0.0 if self.origin is None else (trio.current_time() - self.origin) * 1000

    def new_id(self, prefix: str) -> str:
        """Ids unique across the call's sessions, shaped like the service's (`item_…`, `resp_…`)."""
        return f"{prefix}_sim{next(self.ids):06d}"

    def take_say(self) -> str | None:
        """The transcript of the next committed utterance (None once the script is exhausted)."""
        index = self.next_say
        self.next_say += 1
        return self.script.says[index] if index < len(self.script.says) else None

    def duplicating(self) -> bool:
        return any(f.kind == "duplicate_events" and f.at_ms <= self.elapsed_ms() for f in self.script.faults)

    def take_due(self, kind: str) -> PeerFault | None:
        """The first unplayed fault of `kind` whose time has come, marked as played."""
        for index, fault in enumerate(self.script.faults):
            if fault.kind == kind and index not in self.fired and fault.at_ms <= self.elapsed_ms():
                self.fired.add(index)
                return fault
        return None

    def disconnect_deadline(self) -> tuple[float, int | None]:
        """(trio deadline, fault index) of the next unplayed `realtime_disconnect`, or (inf, None)."""
        assert self.origin is not None
        pending = [
            (self.origin + fault.at_ms / 1000, index)
            for index, fault in enumerate(self.script.faults)
            if fault.kind == "realtime_disconnect" and index not in self.fired
        ]
        return min(pending) if pending else (math.inf, None)


@attrs.define
class Item:
    """A conversation item as the peer keeps it."""

    id: str
    role: Speaker
    content: list[dict[str, Any]]
    text: str = ""
    """What the planner reads: transcript, input text, or the assistant's full reply."""
    audio_ms: int = 0
    """Assistant items: milliseconds of audio generated (after any truncation)."""


@attrs.define
class ActiveResponse:
    id: str
    cancel_requested: trio.Event = attrs.field(factory=trio.Event)

    @property
    def cancelled(self) -> bool:
        return self.cancel_requested.is_set()

    async def pause(self) -> bool:
        """Wait one delta interval; True when a cancel arrived meanwhile (or before)."""
        with trio.move_on_after(CHUNK_INTERVAL_S):
            await self.cancel_requested.wait()
        return self.cancelled


class PeerSession:
    def __init__(self, send_text: SendText, call: PeerCall, dialect: Dialect, model: str | None = None) -> None:
        self._send_text = send_text
        self.call = call
        self.dialect = dialect
        self.model = model or dialect.default_model
        self.session = dialect.default_session(call.new_id("sess"), self.model, int(trio.current_time()))
        self.items: list[Item] = []
        self._buffer_ms = 0.0
        self._buffer_digest = hashlib.sha256()
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

    async def _emit_item_added(self, item_doc: dict[str, Any], previous_item_id: str | None) -> None:
        """beta: `conversation.item.created`; GA: `conversation.item.added` (+ `.done` for complete items)."""
        if self.dialect.is_ga:
            await self.emit("conversation.item.added", previous_item_id=previous_item_id, item=item_doc)
            if item_doc.get("status") == "completed":
                await self.emit("conversation.item.done", previous_item_id=previous_item_id, item=item_doc)
        else:
            await self.emit("conversation.item.created", previous_item_id=previous_item_id, item=item_doc)

    # --- session and input audio ---------------------------------------------------------------

    async def _session_update(self, event: dict[str, Any]) -> None:
        self.session = self.dialect.updated_session(self.session, event.get("session"), voice_locked=self._voice_used)
        await self.emit("session.updated", session=self.session)

    async def _append(self, event: dict[str, Any]) -> None:
        try:
            audio = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PeerError("invalid_value", "Invalid 'audio'. Expected base64-encoded audio bytes.", "audio") from exc
        self._buffer_ms += len(audio) / bytes_per_ms(self.dialect.input_format(self.session))
        self._buffer_digest.update(audio)

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
        self._buffer_ms = 0.0
        digest, self._buffer_digest = self._buffer_digest.digest(), hashlib.sha256()
        item = Item(self.call.new_id("item"), "user", [{"type": "input_audio", "transcript": None}])
        previous = self.items[-1].id if self.items else None
        self.items.append(item)
        await self.emit("input_audio_buffer.committed", item_id=item.id, previous_item_id=previous)
        await self._emit_item_added(self._item_doc(item), previous)
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
        item_id = raw.get("id") or self.call.new_id("item")
        if any(existing.id == item_id for existing in self.items):
            raise PeerError("invalid_value", f"Item with id '{item_id}' already exists.", "item.id")
        index = self._insert_index(event.get("previous_item_id"))
        item = Item(item_id, role, content, text=text)
        previous = self.items[index - 1].id if index > 0 else None
        self.items.insert(index, item)
        await self._emit_item_added(self._item_doc(item), previous)

    def _insert_index(self, previous_item_id: str | None) -> int:
        if previous_item_id is None:
            return len(self.items)
        if previous_item_id == "root":
            return 0
        for index, item in enumerate(self.items):
            if item.id == previous_item_id:
                return index + 1
        raise PeerError("invalid_value", f"Previous item with id '{previous_item_id}' not found.", "previous_item_id")

    def _find(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise PeerError("invalid_value", f"Item with id '{item_id}' not found.", "item_id")

    async def _truncate(self, event: dict[str, Any]) -> None:
        item = self._find(event["item_id"])
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
        item = self._find(event["item_id"])
        self.items.remove(item)
        await self.emit("conversation.item.deleted", item_id=item.id)

    async def _item_retrieve(self, event: dict[str, Any]) -> None:
        await self.emit("conversation.item.retrieved", item=self._item_doc(self._find(event["item_id"])))

    def _item_doc(self, item: Item, status: str = "completed") -> dict[str, Any]:
        return {
            "id": item.id,
            "object": "realtime.item",
            "type": "message",
            "role": item.role,
            "status": status,
            "content": [dict(part) for part in item.content],
        }

    # --- responses -----------------------------------------------------------------------------

    async def _response_create(self, event: dict[str, Any]) -> None:
        if self._response is not None:
            raise PeerError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._response.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        response = ActiveResponse(self.call.new_id("resp"))
        self._response = response
        script = self.call.script
        turns = [Turn(item.role, item.text) for item in self.items]
        text = plan_reply(turns, script.language, script.business_name)
        if self.call.take_due("ai_false_claim"):
            text = FALSE_CLAIM[script.language]
        modalities = self.dialect.modalities(self.session, event.get("response") or {})
        assert self._nursery is not None
        self._nursery.start_soon(self._stream_response, response, text, "audio" in modalities)

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        response = self._response
        wanted = event.get("response_id")
        if response is None or response.cancelled or (wanted and wanted != response.id):
            raise PeerError("response_cancel_not_active", "Cancellation failed: no active response found")
        response.cancel_requested.set()

    async def _stream_response(self, response: ActiveResponse, text: str, with_audio: bool) -> None:
        d = self.dialect
        await self.emit("response.created", response=d.response_object(response.id, self.session, "in_progress", []))
        self._response_started.set()
        self._response_started = trio.Event()
        item = Item(self.call.new_id("item"), "assistant", [], text=text)
        previous = self.items[-1].id if self.items else None
        self.items.append(item)
        ids = {"response_id": response.id, "item_id": item.id, "output_index": 0, "content_index": 0}
        await self.emit(
            "response.output_item.added",
            response_id=response.id,
            output_index=0,
            item=self._item_doc(item, "in_progress"),
        )
        await self._emit_item_added(self._item_doc(item, "in_progress"), previous)
        part_type = "audio" if with_audio else "text"
        empty_part = {"type": part_type, "transcript": ""} if with_audio else {"type": "text", "text": ""}
        await self.emit("response.content_part.added", **ids, part=empty_part)
        # Deltas stop at the first pause a cancel interrupts; the closing events are sent either way.
        if with_audio:
            said = await self._stream_audio(response, item, text, ids)
        else:
            said = ""
            for piece in _pieces(text):
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
        item_doc = self._item_doc(item, "completed" if status == "completed" else "incomplete")
        await self.emit("response.output_item.done", response_id=response.id, output_index=0, item=item_doc)
        if d.is_ga:
            await self.emit("conversation.item.done", previous_item_id=previous, item=item_doc)
        done = d.response_object(response.id, self.session, status, [item_doc])
        if status == "cancelled":
            done["status_details"] = {"type": "cancelled", "reason": "client_cancelled"}
        done["usage"] = self._usage(said, item.audio_ms)
        self._response = None
        await self.emit("response.done", response=done)

    async def _stream_audio(self, response: ActiveResponse, item: Item, text: str, ids: Mapping[str, Any]) -> str:
        """Audio deltas (100 ms each, 10 ms apart) with the transcript a little ahead; returns what was said."""
        fmt = self.dialect.output_format(self.session)
        audio = speech_audio(text, fmt)
        chunk_bytes = CHUNK_MS * bytes_per_ms(fmt)
        pieces = _pieces(text)
        # Each transcript piece is due when the audio reaches the first character it covers.
        starts = list(itertools.accumulate((len(p) for p in pieces), initial=0))[:-1]
        total_ms = speech_duration_ms(text)
        due_ms = [start / max(len(text), 1) * total_ms for start in starts]
        said = ""
        next_piece = 0
        self._voice_used = True
        for offset in range(0, len(audio), chunk_bytes):
            chunk_end_ms = (offset + chunk_bytes) / bytes_per_ms(fmt)
            while next_piece < len(pieces) and due_ms[next_piece] < chunk_end_ms:
                await self.emit(self.dialect.transcript_delta, **ids, delta=pieces[next_piece])
                said += pieces[next_piece]
                next_piece += 1
            chunk = audio[offset : offset + chunk_bytes]
            await self.emit(self.dialect.audio_delta, **ids, delta=base64.b64encode(chunk).decode("ascii"))
            item.audio_ms += round(len(chunk) / bytes_per_ms(fmt))
            if await response.pause():
                break
        return said

    def _usage(self, said: str, audio_ms: int) -> dict[str, Any]:
        input_text = sum(len(item.text) for item in self.items) // 4
        output_text = len(said) // 4
        output_audio = audio_ms // 50  # the service counts ~20 audio tokens per second
        return {
            "total_tokens": input_text + output_text + output_audio,
            "input_tokens": input_text,
            "output_tokens": output_text + output_audio,
            "input_token_details": {"text_tokens": input_text, "audio_tokens": 0, "cached_tokens": 0},
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        }


def _pieces(text: str) -> list[str]:
    """Transcript deltas: each word with the whitespace before it, as the service streams them."""
    return re.findall(r"\s*\S+", text) or [text]
