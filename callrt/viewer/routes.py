"""HTTP routes of the trace viewer, for any Starlette app (the telephony server, `callrt trace view`).

    GET /traces[?page=N]        recent traces in `trace_dir`, newest first, with each call's outcome
    GET /traces/<name>          the viewer page for `<trace_dir>/<name>.jsonl`
    GET /traces/<name>.jsonl    that trace's JSON lines
    GET /traces/_viewer/...     the page's static assets

Every link is relative, so the routes also work when mounted under a prefix.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import anyio
import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from callrt.viewer.html import ASSET_URL_PREFIX, STATIC_DIR, served_page
from callrt.viewer.summary_cache import SummaryCache

PAGE_SIZE = 50
"""Traces per page of the list."""
TRACE_SUFFIX = ".jsonl"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
"""Trace names: no slash and no leading dot, so a name can never leave `trace_dir`."""
_SUMMARIES = SummaryCache()


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

    @classmethod
    def read(cls, path: Path, cache: SummaryCache = _SUMMARIES) -> TraceSummary:
        stat = path.stat()
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
        )


def trace_paths(trace_dir: Path) -> list[Path]:
    """The trace files in `trace_dir`, newest first (only their directory entries are read)."""
    if not trace_dir.is_dir():
        return []
    paths = [p for p in trace_dir.iterdir() if p.name.endswith(TRACE_SUFFIX) and p.is_file()]
    paths = [p for p in paths if trace_name_ok(p.name[: -len(TRACE_SUFFIX)])]
    paths.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return paths


def summaries(paths: list[Path], limit: int = PAGE_SIZE, offset: int = 0) -> list[TraceSummary]:
    """Summaries of `paths[offset:offset + limit]` (blocking: reads the files not summarised yet)."""
    return [TraceSummary.read(p) for p in paths[offset : offset + limit]]


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


def _list_page(trace_dir: Path, page: int) -> str:
    """The list's HTML for one page (blocking: lists the folder and summarises that page's traces)."""
    paths = trace_paths(trace_dir)
    return trace_list_html(trace_dir, summaries(paths, PAGE_SIZE, (page - 1) * PAGE_SIZE), page, len(paths))


def viewer_routes(trace_dir: Path) -> list[BaseRoute]:
    """The viewer's routes over the traces in `trace_dir` (see the module docstring)."""

    def trace_path(request: Request) -> Path:
        name = str(request.path_params["name"])
        path = trace_dir / f"{name}{TRACE_SUFFIX}"
        if not trace_name_ok(name) or not path.is_file():
            raise HTTPException(404, f"no trace named {name!r}")
        return path

    async def list_traces(request: Request) -> Response:
        # Summaries read files: off the event loop, in a worker thread.
        page = await anyio.to_thread.run_sync(_list_page, trace_dir, _page_number(request))
        return HTMLResponse(page)

    async def trace_page(request: Request) -> Response:
        path = trace_path(request)
        summary = await anyio.to_thread.run_sync(_SUMMARIES.summary, path)
        return HTMLResponse(served_page(path.name, f"{path.name}", summary))

    async def trace_lines(request: Request) -> Response:
        # A live call's trace is still growing: serve a snapshot of its complete lines, never a torn one.
        data = await anyio.Path(trace_path(request)).read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        # Served as text (not a download) so the page can fetch it and a person can read it.
        return Response(complete, media_type="application/x-ndjson; charset=utf-8")

    return [
        Route("/traces", list_traces, methods=["GET"], name="trace_list"),
        Mount("/traces/" + ASSET_URL_PREFIX.rstrip("/"), StaticFiles(directory=STATIC_DIR), name="trace_assets"),
        Route("/traces/{name}" + TRACE_SUFFIX, trace_lines, methods=["GET"], name="trace_lines"),
        Route("/traces/{name}", trace_page, methods=["GET"], name="trace_page"),
    ]
