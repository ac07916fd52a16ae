"""`callrt trace view FILE [--host H] [--port P] [--html OUT]`: look at one call's trace;
`callrt trace summary FILE [--json]`: who called, what came of it and the conversation, as text.

Without `--html` it serves the viewer on localhost (hypercorn, trio worker) and prints the
page's URL; the server also lists the other traces next to FILE at `/traces`.
With `--html OUT` it writes one self-contained HTML file that works offline instead.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from callrt.cli.errors import CliError
from callrt.cli.options import describe, port
from callrt.viewer.html import write_standalone_html
from callrt.viewer.routes import TRACE_SUFFIX, trace_name_ok, viewer_routes
from callrt.viewer.summary import summarise_file
from callrt.viewer.summary_text import summary_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trace = describe(subparsers, "trace", "inspect call traces", __doc__)
    actions = trace.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    view = describe(
        actions,
        "view",
        "open a trace in the swimlane viewer",
        "Serve the viewer for FILE on localhost and print its URL (the other traces next to FILE are listed at "
        "/traces), or with --html OUT write one self-contained HTML file that works offline.",
    )
    view.add_argument("file", type=Path, metavar="FILE", help="a trace file (JSON lines, *.jsonl)")
    view.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    view.add_argument("--port", type=port, default=0, help="port to listen on (default: a free port)")
    view.add_argument("--html", type=Path, metavar="OUT", help="write a self-contained HTML file instead of serving")
    view.set_defaults(handler=view_trace)
    summary = describe(
        actions,
        "summary",
        "print a call's outcome and conversation",
        "Who called, what came of it and the conversation, as text (or --json).",
    )
    summary.add_argument("file", type=Path, metavar="FILE", help="a trace file (JSON lines, *.jsonl)")
    summary.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    summary.set_defaults(handler=print_summary)


def _not_a_trace(path: Path) -> str | None:
    """Why `path` cannot be summarised, or None when its first line is a trace's header."""
    if not path.is_file():
        return f"no such file: {path}"
    with path.open("rb") as file:
        first = file.readline(_HEADER_LIMIT)
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("ev") != "trace_start":
        return f"{path} is not a callrt trace (its first line is no trace_start header)"
    return None


_HEADER_LIMIT = 64 * 1024
"""Bytes read of a file's first line to recognise a trace's header."""


def print_summary(args: argparse.Namespace) -> int:
    problem = _not_a_trace(args.file)
    if problem is not None:
        raise CliError(problem)
    summary = summarise_file(args.file)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(summary_text(summary))
    return 0


def view_trace(args: argparse.Namespace) -> int:
    path: Path = args.file
    name = path.name.removesuffix(TRACE_SUFFIX)
    if path.is_file() and args.html is None and (not path.name.endswith(TRACE_SUFFIX) or not trace_name_ok(name)):
        raise CliError(
            f"serving needs a file named like NAME{TRACE_SUFFIX} (letters, digits, . _ -); use --html OUT for any "
            "other name"
        )
    problem = _not_a_trace(path)
    if problem is not None:
        raise CliError(problem)
    if args.html is not None:
        if not args.html.parent.is_dir():
            raise CliError(f"--html {args.html}: no folder {args.html.parent} to write it in (create it first)")
        size = write_standalone_html(path, args.html)
        print(f"wrote {args.html} ({size:,} bytes)")
        return 0
    # Ctrl-C is how a person closes the viewer: not an error.
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(serve_trace, path.resolve(), args.host, args.port)
    return 0


def trace_app(trace_dir: Path, default_trace: str) -> Starlette:
    """The viewer routes over `trace_dir`, with `/` opening `default_trace`."""

    async def home(request: Request) -> Response:
        return RedirectResponse(f"traces/{default_trace}")

    return Starlette(routes=[Route("/", home), *viewer_routes(trace_dir)])


async def serve_trace(
    path: Path, host: str, port: int, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the viewer for `path` until cancelled; prints (and reports to `task_status`) the page URL."""
    name = path.name.removesuffix(TRACE_SUFFIX)
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = "-"
    async with trio.open_nursery() as nursery:
        # Starlette is an ASGI app; hypercorn's type for one is stricter than Starlette's signature.
        app = trace_app(path.parent, name)
        binds: list[str] = await nursery.start(functools.partial(serve, app, config))  # type: ignore[arg-type]
        url = f"{binds[0]}/traces/{name}"
        print(f"trace viewer: {url}  (Ctrl-C to stop)", flush=True)
        task_status.started(url)
