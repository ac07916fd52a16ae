"""Twilio Media Streams on the wire: inbound events parsed into typed values, outbound
`media` / `mark` / `clear` messages, and `TwilioCallerLine`, the `CallerLine` port
over any `TextTransport` (a real websocket, or an in-memory pipe in scenarios).

Bad input never raises out of here: malformed JSON, unknown events, bad base64 and
frames of the wrong size are counted (`LineStats.bad`, by reason), logged and skipped.
Strings the peer controls are bounded where they are parsed (a mark name we could have sent,
one DTMF key, a SID of sane length) and escaped in log lines (callrt.logsafe).
"""

from __future__ import annotations

import base64
import binascii
import collections
import logging
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import attrs
import orjson
import trio

from actors.codec import FRAME_BYTES, FRAME_MS
from actors.messages import CallerDtmf, CallerFrame, MarkPlayed
from actors.ports import CallerLineEvent, LineClosed
from actors.trace import Trace
from callrt.logsafe import escape_for_log
from callrt.net.transport import KnowsArrival, TextTransport, TransportClosed
from store.errors import CallrtError

logger = logging.getLogger("callrt.telephony.media")

_TRACED_BAD_PER_REASON = 20
"""Bad messages traced one by one per reason (a flood is still counted, not traced)."""
MAX_MARK_NAME = 256
"""Longer than any mark name the AudioActor sends: a longer one was never ours."""
MAX_SID = 128
"""Twilio's SIDs are 34 characters; a scenario's call ids are longer, never this long."""
DTMF_KEYS = frozenset("0123456789*#ABCD")


class BadMessage(CallrtError, ValueError):
    """An inbound message that is not a usable Media Streams event; `reason` is a short metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------
# Inbound events


@attrs.frozen
class Connected:
    protocol: str
    version: str


@attrs.frozen
class MediaFormat:
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@attrs.frozen
class StreamStart:
    stream_sid: str
    call_sid: str
    account_sid: str = ""
    tracks: tuple[str, ...] = ("inbound",)
    custom_parameters: Mapping[str, str] = attrs.field(factory=dict)
    media_format: MediaFormat = MediaFormat()


@attrs.frozen
class Media:
    payload: bytes
    timestamp_ms: int
    chunk: int
    track: str


@attrs.frozen
class Mark:
    name: str


@attrs.frozen
class Dtmf:
    digit: str
    track: str = "inbound_track"


@attrs.frozen
class Stop:
    call_sid: str


InboundEvent = Connected | StreamStart | Media | Mark | Dtmf | Stop


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadMessage("missing_field", f"{where} is not an object")
    return value


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise BadMessage("missing_field", f"{where}.{key} is not a string")
    return value


def _sid(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _string(obj, key, where)
    if not value or len(value) > MAX_SID:
        raise BadMessage("bad_sid", f"{where}.{key} is empty or longer than {MAX_SID} characters")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    # Twilio sends timestamp and chunk as decimal strings.
    value = obj.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadMessage("missing_field", f"{where}.{key} is not an integer: {value!r}") from None


def _parse_start(msg: Mapping[str, Any]) -> StreamStart:
    start = _object(msg.get("start"), "start")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise BadMessage("missing_field", "start.customParameters is not an object")
    fmt = start.get("mediaFormat") or {}
    fmt = _object(fmt, "start.mediaFormat")
    tracks = start.get("tracks") or ["inbound"]
    return StreamStart(
        stream_sid=_sid(start, "streamSid", "start") if "streamSid" in start else _sid(msg, "streamSid", ""),
        call_sid=_sid(start, "callSid", "start"),
        account_sid=str(start.get("accountSid", ""))[:MAX_SID],
        tracks=tuple(str(t) for t in tracks) if isinstance(tracks, list) else ("inbound",),
        custom_parameters={str(k): str(v) for k, v in params.items()},
        media_format=MediaFormat(
            encoding=str(fmt.get("encoding", "audio/x-mulaw")),
            sample_rate=_int(fmt, "sampleRate", "start.mediaFormat", 8000),
            channels=_int(fmt, "channels", "start.mediaFormat", 1),
        ),
    )


def _parse_media(msg: Mapping[str, Any]) -> Media:
    media = _object(msg.get("media"), "media")
    try:
        payload = binascii.a2b_base64(_string(media, "payload", "media"), strict_mode=True)
    except ValueError as exc:  # binascii.Error, or a payload with characters outside ASCII
        raise BadMessage("bad_base64", str(exc)) from None
    return Media(
        payload=payload,
        timestamp_ms=_int(media, "timestamp", "media", 0),
        chunk=_int(media, "chunk", "media", 0),
        track=str(media.get("track", "inbound")),
    )


def parse_event(text: str) -> InboundEvent:
    """One inbound Media Streams message; raises `BadMessage` for anything unusable."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:  # nesting too deep included
        raise BadMessage("bad_json", str(exc)) from None
    msg = _object(msg, "message")
    event = msg.get("event")
    if event == "media":
        return _parse_media(msg)
    if event == "mark":
        name = _string(_object(msg.get("mark"), "mark"), "name", "mark")
        if len(name) > MAX_MARK_NAME:
            raise BadMessage("bad_mark", f"a mark name of {len(name)} characters")
        return Mark(name=name)
    if event == "dtmf":
        dtmf = _object(msg.get("dtmf"), "dtmf")
        digit = _string(dtmf, "digit", "dtmf")
        if digit not in DTMF_KEYS:
            raise BadMessage("bad_dtmf", f"not a key: {digit[:8]!r}")
        return Dtmf(digit=digit, track=str(dtmf.get("track", "inbound_track"))[:32])
    if event == "start":
        return _parse_start(msg)
    if event == "connected":
        return Connected(protocol=str(msg.get("protocol", "")), version=str(msg.get("version", "")))
    if event == "stop":
        stop = msg.get("stop")
        return Stop(call_sid=str(stop.get("callSid", "")) if isinstance(stop, dict) else "")
    raise BadMessage("unknown_event", f"event={str(event)[:64]!r}")


# --------------------------------------------------------------------------
# Outbound messages


def _dump(message: Mapping[str, Any]) -> str:
    return orjson.dumps(message).decode()


def media_message(stream_sid: str, payload: bytes) -> str:
    """AI audio (mu-law) for the caller."""
    return _dump(
        {"event": "media", "streamSid": stream_sid, "media": {"payload": base64.b64encode(payload).decode("ascii")}}
    )


def mark_message(stream_sid: str, name: str) -> str:
    return _dump({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return _dump({"event": "clear", "streamSid": stream_sid})


# --------------------------------------------------------------------------
# The caller line


@attrs.define(eq=False)
class LineStats:
    """What one line saw and sent; the server's /metrics sums these over calls (hashed by identity)."""

    frames_in: int = 0
    frames_out: int = 0
    marks_out: int = 0
    marks_in: int = 0
    clears: int = 0
    bad: collections.Counter[str] = attrs.field(factory=collections.Counter)

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())


class TwilioCallerLine:
    """`actors.ports.CallerLine` over a Media Streams websocket.

    Its trace events (`line`: start, bad_message, hang_up, closed) cover what no
    mailbox sees; frames, marks and DTMF are traced by the mailboxes they go to.

    `read_start()` consumes messages up to the `start` event (the server needs its
    callSid and custom parameters before it can start the call); `receive()` calls it
    implicitly. A `stop` event or a closed transport ends the line with `LineClosed`.
    """

    def __init__(self, transport: TextTransport, trace: Trace | None = None) -> None:
        self.transport = transport
        self.trace = trace
        self.start: StreamStart | None = None
        self.stats = LineStats()
        self.closed = False
        self._arrival: Callable[[], float] = trio.current_time
        """A frame's arrival: the transport's, where it knows it (a socket's kernel receive time), else the
        time it was parsed, on trio's clock (bound to the run's clock once the stream starts: one call, not three)."""

    async def read_start(self) -> StreamStart:
        while self.start is None:
            event = await self._next_event()
            if isinstance(event, StreamStart):
                self.start = event
                transport = self.transport
                self._arrival = (
                    transport.arrival
                    if isinstance(transport, KnowsArrival)
                    else trio.lowlevel.current_clock().current_time
                )
                self._record("start", call_sid=event.call_sid, stream_sid=event.stream_sid, tracks=list(event.tracks))
            elif isinstance(event, Stop):
                self._closed_by("stop")
            elif not isinstance(event, Connected):
                self._bad("before_start", type(event).__name__)
        return self.start

    async def receive(self) -> CallerLineEvent:
        if self.start is None:
            await self.read_start()
        while True:
            event = await self._next_event()
            if isinstance(event, Media):
                frame = self._frame(event)
                if frame is not None:
                    return frame
            elif isinstance(event, Mark):
                self.stats.marks_in += 1
                return MarkPlayed(event.name)
            elif isinstance(event, Dtmf):
                return CallerDtmf(event.digit)
            elif isinstance(event, Stop):
                self._closed_by("stop")
            else:
                self._bad("unexpected_event", type(event).__name__)

    def _frame(self, media: Media) -> CallerFrame | None:
        if media.track not in ("inbound", "inbound_track"):
            self._bad("foreign_track", media.track)
            return None
        if len(media.payload) != FRAME_BYTES:
            # The AudioActor's clock counts whole 20 ms frames; anything else is corrupt input.
            self._bad("bad_frame_size", f"{len(media.payload)} bytes, expected {FRAME_BYTES} ({FRAME_MS} ms)")
            return None
        self.stats.frames_in += 1
        return CallerFrame(payload=media.payload, timestamp_ms=media.timestamp_ms, received_at=self._arrival())

    async def _next_event(self) -> InboundEvent:
        while True:
            if self.closed:
                raise LineClosed("line already closed")
            try:
                text = await self.transport.receive()
            except TransportClosed as exc:
                self._closed_by(f"transport closed: {exc}")
            try:
                return parse_event(text)
            except BadMessage as exc:
                self._bad(exc.reason, exc.detail)

    def _closed_by(self, why: str) -> NoReturn:
        self.closed = True
        self._record("closed", why=why)
        raise LineClosed(why)

    def _bad(self, reason: str, detail: str) -> None:
        self.stats.bad[reason] += 1
        if self.stats.bad[reason] <= _TRACED_BAD_PER_REASON:
            logger.warning("skipping bad media-stream message (%s): %s", reason, escape_for_log(detail))
            self._record("bad_message", reason=reason, detail=detail[:200])

    def _record(self, kind: str, **fields: Any) -> None:
        if self.trace is not None:
            self.trace.record("line", kind=kind, **fields)

    # -- outbound ----------------------------------------------------------

    @property
    def stream_sid(self) -> str:
        if self.start is None:
            raise RuntimeError("no media-stream start received yet")
        return self.start.stream_sid

    async def _send(self, *texts: str) -> None:
        if self.closed:
            raise LineClosed("line already closed")
        try:
            await self.transport.send_many(texts)
        except TransportClosed as exc:
            self._closed_by(f"transport closed: {exc}")

    async def send_audio(self, payload: bytes, mark: str | None = None) -> None:
        media = media_message(self.stream_sid, payload)
        if mark is None:
            await self._send(media)
        else:
            await self._send(media, mark_message(self.stream_sid, mark))
            self.stats.marks_out += 1
        self.stats.frames_out += 1

    async def clear(self) -> None:
        await self._send(clear_message(self.stream_sid))
        self.stats.clears += 1

    async def hang_up(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._record("hang_up")
        await self.transport.aclose()
