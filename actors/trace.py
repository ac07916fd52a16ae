"""The call trace: a JSON-lines record of every mailbox send/receive, lifecycle
event and external I/O of one call, with call-relative time.

`Trace` writes it (cheaply: lines are buffered and written in batches); `read_trace`
and `TraceEvent` read it back for the viewer, the scenario runner and tests.
The format is documented in docs/trace-format.md.

A trace file is never reached through a symlink (O_NOFOLLOW); a server's trace is created exclusively
(a second call with the same CallSid never replaces the first one's) and capped in size: past
`max_bytes` one `trace_truncated` event says so, and only `trace_end` follows it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from typing import IO, Any, Protocol

import attrs
import orjson
import trio

from store.errors import CallrtError

from .redact import TEXT_KEYS, mask_phone_numbers

TRACE_VERSION = 1
_FLUSH_EVERY = 512
_END_RESERVE_BYTES = 512
"""Room kept under `max_bytes` for the `trace_truncated` and `trace_end` lines."""
_FILE_MODE = 0o600
"""Traces hold what callers said: readable by the server's own user only."""
_STDLIB_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _encode(event: dict[str, Any]) -> str:
    """One event as a compact JSON line. orjson writes the same JSON as the standard encoder (compact
    separators, characters unescaped; a float may be spelled differently, `1e-7` for `1e-07`) in a
    tenth of the time, and a traced call writes about a hundred events a second. What orjson refuses
    (an int beyond 64 bits, a key that is not a string) goes through the standard encoder.

    The line is kept as `str`: the bytes orjson returns hold a 4 KiB buffer each whatever their
    length, and a call buffers up to `_FLUSH_EVERY` lines (2 MiB a call where 0.1 MiB will do)."""
    try:
        return orjson.dumps(event).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _STDLIB_ENCODE(event)


_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")
_NOT_PLAIN = re.compile(r"[\x00-\x1f\x7f\\]")
"""Control characters and backslashes: never part of a trace's file name (a backslash is a separator on Windows)."""


class UnsafeTracePath(CallrtError, ValueError):
    """A trace path that could write outside the folder it names (e.g. built from a caller's `../../x`)."""


def check_trace_path(path: str | os.PathLike[str]) -> Path:
    """`path` as a `Path`, if its last part is a plain file name and no part of it climbs with `..`.

    A trace is named after its call, and call ids come from the caller's side of the line: a path
    built as `f"traces/{call_sid}.jsonl"` from a callSid of `../../x` would write anywhere."""
    parts = PurePath(path).parts
    if ".." in parts:
        raise UnsafeTracePath(f"trace path {str(path)!r} climbs out of its folder: use trace_file(folder, call_sid)")
    name = PurePath(path).name
    if not name or name.startswith(".") or _NOT_PLAIN.search(name):
        raise UnsafeTracePath(f"trace path {str(path)!r} does not end in a plain file name")
    return Path(path)


def trace_name(call_sid: str) -> str:
    """The name of a call's trace (its file is `<name>.jsonl`): the call id with every character other than
    letters, digits, `_` and `-` replaced by `_`, and at most 64 of them."""
    return _UNSAFE_IN_NAME.sub("_", call_sid)[:64]


def trace_file(folder: str | os.PathLike[str], call_sid: str) -> Path:
    """`<folder>/<trace_name(call_sid)>.jsonl`: a plain file in `folder`, whatever the caller sent as its callSid."""
    return Path(folder) / f"{trace_name(call_sid) or '_'}.jsonl"


def mask_phone(phone: str) -> str:
    """Keep the country prefix and the last four digits: enough to debug, not to dial."""
    if len(phone) <= 6:
        return "*" * len(phone)
    return phone[:4] + "*" * (len(phone) - 8) + phone[-4:]


def summarise(value: Any, key: str = "") -> Any:
    """A JSON-safe summary of one message field: bytes become their length, phones are masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if "phone" in key and value:
            return mask_phone(value)
        return mask_phone_numbers(value) if key in TEXT_KEYS else value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": len(value)}
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if attrs.has(type(value)):
        return {"type": type(value).__name__, **message_fields(value)}
    if isinstance(value, Mapping):
        return {str(k): summarise(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [summarise(v, key) for v in value]
    return repr(value)


def message_fields(message: Any) -> dict[str, Any]:
    """The fields of an attrs message, summarised for the trace."""
    return {field.name: summarise(getattr(message, field.name), field.name) for field in attrs.fields(type(message))}


class Trace:
    """Records one call's events. Safe to use from any task of the call's trio run.

    With `path=None` the events are kept in memory only (`events`), which is what
    unit tests and the scenario runner's invariant checks read. A path that climbs out of its
    folder or does not end in a plain file name is refused with `UnsafeTracePath` (see
    `check_trace_path`); `trace_file(folder, call_sid)` builds a safe one. With neither a file nor
    memory, only the events a subclass counts (`counted_events`) are built at all.
    """

    counted_events: frozenset[str] = frozenset()
    """Events a subclass reads in `write` even when they are neither kept nor written."""

    def __init__(
        self,
        call_sid: str,
        path: str | os.PathLike[str] | None = None,
        *,
        keep_in_memory: bool = True,
        meta: Mapping[str, Any] | None = None,
        max_bytes: int | None = None,
        exclusive: bool = False,
    ) -> None:
        """`max_bytes` caps the events written and kept (None: no cap). With `exclusive` the file is
        created at once and must not exist yet: `FileExistsError` otherwise."""
        self.call_sid = call_sid
        self.path = check_trace_path(path) if path is not None else None
        self.events: list[dict[str, Any]] = []
        self._keep = keep_in_memory
        self.detailed = keep_in_memory or path is not None
        """Whether events are kept or written: when not, callers may skip summarising what nobody reads."""
        self._pending: list[str] = []
        self._file: IO[str] | None = None
        self._t0 = trio.current_time()
        self._seq = 0
        self.closed = False
        self._max_bytes = max_bytes
        self._bytes = 0
        self.truncated = False
        if exclusive and self.path is not None:
            self._file = _open_trace_file(self.path, os.O_EXCL)
        header: dict[str, Any] = {
            "ev": "trace_start",
            "version": TRACE_VERSION,
            "call_sid": call_sid,
            "wall_start": dt.datetime.now(dt.UTC).isoformat(),
        }
        if meta:
            header["meta"] = summarise(dict(meta))
        self.write(header)

    def now_ms(self) -> float:
        """Call-relative time in milliseconds, to the microsecond (virtual under MockClock).

        Integer rounding rather than `round(x, 3)`, which costs three times as much: every traced
        event pays for it. Times are never negative, so adding a half and truncating rounds."""
        return int((trio.current_time() - self._t0) * 1_000_000.0 + 0.5) / 1000

    def keeps(self, ev: str) -> bool:
        """Whether an `ev` event is recorded at all: kept, written, or counted by a subclass."""
        return self.detailed or ev in self.counted_events

    def record(self, ev: str, **fields: Any) -> None:
        """Append one event; `fields` must already be JSON-safe (see `summarise`)."""
        if not self.detailed and ev not in self.counted_events:
            return  # a call without a trace records dozens of events a second that nobody would read
        self._seq += 1
        for key in TEXT_KEYS:  # what a caller said may hold their (or someone's) phone number
            value = fields.get(key)
            if isinstance(value, str):
                fields[key] = mask_phone_numbers(value)
        self.write({"t": self.now_ms(), "seq": self._seq, "ev": ev, **fields})

    def write(self, event: dict[str, Any]) -> None:
        """Keep and/or write one built event: the hook a subclass overrides to read every event (metrics)."""
        if self.closed:
            return
        line = _encode(event) if self.path is not None or self._max_bytes is not None else ""
        if self._max_bytes is not None and not self._fits(line, event["ev"]):
            return
        if self._keep:
            self.events.append(event)
        if self.path is not None:
            self._pending.append(line)
            if len(self._pending) >= _FLUSH_EVERY:
                self.flush()

    def _fits(self, line: str, ev: str) -> bool:
        """Whether an event still fits under `max_bytes`; the first that does not is replaced by
        `trace_truncated`, and after it only `trace_end` is let through."""
        assert self._max_bytes is not None
        if self.truncated:
            return ev == "trace_end"
        self._bytes += len(line.encode("utf-8")) + 1
        if self._bytes <= self._max_bytes - _END_RESERVE_BYTES:
            return True
        self.truncated = True
        self._seq += 1
        notice = {"t": self.now_ms(), "seq": self._seq, "ev": "trace_truncated", "limit_bytes": self._max_bytes}
        if self._keep:
            self.events.append(notice)
        if self.path is not None:
            self._pending.append(_encode(notice))
        return False

    def flush(self) -> None:
        if self.path is None or not self._pending:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = _open_trace_file(self.path, os.O_TRUNC)
        self._file.write("\n".join(self._pending) + "\n")
        self._file.flush()
        self._pending.clear()

    def close(self) -> None:
        """Write the closing event and everything still buffered; idempotent."""
        if self.closed:
            return
        self.record("trace_end")
        self.flush()
        self.closed = True
        if self._file is not None:
            self._file.close()
            self._file = None


def _open_trace_file(path: Path, mode_flag: int) -> IO[str]:
    """`path` for writing, never through a symlink; `mode_flag` is O_EXCL (must be new) or O_TRUNC."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | mode_flag, _FILE_MODE)
    return os.fdopen(fd, "w", encoding="utf-8")


@attrs.frozen
class TraceEvent:
    """One event read back from a trace file."""

    t: float
    seq: int
    ev: str
    data: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def iter_trace(path: str | os.PathLike[str]) -> Iterator[TraceEvent]:
    """Events of a trace file in order; a malformed line is skipped (traces may be cut short)."""
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), encoding="utf-8") as lines:
        for line in lines:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(raw, dict):
                yield event_from_dict(raw)


def event_from_dict(raw: dict[str, Any]) -> TraceEvent:
    return TraceEvent(t=float(raw.get("t", 0.0)), seq=int(raw.get("seq", 0)), ev=str(raw.get("ev", "")), data=raw)


def read_trace(path: str | os.PathLike[str]) -> list[TraceEvent]:
    return list(iter_trace(path))


class Recorder(Protocol):
    """Where a synchronous state machine reports its transitions: one trace event per call.

    The RealtimeActor's state machines take one instead of a `Trace`, so they stay free of trio
    and their tests can read what they reported from a plain list.
    """

    def __call__(self, what: str, /, **fields: Any) -> None: ...
