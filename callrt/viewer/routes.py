"""HTTP routes of the trace viewer, for any Starlette app (the telephony server, `callrt trace view`).

    GET /traces[?page=N]        recent traces in `trace_dir` (newest first), a page at a time
    GET /traces/<name>          the viewer page for `<trace_dir>/<name>.jsonl`
    GET /traces/<name>.jsonl    that trace's JSON lines (streamed)
    GET /traces/_viewer/...     the page's static assets

Every link is relative, so the routes also work when mounted under a prefix. Files are read in
worker threads, never on the event loop the calls run on, and never through a symlink. Given an
`access` check (the telephony server passes the business console's login), each route asks it first: a
response from it (a redirect to the login) is returned as is, and a business id limits the list
and the files to that business's calls.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import os
import re
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from callrt.viewer.html import ASSET_URL_PREFIX, STATIC_DIR, served_page

PAGE_SIZE = 50
TRACE_SUFFIX = ".jsonl"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
"""Trace names: no slash and no leading dot, so a name can never leave `trace_dir`."""
_TAIL_BYTES = 65536
_CHUNK_BYTES = 65536
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # a FIFO planted in trace_dir must not block the open
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

TraceAccess = Callable[[Request], Awaitable["Response | int | None"]]
"""Who may read traces: a `Response` refuses (e.g. a redirect to a login), an int allows only that
business's calls, None allows every trace."""


def trace_name_ok(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def is_trace_file(path: Path) -> bool:
    """A regular file itself, not a symlink to one."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def open_trace(path: Path) -> int:
    """A read-only descriptor of a regular trace file, never through a symlink (OSError otherwise)."""
    fd = os.open(path, _READ_FLAGS)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(f"{path} is not a regular file")
    return fd


def complete_length(fd: int) -> int:
    """How many bytes of the file are whole lines: a live call's trace may end in a torn one."""
    end = os.fstat(fd).st_size
    while end > 0:
        start = max(0, end - _CHUNK_BYTES)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def trace_name(call_sid: str) -> str:
    """The name of a call's trace (its file is `<name>.jsonl`): the call id, made safe for a file name."""
    return _UNSAFE.sub("_", call_sid)[:64]


@attrs.frozen
class TraceSummary:
    """What the list shows about one trace, read from its first line and its tail only."""

    name: str
    size: int
    modified: dt.datetime
    call_sid: str
    wall_start: str
    duration_ms: float | None
    ended: str
    business_id: int | None = None

    @classmethod
    def read(cls, path: Path) -> TraceSummary:
        header: dict[str, Any] = {}
        last_t: float | None = None
        ended = ""
        with os.fdopen(open_trace(path), "rb") as raw:
            info = os.fstat(raw.fileno())
            first = raw.readline(_TAIL_BYTES)
            raw.seek(max(0, info.st_size - _TAIL_BYTES))
            tail = raw.read().decode("utf-8", errors="replace").splitlines()
        header = _json_object(first.decode("utf-8", errors="replace"))
        meta = header.get("meta")
        business_id = meta.get("business_id") if isinstance(meta, dict) else None
        for line in tail:
            event = _json_object(line)
            if isinstance(event.get("t"), int | float):
                last_t = float(event["t"])
            if event.get("ev") == "call_end":
                ended = f"{event.get('by', '?')}: {event.get('reason', '')}"
        return cls(
            name=path.name[: -len(TRACE_SUFFIX)],
            size=info.st_size,
            modified=dt.datetime.fromtimestamp(info.st_mtime, dt.UTC),
            call_sid=str(header.get("call_sid", "")),
            wall_start=str(header.get("wall_start", "")),
            duration_ms=last_t,
            ended=ended,
            business_id=business_id if isinstance(business_id, int) else None,
        )


def _json_object(line: str) -> dict[str, Any]:
    """One JSON-lines record, or {} for a malformed or cut-off line (traces may still be written)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def recent_traces(
    trace_dir: Path, limit: int = PAGE_SIZE, offset: int = 0, *, business_id: int | None = None
) -> list[TraceSummary]:
    """Summaries of the traces in `trace_dir`, newest first, `limit` of them after the `offset` newest
    (of `business_id`'s calls only, when given). Blocking file I/O: call it from a worker thread."""
    try:
        entries = list(os.scandir(trace_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    dated: list[tuple[float, str]] = []
    for entry in entries:
        if not (entry.name.endswith(TRACE_SUFFIX) and trace_name_ok(entry.name[: -len(TRACE_SUFFIX)])):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                dated.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
        except OSError:
            continue  # pruned meanwhile
    dated.sort(reverse=True)
    if business_id is None:
        dated = dated[offset : offset + limit]
    summaries = []
    for _, path in dated:
        try:
            summary = TraceSummary.read(Path(path))
        except OSError:
            continue
        if business_id is not None and summary.business_id != business_id:
            continue
        summaries.append(summary)
        if len(summaries) == offset + limit if business_id is not None else False:
            break
    return summaries[offset:] if business_id is not None else summaries


def _format_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000.0
    return f"{int(seconds // 60)}:{seconds % 60:06.3f}"


def trace_list_html(trace_dir: Path, traces: list[TraceSummary], page: int = 1, more: bool = False) -> str:
    rows = "\n".join(
        "<tr>"
        f'<td><a href="traces/{html.escape(s.name)}">{html.escape(s.name)}</a></td>'
        f'<td dir="auto">{html.escape(s.call_sid)}</td>'
        f"<td>{html.escape(s.wall_start)}</td>"
        f'<td class="num">{_format_duration(s.duration_ms)}</td>'
        f'<td dir="auto">{html.escape(s.ended)}</td>'
        f'<td class="num">{s.size:,}</td>'
        f'<td><a href="traces/{html.escape(s.name)}{TRACE_SUFFIX}">jsonl</a></td>'
        "</tr>"
        for s in traces
    )
    empty = "" if traces else '<p class="empty">No traces yet.</p>'
    pages = " ".join(
        link
        for link, shown in (
            (f'<a href="traces?page={page - 1}" rel="prev">newer</a>', page > 1),
            (f'<a href="traces?page={page + 1}" rel="next">older</a>', more),
        )
        if shown
    )
    first = (page - 1) * PAGE_SIZE
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; style-src 'self'; img-src data:">
<title>callrt traces</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="traces/{ASSET_URL_PREFIX}viewer.css">
</head><body class="trace-list">
<h1>Recent call traces</h1>
<p class="hint">traces {first + 1 if traces else 0}–{first + len(traces)}, newest first, in
<code>{html.escape(trace_dir.name or str(trace_dir))}</code></p>
<table id="traces"><thead><tr><th>trace</th><th>call</th><th>started (UTC)</th><th>duration</th>
<th>ended</th><th>bytes</th><th></th></tr></thead>
<tbody>
{rows}
</tbody></table>
{empty}
<p class="pages">{pages}</p>
</body></html>
"""


def _business_of_trace(path: Path) -> int | None:
    with os.fdopen(open_trace(path), "rb") as raw:
        meta = _json_object(raw.readline(_TAIL_BYTES).decode("utf-8", errors="replace")).get("meta")
    business_id = meta.get("business_id") if isinstance(meta, dict) else None
    return business_id if isinstance(business_id, int) else None


def viewer_routes(trace_dir: Path, access: TraceAccess | None = None) -> list[BaseRoute]:
    """The viewer's routes over the traces in `trace_dir` (see the module docstring)."""

    async def allowed(request: Request) -> Response | int | None:
        return None if access is None else await access(request)

    async def trace_path(request: Request, business_id: int | None) -> Path:
        name = str(request.path_params["name"])
        path = trace_dir / f"{name}{TRACE_SUFFIX}"
        if not trace_name_ok(name) or not is_trace_file(path):
            raise HTTPException(404, "no such trace")
        if business_id is not None and await anyio.to_thread.run_sync(_business_of_trace, path) != business_id:
            raise HTTPException(404, "no such trace")  # another business's call: not even its name
        return path

    async def list_traces(request: Request) -> Response:
        scope = await allowed(request)
        if isinstance(scope, Response):
            return scope
        try:
            page = max(1, min(int(request.query_params.get("page", "1")), 1_000_000))
        except ValueError:
            page = 1
        found = await anyio.to_thread.run_sync(
            functools.partial(recent_traces, trace_dir, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, business_id=scope)
        )
        return HTMLResponse(trace_list_html(trace_dir, found[:PAGE_SIZE], page, more=len(found) > PAGE_SIZE))

    async def trace_page(request: Request) -> Response:
        scope = await allowed(request)
        if isinstance(scope, Response):
            return scope
        path = await trace_path(request, scope)
        return HTMLResponse(served_page(path.name, f"{path.name}"))

    async def trace_lines(request: Request) -> Response:
        scope = await allowed(request)
        if isinstance(scope, Response):
            return scope
        path = await trace_path(request, scope)
        try:
            fd = await anyio.to_thread.run_sync(open_trace, path)
        except OSError:
            raise HTTPException(404, "no such trace") from None
        # A live call's trace is still growing: serve a snapshot of its complete lines, never a torn one.
        try:
            length = await anyio.to_thread.run_sync(complete_length, fd)
        except BaseException:
            os.close(fd)
            raise
        # Served as text (not a download) so the page can fetch it and a person can read it.
        return StreamingResponse(_chunks(fd, length), media_type="application/x-ndjson; charset=utf-8")

    return [
        Route("/traces", list_traces, methods=["GET"], name="trace_list"),
        Mount("/traces/" + ASSET_URL_PREFIX.rstrip("/"), StaticFiles(directory=STATIC_DIR), name="trace_assets"),
        Route("/traces/{name}" + TRACE_SUFFIX, trace_lines, methods=["GET"], name="trace_lines"),
        Route("/traces/{name}", trace_page, methods=["GET"], name="trace_page"),
    ]


async def _chunks(fd: int, length: int) -> AsyncIterator[bytes]:
    """The first `length` bytes of `fd`, read in a worker thread a chunk at a time; closes `fd`."""
    try:
        offset = 0
        while offset < length:
            data = await anyio.to_thread.run_sync(os.pread, fd, min(_CHUNK_BYTES, length - offset), offset)
            if not data:
                return
            offset += len(data)
            yield data
    finally:
        os.close(fd)
