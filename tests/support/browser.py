"""Debian's Chromium driven by Playwright's sync API, for the viewer's browser tests.

Playwright never downloads a browser here: /usr/bin/chromium is installed by the system
(see .ci/run). `Watched` records every page error, console error and request of a page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1400, "height": 820}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with playwright_sync.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watched:
    """A page with every page error, console error and request it made recorded."""

    def __init__(self, browser: object) -> None:
        self.page = browser.new_page(viewport=VIEWPORT)  # type: ignore[attr-defined]
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, url: str, timeout_ms: float = 15_000) -> float:
        started = time.perf_counter()
        self.page.goto(url, timeout=timeout_ms)
        self.page.wait_for_selector("body[data-state]", timeout=timeout_ms)
        elapsed = time.perf_counter() - started
        assert self.page.get_attribute("body", "data-state") == "ready", self.page.inner_text("#status")
        return elapsed

    def js(self, expression: str) -> object:
        return self.page.evaluate(expression)

    def first_arrow(self, type_name: str) -> int:
        index = self.js(f"window.__traceViewer.model.arrows.findIndex(a => a.type === {json.dumps(type_name)})")
        assert isinstance(index, int) and index >= 0, type_name
        return index

    def click_message(self, type_name: str) -> int:
        """Zoom onto the first message of `type_name` (so arrows at one instant spread apart) and click it."""
        index = self.first_arrow(type_name)
        self.js(
            f"(t => window.__traceViewer.showRange(t - 150, t + 150))(window.__traceViewer.model.arrows[{index}].t0)"
        )
        self.click_arrow(index)
        return index

    def click_arrow(self, index: int) -> None:
        point = self.js(f"window.__traceViewer.arrowClientPoint({index})")
        assert isinstance(point, dict), f"arrow {index} is not drawn"
        self.page.mouse.click(point["x"], point["y"])


@pytest.fixture
def watched(browser: object) -> Iterator[Watched]:
    page = Watched(browser)
    yield page
    page.page.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
