"""HTTP routes of the trace viewer, for any Starlette app (the telephony server, `callrt trace view`).

    GET /traces[?page=N]        recent traces in `trace_dir`, newest first, with each call's outcome
    GET /traces/<name>          the viewer page for `<trace_dir>/<name>.jsonl`
    GET /traces/<name>.jsonl    that trace's JSON lines (streamed)
    GET /traces/_viewer/...     the page's static assets

Every link is relative, so the routes also work when mounted under a prefix. Files are read in
worker threads, never on the event loop the calls run on, and never through a symlink
(`callrt.viewer.trace_files`). Given an `access` check (the telephony server passes the business
console's login), each route asks it first: a response from it (a redirect to the login) is
returned as is, and a business id limits the list and the files to that business's calls.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread
import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from callrt.viewer.html import ASSET_URL_PREFIX, STATIC_DIR, served_page
from callrt.viewer.summary_cache import SummaryCache
from callrt.viewer.trace_files import CHUNK_BYTES, complete_length, is_trace_file, open_trace

PAGE_SIZE = 50
"""Traces per page of the list."""
TRACE_SUFFIX = ".jsonl"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
"""Trace names: no slash and no leading dot, so a name can never leave `trace_dir`."""
_SUMMARIES = SummaryCache()

TraceAccess = Callable[[Request], Awaitable["Response | int | None"]]
"""Who may read traces: a `Response` refuses (e.g. a redirect to a login), an int allows only that
business's calls, None allows every trace."""


def trace_name_ok(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


@attrs.frozen
class TraceSummary:
    """What the list shows about one trace: its file and its call's summary (`callrt.viewer.summary`)."""

    name: str
    size: int
    modified: dt.datetime
    call_sid: str
    wall_start: str
    duration_ms: float | None
    ended: str
    outcome: str
    outcome_kind: str
    caller: str
    business_id: int | None

    @classmethod
    def read(cls, path: Path, cache: SummaryCache = _SUMMARIES) -> TraceSummary:
        stat = path.lstat()
        summary = cache.summary(path)
        ended = summary["ended"]
        caller = summary["caller"]
        return cls(
            name=path.name[: -len(TRACE_SUFFIX)],
            size=stat.st_size,
            modified=dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
            call_sid=summary["call_sid"],
            wall_start=str(summary["started"] or ""),
            duration_ms=summary["duration_ms"] if summary["duration_ms"] else None,
            ended=f"{ended['by']}: {ended['reason']}" if ended else "",
            outcome=summary["outcome"]["words"],
            outcome_kind=summary["outcome"]["kind"],
            caller=" ".join(str(v) for v in (caller["phone"], caller["name"]) if v),
            business_id=summary["business_id"],
        )


def trace_paths(trace_dir: Path) -> list[Path]:
    """The trace files in `trace_dir`, newest first: regular files only, never symlinks (only their
    directory entries are read)."""
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
    return [Path(path) for _, path in dated]


def summaries(paths: list[Path], limit: int = PAGE_SIZE, offset: int = 0) -> list[TraceSummary]:
    """Summaries of `paths[offset:offset + limit]` (blocking: reads the files not summarised yet)."""
    found = []
    for path in paths[offset : offset + limit]:
        try:
            found.append(TraceSummary.read(path))
        except OSError:
            continue  # pruned, or replaced by something that is not a regular file
    return found


def recent_traces(trace_dir: Path, limit: int = PAGE_SIZE, offset: int = 0) -> list[TraceSummary]:
    """Summaries of the `limit` newest traces after the first `offset`."""
    return summaries(trace_paths(trace_dir), limit, offset)


def _format_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000.0
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _pager(page: int, pages: int) -> str:
    newer = f'<a rel="prev" href="traces?page={page - 1}">◀ newer</a>' if page > 1 else ""
    older = f'<a rel="next" href="traces?page={page + 1}">older ▶</a>' if page < pages else ""
    return f'<nav class="pager">{newer} <span>page {page} of {pages}</span> {older}</nav>'


def trace_list_html(trace_dir: Path, traces: list[TraceSummary], page: int = 1, total: int | None = None) -> str:
    total = len(traces) if total is None else total
    pages = max(1, -(-total // PAGE_SIZE))
    rows = "\n".join(
        "<tr>"
        f'<td><a href="traces/{html.escape(s.name)}">{html.escape(s.name)}</a></td>'
        f"<td>{html.escape(s.wall_start[:19].replace('T', ' '))}</td>"
        f'<td class="num">{_format_duration(s.duration_ms)}</td>'
        f'<td class="outcome {html.escape(s.outcome_kind)}"><bdi>{html.escape(s.outcome)}</bdi></td>'
        f"<td><bdi>{html.escape(s.caller)}</bdi></td>"
        f"<td><bdi>{html.escape(s.call_sid)}</bdi></td>"
        f'<td class="num">{s.size:,}</td>'
        f'<td><a href="traces/{html.escape(s.name)}{TRACE_SUFFIX}">jsonl</a></td>'
        "</tr>"
        for s in traces
    )
    empty = "" if traces else '<p class="empty">No traces yet.</p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; style-src 'self'; img-src data:">
<title>callrt traces</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="traces/{ASSET_URL_PREFIX}viewer.css">
</head><body class="trace-list">
<h1>Recent call traces</h1>
<p class="hint">{total} traces in <code>{html.escape(trace_dir.name or str(trace_dir))}</code>, newest first</p>
<table id="traces"><thead><tr><th>trace</th><th>started (UTC)</th><th>duration</th><th>outcome</th>
<th>caller</th><th>call</th><th>bytes</th><th></th></tr></thead>
<tbody>
{rows}
</tbody></table>
{empty}
{_pager(page, pages) if pages > 1 else ""}
</body></html>
"""


def _page_number(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


def _list_page(trace_dir: Path, page: int, business_id: int | None) -> str:
    """The list's HTML for one page, of one business's calls when given (blocking: lists the folder
    and summarises that page's traces, and for one business every newer trace too)."""
    paths = trace_paths(trace_dir)
    if business_id is not None:
        paths = [path for path in paths if _business_of_trace(path) == business_id]
    return trace_list_html(trace_dir, summaries(paths, PAGE_SIZE, (page - 1) * PAGE_SIZE), page, len(paths))


def _business_of_trace(path: Path) -> int | None:
    try:
        return _SUMMARIES.summary(path)["business_id"]  # type: ignore[no-any-return]
    except OSError:
        return None


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
        # Summaries read files: off the event loop, in a worker thread.
        page = await anyio.to_thread.run_sync(_list_page, trace_dir, _page_number(request), scope)
        return HTMLResponse(page)

    async def trace_page(request: Request) -> Response:
        scope = await allowed(request)
        if isinstance(scope, Response):
            return scope
        path = await trace_path(request, scope)
        summary = await anyio.to_thread.run_sync(_SUMMARIES.summary, path)
        return HTMLResponse(served_page(path.name, f"{path.name}", summary))

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
            data = await anyio.to_thread.run_sync(os.pread, fd, min(CHUNK_BYTES, length - offset), offset)
            if not data:
                return
            offset += len(data)
            yield data
    finally:
        os.close(fd)
