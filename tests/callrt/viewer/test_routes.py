"""The trace viewer's server side: routes, the standalone HTML file and `callrt trace view`."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from callrt.cli import main
from callrt.viewer.html import SCRIPTS, STATIC_DIR, inline_trace_text, standalone_html
from callrt.viewer.routes import PAGE_SIZE, TraceSummary, recent_traces, viewer_routes
from callrt.viewer.summary_cache import SummaryCache
from tests.support.viewer_traces import write_call_trace


class _Elements(HTMLParser):
    """Every element's tag, attributes and text, to inspect a page like a browser would parse it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), ""))

    def handle_data(self, data: str) -> None:
        if self.elements:
            tag, attrs, text = self.elements[-1]
            self.elements[-1] = (tag, attrs, text + data)


def parse_html(page: str) -> list[tuple[str, dict[str, str | None], str]]:
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser.elements


def inlined_events(page: str) -> list[dict[str, object]]:
    (text,) = [text for tag, attrs, text in parse_html(page) if tag == "script" and attrs.get("id") == "trace-data"]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sample_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_call_trace(tmp_path_factory.mktemp("traces") / "booking-call.jsonl")


def test_standalone_page_inlines_assets_and_trace_and_links_nothing(sample_trace: Path) -> None:
    page = standalone_html(sample_trace)
    elements = parse_html(page)
    links = [a for _, attrs, _ in elements for k, a in attrs.items() if k in ("src", "href")]
    assert set(links) == {"../traces", "data:,"}  # the back link (hidden offline) and an empty favicon
    scripts = [text for tag, attrs, text in elements if tag == "script" and "id" not in attrs]
    assert len(scripts) == len(SCRIPTS)
    assert "CallrtTrace" in scripts[0]
    (csp,) = [a["content"] for t, a, _ in elements if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp is not None and "default-src 'none'" in csp
    original = [json.loads(line) for line in sample_trace.read_text(encoding="utf-8").splitlines()]
    assert inlined_events(page) == original


_hostile_text = st.text(
    alphabet=st.sampled_from(list("<>/!-'\"&\\ scriptSCRIPTstyle\u05d0\u05d1\u200f\n")), max_size=40
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.lists(st.tuples(st.sampled_from(["msg", "text", "note"]), _hostile_text), min_size=1, max_size=6))
def test_inlined_trace_round_trips_whatever_the_text_says(tmp_path: Path, fields: list[tuple[str, str]]) -> None:
    events = [{"t": float(i), "seq": i + 1, "ev": "log", key: value} for i, (key, value) in enumerate(fields)]
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    page = standalone_html(path)
    assert inlined_events(page) == events
    # The element cannot be closed early: the only `</script` sequences are the page's own.
    assert page.lower().count("</script") == len(SCRIPTS) + 2  # scripts, trace data, summary
    assert "<" not in inline_trace_text(path.read_text(encoding="utf-8"))


def test_viewer_assets_can_be_inlined() -> None:
    for name in (*SCRIPTS, "viewer.css"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8").lower()
        assert "</script" not in text and "</style" not in text and "http://" not in text and "https://" not in text


def _touch_trace(path: Path, lines: list[str], mtime: float) -> None:
    path.write_text("\n".join(lines), encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_recent_traces_newest_first_with_summaries(tmp_path: Path) -> None:
    start = '{"ev":"trace_start","version":1,"call_sid":"CA1","wall_start":"2026-11-24T08:00:00+00:00"}'
    end = '{"t":51000.5,"seq":9,"ev":"call_end","by":"ai","reason":"silence"}'
    _touch_trace(tmp_path / "old.jsonl", [start, end, '{"t":51001,"seq":10,"ev":"trace_end"}'], 1_000_000)
    _touch_trace(tmp_path / "new.jsonl", [start, '{"t":1200,"seq":1,"ev":"log","msg":"x"}', '{"t":13'], 2_000_000)
    _touch_trace(tmp_path / ".hidden.jsonl", [start], 3_000_000)
    (tmp_path / "notes.txt").write_text("not a trace")
    traces = recent_traces(tmp_path)
    assert [t.name for t in traces] == ["new", "old"]
    old = TraceSummary.read(tmp_path / "old.jsonl")
    assert (old.call_sid, old.duration_ms, old.ended) == ("CA1", 51001.0, "ai: silence")
    # A trace still being written ends in a cut-off line: the summary uses the last whole one.
    assert traces[0].duration_ms == 1200.0
    assert recent_traces(tmp_path / "missing") == []


def test_routes_serve_list_page_lines_and_assets(sample_trace: Path) -> None:
    client = TestClient(Starlette(routes=viewer_routes(sample_trace.parent)))
    listing = client.get("/traces")
    assert listing.status_code == 200
    assert 'href="traces/booking-call"' in listing.text and "CA0123456789abcdef" in listing.text
    page = client.get("/traces/booking-call")
    assert page.status_code == 200
    (config,) = [text for tag, attrs, text in parse_html(page.text) if attrs.get("id") == "trace-config"]
    assert json.loads(config) == {"src": "booking-call.jsonl"}
    assert 'src="_viewer/viewer.js"' in page.text
    lines = client.get("/traces/booking-call.jsonl")
    assert lines.status_code == 200 and lines.headers["content-type"].startswith("application/x-ndjson")
    assert lines.content == sample_trace.read_bytes()
    for asset in (*SCRIPTS, "viewer.css"):
        assert client.get(f"/traces/_viewer/{asset}").status_code == 200
    for bad in ("missing", "..", ".hidden", "_viewer", "a%2F..%2Fb", "..%2Fsecret"):
        assert client.get(f"/traces/{bad}").status_code == 404, bad
        assert client.get(f"/traces/{bad}.jsonl").status_code == 404, bad


def test_cli_writes_the_standalone_file(sample_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report" / "call.html"
    out.parent.mkdir()  # the folder must exist: the command creates no folders (tests/callrt/cli/test_cli_mistakes.py)
    assert main(["trace", "view", str(sample_trace), "--html", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert inlined_events(out.read_text(encoding="utf-8"))[0]["call_sid"] == "CA0123456789abcdef"


def test_cli_refuses_missing_and_unservable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "view", str(tmp_path / "nope.jsonl")]) == 2
    odd = tmp_path / "odd name.json"
    odd.write_text("{}\n")
    assert main(["trace", "view", str(odd)]) == 2
    assert "--html" in capsys.readouterr().err


def test_a_growing_trace_is_served_as_its_complete_lines(tmp_path: Path) -> None:
    """A live call's trace is written while people look at it: never serve a torn last line."""
    torn = '{"t":0,"seq":1,"ev":"trace_start"}\n{"t":1,"seq":2,"ev":"lo'
    (tmp_path / "live.jsonl").write_text(torn, encoding="utf-8")
    client = TestClient(Starlette(routes=viewer_routes(tmp_path)))
    response = client.get("/traces/live.jsonl")
    assert response.status_code == 200
    assert response.text == '{"t":0,"seq":1,"ev":"trace_start"}\n'


def test_symlinks_and_other_special_files_are_never_served_or_listed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text('{"ev":"trace_start","call_sid":"stolen"}\n')
    traces = tmp_path / "traces"
    traces.mkdir()
    (traces / "CAlink.jsonl").symlink_to(secret)
    (traces / "CAdir.jsonl").symlink_to(tmp_path)
    os.mkfifo(traces / "CAfifo.jsonl")  # opening a FIFO for reading would block the worker thread forever
    _touch_trace(traces / "CAreal.jsonl", ['{"ev":"trace_start","call_sid":"CAreal"}'], 1_000_000)
    client = TestClient(Starlette(routes=viewer_routes(traces)))
    for name in ("CAlink", "CAdir", "CAfifo"):
        assert client.get(f"/traces/{name}.jsonl").status_code == 404, name
        assert client.get(f"/traces/{name}").status_code == 404, name
    listing = client.get("/traces").text
    assert "CAreal" in listing and "stolen" not in listing and "CAlink" not in listing and "CAfifo" not in listing
    assert [t.name for t in recent_traces(traces)] == ["CAreal"]


def test_the_list_is_paged_newest_first(tmp_path: Path) -> None:
    from callrt.viewer.routes import PAGE_SIZE

    count = PAGE_SIZE + 7
    for i in range(count):
        _touch_trace(tmp_path / f"CA{i:03d}.jsonl", [f'{{"ev":"trace_start","call_sid":"CA{i:03d}"}}'], 1_000_000 + i)
    client = TestClient(Starlette(routes=viewer_routes(tmp_path)))
    first, second = client.get("/traces").text, client.get("/traces?page=2").text
    assert f'href="traces/CA{count - 1:03d}"' in first and 'href="traces/CA006"' not in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert 'href="traces/CA006"' in second and 'href="traces/CA000"' in second and 'rel="next"' not in second
    assert second.count('<tr><td><a href="traces/CA') == 7
    assert client.get("/traces?page=x").status_code == 200 and client.get("/traces?page=99").status_code == 200
    assert [t.name for t in recent_traces(tmp_path, limit=2, offset=1)] == [f"CA{count - 2:03d}", f"CA{count - 3:03d}"]


def test_a_large_trace_is_streamed_whole(tmp_path: Path) -> None:
    lines = [json.dumps({"t": i, "seq": i, "ev": "log", "msg": "x" * 200}) for i in range(5000)]
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    client = TestClient(Starlette(routes=viewer_routes(tmp_path)))
    response = client.get("/traces/big.jsonl")
    assert response.status_code == 200 and response.content == (tmp_path / "big.jsonl").read_bytes()
    assert "content-length" not in response.headers  # streamed in chunks, never read whole into memory


def test_the_list_is_paged_newest_first_and_summarises_each_file_once(tmp_path: Path) -> None:
    start = '{"ev":"trace_start","version":1,"call_sid":"CA%d","wall_start":"2026-11-24T08:00:00+00:00"}'
    end = '{"t":%d000,"seq":2,"ev":"call_end","by":"caller","reason":"stop","duration_ms":%d000}'
    for i in range(PAGE_SIZE + 3):
        _touch_trace(tmp_path / f"call-{i:03d}.jsonl", [start % i, end % (i, i), ""], 1_000_000 + i)
    client = TestClient(Starlette(routes=viewer_routes(tmp_path)))
    first = client.get("/traces")
    names = [text for tag, attrs, text in parse_html(first.text) if tag == "a" and text.startswith("call-")]
    assert names == [f"call-{i:03d}" for i in range(PAGE_SIZE + 2, 2, -1)]
    assert "caller hung up before saying anything; nothing booked" in first.text and "page 1 of 2" in first.text
    second = client.get("/traces?page=2")
    names = [text for tag, attrs, text in parse_html(second.text) if tag == "a" and text.startswith("call-")]
    assert names == ["call-002", "call-001", "call-000"] and 'href="traces?page=1"' in second.text
    assert client.get("/traces?page=x").status_code == 200

    cache = SummaryCache()
    path = tmp_path / "call-001.jsonl"
    assert cache.summary(path)["duration_ms"] == 1000.0
    cache.summary(path)
    assert cache.computed == 1
    _touch_trace(path, [start % 1, end % (7, 7), ""], 3_000_000)
    assert cache.summary(path)["duration_ms"] == 7000.0 and cache.computed == 2
