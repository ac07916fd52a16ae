"""The trace viewer in a real browser: Debian's Chromium driven by Playwright (sync API).

The served mode runs the real `callrt trace view` command (hypercorn, trio worker, a free
loopback port) in a subprocess; the standalone file is opened from file://. Playwright never
downloads a browser (tests/support/browser.py). Screenshots are kept under test-artifacts/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callrt.viewer.html import write_standalone_html
from tests.support.browser import Watched, browser, origin, watched
from tests.support.paths import ARTIFACTS_DIR, SCENARIOS_DIR
from tests.support.viewer_traces import write_call_trace

pytestmark = pytest.mark.browser
__all__ = ["browser", "watched"]  # fixtures, used by name

ARTIFACTS = ARTIFACTS_DIR
ACTOR_LANES = ("audio", "realtime", "nlp", "booking", "supervisor")
LOAD_BUDGET_S = 5.0
"""A 50,000-event trace must be drawn within this long after navigation (measured: see docs/trace-viewer.md)."""
DRAW_BUDGET_MS = 50.0
"""Every redraw while zooming and panning that trace (20 frames per second at worst)."""


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("traces")
    long_call = write_call_trace(folder / "long-call.jsonl", cycles=58, frames_per_tick=10)
    sample = write_call_trace(folder / "booking-call.jsonl")
    return {"sample": sample, "long": long_call}


@pytest.fixture(scope="module")
def server(traces: dict[str, Path]) -> Iterator[str]:
    """`callrt trace view` serving the sample trace; yields the page URL it printed."""
    command = [sys.executable, "-m", "callrt", "trace", "view", str(traces["sample"]), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("trace viewer: http://127.0.0.1:"), (line, process.stderr and process.stderr.read())
        yield line.split()[2]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_served_trace_lanes_click_filter_keys(server: str, watched: Watched) -> None:
    watched.open(server)
    page = watched.page
    for lane in ACTOR_LANES:
        label = page.locator(f'.lane-label[data-lane="{lane}"]')
        assert label.is_visible() and label.inner_text() == lane
    assert page.locator('.lane-label[data-lane="caller"]').inner_text() == "caller line"
    assert page.locator('.lane-label[data-lane="model"]').inner_text() == "model"

    # Zoom onto the caller's first turn so arrows are far apart, then click one with the mouse.
    transcript = watched.click_message("UserTranscript")
    assert page.inner_text("#details-title") == "UserTranscript"
    text_cell = page.locator('#fields tr[data-key="fields.text"] td.v')
    assert text_cell.inner_text() == "אני רוצה פגישה מחר בשש בערב, קוראים לי דנה"
    assert text_cell.evaluate("td => getComputedStyle(td).direction") == "rtl"
    assert page.locator('#fields tr[data-key="mailbox"] td.v').inner_text() == "nlp"
    assert "realtime → nlp" in page.inner_text("#fields .head")
    # The phone number in a booking request is masked by the trace writer.
    booking = watched.click_message("BookingRequest")
    assert page.locator('#fields tr[data-key="fields.phone"] td.v').inner_text() == "+972*****4567"

    # Keyboard: the next message in time order, then zoom in around it.
    page.keyboard.press("ArrowRight")
    selection = watched.js("window.__traceViewer.selection")
    assert isinstance(selection, dict) and selection["index"] == booking + 1
    span = watched.js("(v => v.t1 - v.t0)(window.__traceViewer.view)")
    page.keyboard.press("+")
    page.wait_for_function(f"(v => v.t1 - v.t0)(window.__traceViewer.view) < {span} * 0.6")

    # Filters: hiding a message type removes its arrows; hiding an actor removes its lane.
    page.keyboard.press("0")
    audio_chunk = watched.first_arrow("AiAudio")
    assert watched.js(f"window.__traceViewer.arrowClientPoint({audio_chunk})") is not None
    page.locator('#filter-types input[data-type="AiAudio"]').uncheck()
    assert watched.js(f"window.__traceViewer.arrowClientPoint({audio_chunk})") is None
    page.locator('#filter-lanes input[data-lane="nlp"]').uncheck()
    assert page.locator('.lane-label[data-lane="nlp"]').count() == 0
    assert watched.js(f"window.__traceViewer.arrowClientPoint({transcript})") is None
    page.locator('#filter-lanes input[data-lane="nlp"]').check()
    page.locator('#filter-types input[data-type="AiAudio"]').check()

    # Markers and the speech track come from the trace's barge-in, playout and utterance events.
    for marker in ("barge_in", "booking", "crash", "restart", "silence", "call_end"):
        assert page.locator(f'#filter-markers input[data-marker="{marker}"]').count() == 1, marker
    speech = watched.js("window.__traceViewer.model.speech")
    assert isinstance(speech, dict) and len(speech["caller"]) >= 3 and len(speech["ai"]) >= 3

    # The call log row of the crash selects it.
    page.keyboard.press("End")
    page.locator(".log-row.crash").first.click()
    assert page.inner_text("#details-title") == "crash"
    assert "InjectedFault" in page.inner_text("#fields")

    ARTIFACTS.mkdir(exist_ok=True)
    page.keyboard.press("0")
    page.screenshot(path=str(ARTIFACTS / "trace-viewer-served.png"))
    assert watched.errors == []
    assert {origin(url) for url in watched.requests} == {origin(server)}


def test_served_list_opens_a_trace(server: str, watched: Watched) -> None:
    watched.page.goto(origin(server) + "/traces")
    names = watched.page.locator("#traces tbody a").all_inner_texts()
    assert "booking-call" in names and "long-call" in names
    watched.page.click('#traces a[href="traces/booking-call"]')
    watched.page.wait_for_selector('body[data-state="ready"]')
    assert watched.page.url == server
    assert watched.errors == []
    assert {origin(url) for url in watched.requests} == {origin(server)}


def test_standalone_file_works_offline(traces: dict[str, Path], tmp_path: Path, watched: Watched) -> None:
    out = tmp_path / "booking-call.html"
    write_standalone_html(traces["sample"], out)
    watched.open(out.as_uri())
    assert watched.page.locator('.lane-label[data-lane="booking"]').is_visible()
    assert watched.page.locator("#back-link").is_hidden()
    watched.click_message("ServerNote")
    assert watched.page.inner_text("#details-title") == "ServerNote"
    assert watched.errors == []
    assert watched.requests == [out.as_uri()]


def test_fifty_thousand_events_load_within_budget(server: str, traces: dict[str, Path], watched: Watched) -> None:
    lines = traces["long"].read_text(encoding="utf-8").count("\n")
    assert lines >= 50_000
    elapsed = watched.open(server.rsplit("/", 1)[0] + "/long-call")
    stats = watched.js("window.__traceViewer.stats")
    assert isinstance(stats, dict)
    assert watched.js("window.__traceViewer.model.events.length") == lines
    # Interaction at full scale: zoom in step by step, pan, zoom back out.
    watched.js("window.__traceViewer.stats.maxDrawMs = 0")
    canvas = watched.page.locator("#canvas-wrap")
    box = canvas.bounding_box()
    assert box is not None
    watched.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(6):
        watched.page.mouse.wheel(0, -400)
    for key in ("]", "]", "[", "-", "-", "0"):
        watched.page.keyboard.press(key)
    watched.page.wait_for_timeout(100)
    interactive = watched.js("window.__traceViewer.stats")
    assert isinstance(interactive, dict)
    figures = {
        "events": lines,
        "navigation_to_ready_s": round(elapsed, 3),
        "first_render_ms": round(stats["firstRenderMs"]),
        "parse_ms": round(stats["parseMs"]),
        "build_ms": round(stats["buildMs"]),
        "max_redraw_ms_while_zooming": round(interactive["maxDrawMs"], 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "trace-viewer-50k.json").write_text(json.dumps(figures, indent=2) + "\n")
    watched.page.screenshot(path=str(ARTIFACTS / "trace-viewer-50k.png"))
    print("trace viewer, 50k events:", figures)
    assert elapsed < LOAD_BUDGET_S and stats["firstRenderMs"] < LOAD_BUDGET_S * 1000, figures
    assert interactive["maxDrawMs"] < DRAW_BUDGET_MS, figures
    assert watched.errors == []


def test_a_real_scenario_trace(tmp_path: Path, watched: Watched) -> None:
    """A trace from the scenario runner (a booking, then a crash and restart of the NLP actor), offline."""
    from callrt.scenario import RunOptions, load_scenario, run_scenarios

    scenario = load_scenario(SCENARIOS_DIR / "crash-nlp.json")
    (report,) = run_scenarios([scenario], RunOptions(trace_dir=tmp_path))
    out = tmp_path / "crash-nlp.html"
    write_standalone_html(Path(report["trace"]), out)
    watched.open(out.as_uri())
    for lane in ACTOR_LANES:
        assert watched.page.locator(f'.lane-label[data-lane="{lane}"]').is_visible(), lane
    categories = set(watched.js("window.__traceViewer.model.markers.map(m => m.cat)"))  # type: ignore[arg-type]
    assert {"booking", "note", "crash", "restart", "silence", "call_end"} <= categories
    assert watched.js("window.__traceViewer.model.speech.caller.length") >= 1
    assert watched.js("window.__traceViewer.model.speech.ai.length") >= 3
    watched.click_message("BookingRequest")
    assert watched.page.inner_text("#details-title") == "BookingRequest"
    details = watched.page.inner_text("#details")
    assert "דנה" in details and "+972*****4567" in details and "+972501234567" not in details
    ARTIFACTS.mkdir(exist_ok=True)
    watched.page.screenshot(path=str(ARTIFACTS / "trace-viewer-scenario.png"))
    assert watched.errors == []
    assert watched.requests == [out.as_uri()]
