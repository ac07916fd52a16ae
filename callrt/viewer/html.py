"""The viewer page, rendered from one template in two ways.

* served: assets and the trace are fetched from the page's own origin (`routes.py`);
* standalone: assets and the trace are inlined into one file that works offline from
  `file://` (`callrt trace view FILE --html OUT`, for attaching to bug reports).

Both carry the call's summary (outcome, conversation) inlined, computed by Python: the page
shows it and never derives an outcome of its own.

A Content-Security-Policy in both forms makes "nothing is fetched from elsewhere" a
property the browser enforces, not just a habit of the code.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from callrt.viewer.summary import summarise_file

STATIC_DIR = Path(__file__).parent / "static"
ASSET_URL_PREFIX = "_viewer/"
"""Where the served page finds its assets, relative to the page URL (`/traces/<name>`)."""
SCRIPTS = ("trace-model.js", "log-text.js", "conversation.js", "viewer.js")
STYLESHEET = "viewer.css"

_SERVED_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
_STANDALONE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _template() -> str:
    return (STATIC_DIR / "viewer.html").read_text(encoding="utf-8")


def _asset(name: str) -> str:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        # Inlined, such a sequence would close the element early and break the page.
        raise ValueError(f"viewer asset {name} cannot be inlined: it contains a closing tag")
    return text


_PLACEHOLDERS = re.compile(r"__TITLE__|__CSP__|<!--STYLE-->|<!--DATA-->|<!--SCRIPTS-->")


def _fill(*, title: str, csp: str, style: str, scripts: str, data: str) -> str:
    values = {
        "__TITLE__": html.escape(title),
        "__CSP__": html.escape(csp),
        "<!--STYLE-->": style,
        "<!--DATA-->": data,
        "<!--SCRIPTS-->": scripts,
    }
    # One pass: text inserted for one placeholder is never scanned for another.
    return _PLACEHOLDERS.sub(lambda match: values[match.group(0)], _template())


def _summary_element(summary: Mapping[str, Any]) -> str:
    """The call's summary (`callrt.viewer.summary`) as a JSON data element the page reads."""
    text = json.dumps(summary, ensure_ascii=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="trace-summary">{text}</script>'


def served_page(title: str, trace_url: str, summary: Mapping[str, Any]) -> str:
    """The page for the live server: linked assets, the trace fetched from `trace_url` (relative),
    the call's summary inlined."""
    config = json.dumps({"src": trace_url}).replace("<", "\\u003c")
    return _fill(
        title=title,
        csp=_SERVED_CSP,
        style=f'<link rel="stylesheet" href="{ASSET_URL_PREFIX}{STYLESHEET}">',
        scripts="\n".join(f'<script src="{ASSET_URL_PREFIX}{name}"></script>' for name in SCRIPTS),
        data=f'<script type="application/json" id="trace-config">{config}</script>\n{_summary_element(summary)}',
    )


def inline_trace_text(text: str) -> str:
    """JSON lines made safe inside a <script> element.

    `<` only occurs inside JSON strings, where `\\u003c` means the same character, so the
    lines stay valid JSON while `</script>` and `<!--` can no longer end or confuse the element.
    """
    return text.replace("<", "\\u003c")


def standalone_html(trace_path: Path) -> str:
    """One self-contained HTML file: template, stylesheet, scripts and the trace inlined."""
    text = trace_path.read_text(encoding="utf-8", errors="replace")
    scripts = "\n".join(f"<script>\n{_asset(name)}\n</script>" for name in SCRIPTS)
    trace = f'<script type="application/x-ndjson" id="trace-data">\n{inline_trace_text(text)}</script>'
    return _fill(
        title=trace_path.name,
        csp=_STANDALONE_CSP,
        style=f"<style>\n{_asset(STYLESHEET)}\n</style>",
        scripts=scripts,
        data=f"{trace}\n{_summary_element(summarise_file(trace_path))}",
    )


def write_standalone_html(trace_path: Path, out: Path) -> int:
    """Write the standalone page for `trace_path` to `out` (in a folder that exists); returns the number of bytes
    written."""
    page = standalone_html(trace_path).encode("utf-8")
    out.write_bytes(page)
    return len(page)
