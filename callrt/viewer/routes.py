"""HTTP routes of the trace viewer, for any Starlette app (the telephony server, `callrt trace view`).

    GET /traces                 recent traces in `trace_dir` (newest first)
    GET /traces/<name>          the viewer page for `<trace_dir>/<name>.jsonl`
    GET /traces/<name>.jsonl    that trace's JSON lines
    GET /traces/_viewer/...     the page's static assets

Every link is relative, so the routes also work when mounted under a prefix. Given an `access`
check (the telephony server passes the business console's login), each route asks it first: a
response from it (a redirect to the login) is returned as is, and a business id limits the list
and the files to that business's calls.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from callrt.viewer.html import ASSET_URL_PREFIX, STATIC_DIR, served_page

RECENT_LIMIT = 200
TRACE_SUFFIX = ".jsonl"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
"""Trace names: no slash and no leading dot, so a name can never leave `trace_dir`."""
_TAIL_BYTES = 65536
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

TraceAccess = Callable[[Request], Awaitable["Response | int | None"]]
"""Who may read traces: a `Response` refuses (e.g. a redirect to a login), an int allows only that
business's calls, None allows every trace."""


def trace_name_ok(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


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
        stat = path.stat()
        header: dict[str, Any] = {}
        last_t: float | None = None
        ended = ""
        with path.open("rb") as raw:
            first = raw.readline()
            raw.seek(max(0, stat.st_size - _TAIL_BYTES))
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
            size=stat.st_size,
            modified=dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
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


def recent_traces(trace_dir: Path, limit: int = RECENT_LIMIT) -> list[TraceSummary]:
    if not trace_dir.is_dir():
        return []
    paths = [p for p in trace_dir.iterdir() if p.name.endswith(TRACE_SUFFIX) and p.is_file()]
    paths = [p for p in paths if trace_name_ok(p.name[: -len(TRACE_SUFFIX)])]
    paths.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [TraceSummary.read(p) for p in paths[:limit]]


def _format_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000.0
    return f"{int(seconds // 60)}:{seconds % 60:06.3f}"


def trace_list_html(trace_dir: Path, traces: list[TraceSummary]) -> str:
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
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; style-src 'self'; img-src data:">
<title>callrt traces</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="traces/{ASSET_URL_PREFIX}viewer.css">
</head><body class="trace-list">
<h1>Recent call traces</h1>
<p class="hint">{len(traces)} newest traces in <code>{html.escape(trace_dir.name or str(trace_dir))}</code></p>
<table id="traces"><thead><tr><th>trace</th><th>call</th><th>started (UTC)</th><th>duration</th>
<th>ended</th><th>bytes</th><th></th></tr></thead>
<tbody>
{rows}
</tbody></table>
{empty}
</body></html>
"""


def _business_of_trace(path: Path) -> int | None:
    with path.open("rb") as raw:
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
        if not trace_name_ok(name) or not await anyio.Path(path).is_file():
            raise HTTPException(404, f"no trace named {name!r}")
        if business_id is not None and await anyio.to_thread.run_sync(_business_of_trace, path) != business_id:
            raise HTTPException(404, f"no trace named {name!r}")  # another business's call: not even its name
        return path

    async def list_traces(request: Request) -> Response:
        scope = await allowed(request)
        if isinstance(scope, Response):
            return scope
        traces = await anyio.to_thread.run_sync(recent_traces, trace_dir)
        if scope is not None:
            traces = [summary for summary in traces if summary.business_id == scope]
        return HTMLResponse(trace_list_html(trace_dir, traces))

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
        # A live call's trace is still growing: serve a snapshot of its complete lines, never a torn one.
        data = await anyio.Path(await trace_path(request, scope)).read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        # Served as text (not a download) so the page can fetch it and a person can read it.
        return Response(complete, media_type="application/x-ndjson; charset=utf-8")

    return [
        Route("/traces", list_traces, methods=["GET"], name="trace_list"),
        Mount("/traces/" + ASSET_URL_PREFIX.rstrip("/"), StaticFiles(directory=STATIC_DIR), name="trace_assets"),
        Route("/traces/{name}" + TRACE_SUFFIX, trace_lines, methods=["GET"], name="trace_lines"),
        Route("/traces/{name}", trace_page, methods=["GET"], name="trace_page"),
    ]
