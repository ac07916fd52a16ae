"""The business console in a real browser (Debian's Chromium through Playwright) against a real
`callrt serve` subprocess, with live simulated calls (`callrt call`) in between: what an owner does
in the console changes what the next caller gets, and what callers did shows up in the console.

Playwright never downloads a browser: /usr/bin/chromium is installed by the system. Screenshots go to
test-artifacts/, or to docs/img/ (the ones docs/console.md shows) with CALLRT_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callrt.console.passwords import hash_password
from store import Store
from tests.support.live_server import OWNER, OWNER_PASSWORD, LiveServer, prepare_database, run_call, running_server
from tests.support.paths import ARTIFACTS_DIR, REPO_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "docs" / "img" if os.environ.get("CALLRT_UPDATE_SCREENSHOTS") == "1" else ARTIFACTS_DIR
TZ = ZoneInfo("Asia/Jerusalem")
PHONE_VIEWPORT = {"width": 390, "height": 844}
DESK_VIEWPORT = {"width": 1100, "height": 900}
MONDAY_10 = "אני רוצה תור ביום שני בעשר בבוקר, קוראים לי דנה"

playwright_sync = pytest.importorskip("playwright.sync_api")


def scenario(tmp_path: Path, name: str, phone: str) -> Path:
    path = tmp_path / f"{name}.json"
    script = [
        {"wait": "ai_done"},
        {"pause_ms": 300},
        {"say": MONDAY_10, "ms": 1800},
        {"wait": "ai_done"},
        {"pause_ms": 1500},
        {"hangup": True},
    ]
    content = {"name": name, "language": "he", "now": "2026-11-24T10:00:00+02:00", "caller": {"phone": phone}}
    content["business"] = {"name": "unused: a live server answers for its own business"}
    path.write_text(json.dumps({**content, "script": script}, ensure_ascii=False), encoding="utf-8")
    return path


def next_monday() -> dt.date:
    """The date the NLP gives "Monday" (the next one, never today), in the salon's time zone."""
    today = dt.datetime.now(TZ).date()
    return today + dt.timedelta(days=(0 - today.weekday()) % 7 or 7)


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("console")
    db_url = f"sqlite:///{folder / 'console.db'}"
    business_id = prepare_database(db_url)
    store = Store(db_url)
    other = store.create_business(
        name="Bob's Barber",
        timezone="Europe/London",
        language="en",
        opening_hours={day: [["09:00", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        phones=["+442071234567"],
    )
    store.create_console_user("dana", hash_password("dana-password-1"), business_id)
    store.dispose()
    assert other == business_id + 1
    with running_server(folder, db_url, business_id) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with playwright_sync.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


class Console:
    """A browser context on the console, with every page error, console error and request recorded."""

    def __init__(self, browser: Any, server: LiveServer, viewport: dict[str, int] = DESK_VIEWPORT) -> None:
        self.server = server
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", lambda dialog: dialog.accept())

    def go(self, path: str) -> Any:
        return self.page.goto(self.server.base + path)

    def log_in(self, username: str = OWNER, password: str = OWNER_PASSWORD) -> None:
        self.go("/admin/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("form.login button[type=submit]")
        self.page.wait_for_load_state()

    def settings(self, business_id: int) -> str:
        return f"/admin/b/{business_id}/settings"

    def check_clean(self) -> None:
        assert self.errors == []
        outside = [url for url in self.requests if not url.startswith(self.server.base + "/")]
        assert outside == [], f"requests outside the server: {outside}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser: Any, server: LiveServer, screenshots: Path) -> Iterator[Console]:
    page = Console(browser, server)
    yield page
    page.check_clean()
    page.close()


def test_login_refuses_a_wrong_password_and_redirects_what_needs_it(console: Console) -> None:
    for path in ("/admin/", "/admin/b/1/bookings", "/traces"):
        console.go(path)
        assert console.page.url.startswith(console.server.base + "/admin/login?next=")
    console.log_in(password="not-the-password")
    assert console.page.locator("#login-error").is_visible()
    assert "/admin/login" in console.page.url
    console.log_in()
    assert console.page.url == console.server.base + "/admin/"
    assert console.page.locator("ul.businesses li").count() == 2
    console.go("/traces")
    assert console.page.locator("h1").inner_text() == "Recent call traces"


def test_the_hours_editor_shows_an_inline_error_and_saves_a_good_change(console: Console) -> None:
    console.log_in()
    business_id = console.server.business_id
    console.go(console.settings(business_id))
    page = console.page
    assert page.get_attribute("html", "dir") == "rtl"
    sunday = page.locator("#row-sun")
    sunday.locator("input[name=sun_open]").first.fill("19:00")
    sunday.locator("input[name=sun_close]").first.fill("09:00")
    page.fill("input[name=capacity]", "2")
    page.click("button.primary")
    error = page.locator('[data-error-for="hours_sun"]')
    assert "closes before it opens" in error.inner_text()
    assert page.locator("#not-saved").is_visible()
    store = Store(console.server.db_url)
    try:
        assert store.get_business(business_id).capacity == 1  # nothing saved on an error
        sunday.locator("input[name=sun_open]").first.fill("09:00")
        sunday.locator("input[name=sun_close]").first.fill("19:00")
        friday = page.locator("#row-fri")
        friday.locator("button.add-range").click()
        friday.locator("input[name=fri_open]").nth(1).fill("16:00")
        friday.locator("input[name=fri_close]").nth(1).fill("18:00")
        page.fill("input[name=capacity]", "1")
        page.click("button.primary")
        assert page.locator("#saved").is_visible()
        assert store.get_business(business_id).opening_hours["fri"] == [("08:00", "13:00"), ("16:00", "18:00")]
    finally:
        store.dispose()
    page.screenshot(path=str(SCREENSHOTS / "console-settings-he.png"), full_page=True)


def test_a_closed_date_set_in_the_console_reaches_the_next_caller(
    console: Console, server: LiveServer, tmp_path: Path
) -> None:
    console.log_in()
    page = console.page
    monday = next_monday().isoformat()
    console.go(console.settings(server.business_id))
    page.locator("#special-days tbody tr").last.locator("input[name=special_date]").fill(monday)
    page.click("button.primary")
    assert page.locator("#saved").is_visible()
    assert page.locator("input[name=special_date]").first.input_value() == monday

    refused = run_call(server, scenario(tmp_path, "closed", "+972501111111"))
    assert refused.returncode == 0, refused.stdout + refused.stderr
    report = json.loads(refused.stdout)
    assert report["appointments"] == []
    note = next(note for note in report["server_notes"] if note.startswith("outside_hours"))
    assert "reason=closed_day" in note and "alternatives=" in note
    assert monday not in note.split("alternatives=")[1]

    # The owner opens Monday again: the same request now books, and shows in the console.
    console.go(console.settings(server.business_id))
    page.locator("#special-days tbody tr").first.locator("button.remove-row").click()
    page.click("button.primary")
    assert page.locator("#saved").is_visible()
    booked = run_call(server, scenario(tmp_path, "booked", "+972502222222"))
    assert booked.returncode == 0, booked.stdout + booked.stderr
    first_call = json.loads(booked.stdout)
    assert len(first_call["appointments"]) == 1

    console.go(f"/admin/b/{server.business_id}/bookings?view=day&date={monday}")
    row = page.locator("table.bookings tbody tr")
    assert row.count() == 1
    assert "10:00" in row.inner_text() and "דנה" in row.inner_text() and "+972502222222" in row.inner_text()
    call_sid = first_call["trace"].rsplit("/", 1)[1]
    assert row.locator(f'a[href="/traces/{call_sid}"]').count() == 1
    page.screenshot(path=str(SCREENSHOTS / "console-bookings-he.png"), full_page=True)

    console.go(f"/admin/b/{server.business_id}/calls")
    call = page.locator(f'article[data-call="{call_sid}"]')
    assert "נקבע תור" in call.locator(".outcome").inner_text()
    call.locator("summary").click()
    assert MONDAY_10 in call.locator("ol.turns").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "console-calls-he.png"), full_page=True)

    # Cancelled from the console, the slot is free for the next caller.
    console.go(f"/admin/b/{server.business_id}/bookings?view=day&date={monday}")
    page.locator("table.bookings tbody tr form.confirm button").click()
    page.wait_for_load_state()
    assert page.locator("#no-bookings").is_visible()
    again = run_call(server, scenario(tmp_path, "again", "+972503333333"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(json.loads(again.stdout)["appointments"]) == 1


def test_a_user_of_one_business_cannot_open_another(console: Console, server: LiveServer) -> None:
    console.log_in("dana", "dana-password-1")
    assert console.page.url.endswith(f"/admin/b/{server.business_id}/bookings")
    response = console.go(console.settings(server.business_id + 1))
    assert response.status == 403
    assert console.page.locator("p.error").is_visible()
    # Chromium reports any 4xx page load on its console: that refusal is the one expected here.
    assert console.errors == ["console: Failed to load resource: the server responded with a status of 403 ()"]
    console.errors.clear()


def test_english_pages_run_left_to_right_and_fit_a_phone(browser: Any, server: LiveServer, screenshots: Path) -> None:
    phone = Console(browser, server, PHONE_VIEWPORT)
    try:
        phone.log_in()
        phone.go(phone.settings(server.business_id + 1))
        assert phone.page.get_attribute("html", "dir") == "ltr"
        assert phone.page.locator("#row-sun th").inner_text() == "Sunday"
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_VIEWPORT["width"], f"the page is {width}px wide on a {PHONE_VIEWPORT['width']}px phone"
        phone.page.screenshot(path=str(SCREENSHOTS / "console-settings-en-phone.png"), full_page=True)
        phone.check_clean()
    finally:
        phone.close()
