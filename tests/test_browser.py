"""The app in a real browser: Debian's Chromium driven by Playwright, against the server `make run` starts.

AppTest cannot see what JavaScript draws; these tests look at the page a
person sees: no exception boxes or console errors, figures that follow the
sidebar, links that restore a view, downloads that deliver the matrix,
hostile text that stays text, and no request leaving 127.0.0.1.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from services.server import CHROMIUM, CHROMIUM_MISSING, AppServer, launch_chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(__file__).resolve().parent / "_screenshots"
PAGES = ["attention", "masks", "positional", "embeddings", "predictions", "walkthrough", "translation", "objectives"]
SETTLE_MS = 120_000          # a cold page on a busy 2-core machine can take this long
# What "the page changed" means while waiting for a rerun to finish.
SETTLE_JS = """() => ({
    running: !!document.querySelector('[data-stale="true"]')
             || !!document.querySelector('[data-testid="stStatusWidget"]')
             || !!document.querySelector('[data-testid="stSkeleton"]')
             || !!document.querySelector('[data-testid="stSpinner"]'),
    plots: document.querySelectorAll('.js-plotly-plot').length,
    drawn: document.querySelectorAll('.js-plotly-plot .main-svg').length,
    text: (document.querySelector('[data-testid="stMain"]') || document.body).innerText.length,
})"""


@pytest.fixture(scope="module")
def server():
    """The app as `make run` serves it (services.server), on a free loopback port; stopped afterwards."""
    with AppServer(log_path=ROOT / "tests" / "_streamlit_browser.log") as app:
        yield app.url


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(CHROMIUM_MISSING)
        pytest.skip(CHROMIUM_MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots():
    SHOTS.mkdir(exist_ok=True)
    yield SHOTS
    if not os.environ.get("KEEP_SCREENSHOTS"):
        shutil.rmtree(SHOTS, ignore_errors=True)


class Watched:
    """A page plus everything it did that a test may want to assert on."""

    def __init__(self, context, base):
        self.base = base
        self.page = context.new_page()
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", self._on_console)
        self.page.on("response", self._on_response)

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", on_dialog)

    @staticmethod
    def _base_path_probe(url: str) -> bool:
        # On a deep link (/masks) Streamlit's frontend first tries /masks/_stcore/...
        # in case the app is served under that prefix, gets a 404, then uses
        # /_stcore/...: expected probing, not an error of this app.
        path = urlparse(url).path
        return "/_stcore/" in path and not path.startswith("/_stcore/")

    def _on_console(self, message):
        if message.type == "error" and not self._base_path_probe(message.location.get("url", "")):
            self.console_errors.append(f"{message.text} @ {message.location}")

    def _on_response(self, response):
        if response.status >= 400 and not self._base_path_probe(response.url):
            self.console_errors.append(f"HTTP {response.status} {response.url}")

    def goto(self, path: str):
        self.page.goto(self.base + "/" + path.lstrip("/"))
        self.settle()

    def settle(self):
        """Wait until Streamlit has finished rerunning (its status widget is gone) and stays so."""
        page = self.page
        page.wait_for_selector('[data-testid="stApp"] h1', timeout=SETTLE_MS)
        deadline = time.monotonic() + SETTLE_MS / 1000
        last, stable = None, 0
        while time.monotonic() < deadline:
            state = page.evaluate(SETTLE_JS)
            stable = stable + 1 if state == last and not state["running"] else 0
            if stable >= 3:                       # unchanged and idle for ~1.5 s
                return
            last = state
            page.wait_for_timeout(500)
        raise AssertionError(f"the page did not settle within {SETTLE_MS / 1000:.0f} s")

    def exceptions(self) -> list[str]:
        return self.page.locator('[data-testid="stException"]').all_inner_texts()

    def tick_texts(self) -> list[str]:
        return self.page.eval_on_selector_all(
            ".js-plotly-plot .xtick text, .js-plotly-plot .ytick text", "els => els.map(e => e.textContent)")

    def type_sentence(self, text: str):
        box = self.page.get_by_label("Sentence A")
        box.fill(text)
        box.press("Control+Enter")           # st.text_area applies its value on Ctrl+Enter
        self.settle()

    def foreign_requests(self) -> list[str]:
        allowed_schemes = {"data", "blob", "about"}
        return [u for u in self.requests
                if urlparse(u).scheme not in allowed_schemes and urlparse(u).hostname != "127.0.0.1"]


@pytest.fixture
def watched(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    w = Watched(context, server)
    yield w
    assert w.foreign_requests() == [], "requests left 127.0.0.1"
    assert w.dialogs == [], "a dialog fired"
    context.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_clean(watched, shots, name):
    watched.goto(f"{name}?a=The+cat+sat+on+the+mat+because+it+was+warm.")
    watched.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert watched.exceptions() == []
    assert watched.page.locator(".js-plotly-plot").count() > 0, f"{name} drew no figure"
    ticks = " ".join(watched.tick_texts())
    # The translator's own vocabulary reads "cat" as two pieces; its source tokens start with "The".
    assert ("▁The" in ticks if name == "translation" else "cat" in ticks) or name == "positional"
    assert watched.console_errors == []
    assert watched.page.locator(".katex-error").count() == 0, "a formula failed to render"
    watched.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_typing_updates_figures_and_the_url_restores_the_view(watched, browser, server):
    watched.goto("attention")
    watched.type_sentence("the quick brown fox jumps over the lazy dog")
    ticks = " ".join(watched.tick_texts())
    assert "quick" in ticks and "lazy" in ticks

    # Choose layer 3, head 5: the large heatmap's title follows.
    for label, value in (("Layer", "3"), ("Head", "5")):
        watched.page.get_by_label(label, exact=True).first.click()
        watched.page.get_by_role("option", name=value, exact=True).click()
        watched.settle()
    assert "layer=3" in watched.page.url and "head=5" in watched.page.url
    titles = " ".join(watched.page.eval_on_selector_all(".js-plotly-plot .gtitle", "els => els.map(e => e.textContent)"))
    assert "layer 3" in titles.lower() and "head 5" in titles.lower()
    assert watched.exceptions() == []

    # A copied URL opened by someone else shows the same view.
    other = Watched(browser.new_context(viewport={"width": 1400, "height": 1000}), server)
    other.page.goto(watched.page.url)
    other.settle()
    assert other.page.get_by_label("Sentence A").input_value() == "the quick brown fox jumps over the lazy dog"
    assert "quick" in " ".join(other.tick_texts())
    other_titles = " ".join(other.page.eval_on_selector_all(".js-plotly-plot .gtitle", "els => els.map(e => e.textContent)"))
    assert "layer 3" in other_titles.lower() and "head 5" in other_titles.lower()
    assert other.foreign_requests() == []
    other.page.context.close()


def test_csv_download_delivers_the_matrix(watched):
    watched.goto("attention?a=one+two+three")
    button = watched.page.locator('[data-testid="stDownloadButton"] button').first
    with watched.page.expect_download() as info:
        button.click()
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text())))
    tokens = ["[CLS]", "one", "two", "three", "[SEP]"]
    assert len(rows) >= len(tokens) + 1
    header = rows[0]
    assert all(any(tok in name for name in header) for tok in tokens)
    first_key = next(i for i, name in enumerate(header) if "[CLS]" in name)   # one column per key token
    numbers = [float(x) for row in rows[1:] for x in row[first_key:] if x]
    assert numbers and all(0.0 <= x <= 1.0 for x in numbers)


@pytest.mark.parametrize("text", [
    '<img src=x onerror=alert(1)>',
    "<script>alert('hi')</script> hello",
    "🙂🚀 emoji everywhere 🎉",
    "注意力机制是一种很有用的方法",
    " ".join(["word"] * 3000),
])
def test_hostile_input_stays_text(watched, text):
    watched.goto("attention")
    watched.type_sentence(text)
    page = watched.page
    assert watched.exceptions() == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.get_by_label("Sentence A").input_value() == text        # what the user typed is kept
    if len(text) > 1000:
        assert page.get_by_text("512", exact=False).count() > 0          # the truncation note names the limit
    assert watched.console_errors == []


TEXT_SIZES_JS = """els => els.filter(e => e.textContent.trim())
                     .map(e => parseFloat(getComputedStyle(e).fontSize))"""


def test_projector_mode_every_figure_label_is_large_at_1280x720(browser, server, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    w = Watched(context, server)
    for name in ("attention", "masks", "predictions", "walkthrough", "translation"):
        w.goto(f"{name}?big=1&a=The+cat+sat+on+the+mat+because+it+was+warm.")
        assert w.exceptions() == []
        sizes = w.page.eval_on_selector_all(".js-plotly-plot svg text", TEXT_SIZES_JS)
        assert sizes and min(sizes) >= 16, f"{name}: smallest figure text {min(sizes)} px"
        w.page.screenshot(path=str(shots / f"projector_{name}.png"))
    assert w.console_errors == [] and w.foreign_requests() == []
    context.close()


def test_right_to_left_labels_keep_the_number_on_the_left(watched, shots):
    watched.goto("attention?a=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7+%D8%A8%D8%A7%D9%84%D8%B9%D8%A7%D9%84%D9%85")
    assert watched.exceptions() == []
    # Each Arabic label: the position number is drawn left of the token (its first character is the number's).
    placed = watched.page.eval_on_selector_all(".js-plotly-plot .xtick text, .js-plotly-plot .ytick text", """
        els => els.filter(e => e.textContent.includes('\\u2068')).map(e => {
            const t = e.textContent, arabic = t.indexOf('\\u2068') + 1;
            return [e.getStartPositionOfChar(0).x, e.getStartPositionOfChar(arabic).x, t];
        })""")
    assert placed, "no isolated right-to-left label was drawn"
    for number_x, token_x, text in placed:
        assert number_x < token_x, f"the number is not left of the token in {text!r}"
    watched.page.screenshot(path=str(shots / "rtl.png"))


def test_a_tour_step_opened_by_url_shows_the_same_view_in_a_fresh_context(browser, server):
    url = server + "/?tour=bert&step=3&a=The+trophy+did+not+fit+in+the+suitcase+because+it+was+too+big."
    seen = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        w = Watched(context, server)
        w.page.goto(url)
        w.settle()
        assert w.exceptions() == []
        main = w.page.locator('[data-testid="stMain"]').inner_text()
        assert "step 3 of 10" in main and "Ask the class" in main
        checked = w.page.get_by_role("checkbox", name="Hide [CLS]/[SEP]").is_checked()
        seen.append((checked, " ".join(w.tick_texts()[:6])))
        assert w.foreign_requests() == []
        context.close()
    assert seen[0] == seen[1] and seen[0][0] is True


def test_a_lesson_file_round_trips_into_a_fresh_browser(browser, server, tmp_path):
    """Collect two views with notes, download the lesson, open the file in a new context, open a view."""
    sentence = "The trophy did not fit in the suitcase because it was too big."
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    w = Watched(context, server)
    sidebar = w.page.locator('[data-testid="stSidebar"]')
    w.goto("attention?a=" + sentence.replace(" ", "+"))
    sidebar.get_by_text("Lesson: views to show in class").click()
    for page, note in (("Attention", "Where does it look?"), ("Masks", "Why grey?")):
        if page != "Attention":     # within the session: a new address would be a new session
            sidebar.get_by_role("link", name=page).click()
            w.settle()
        sidebar.get_by_label("Note for this view").fill(note)
        sidebar.get_by_label("Note for this view").press("Enter")
        w.settle()
        sidebar.get_by_role("button", name="Add this view").click()
        w.settle()
    assert sidebar.get_by_text("2 of", exact=False).count() == 1
    with w.page.expect_download() as info:
        sidebar.get_by_role("button", name="Download the lesson").click()
    saved = tmp_path / "lesson.json"
    info.value.save_as(saved)
    assert w.exceptions() == [] and w.foreign_requests() == []
    context.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    w = Watched(fresh, server)
    w.goto("positional")
    sidebar = w.page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Lesson: views to show in class").click()
    sidebar.locator('input[type="file"]').set_input_files(str(saved))
    w.settle()
    text = sidebar.inner_text()
    assert "Where does it look?" in text and "Why grey?" in text
    # by its text: Streamlit's icon-only buttons also answer to the role query for "Open"
    sidebar.locator("button").filter(has_text=re.compile("^Open$")).first.click()
    w.settle()
    main = w.page.locator('[data-testid="stMain"]')
    assert main.locator("h1").inner_text().startswith("Attention"), w.page.url
    assert w.page.get_by_label("Sentence A").input_value() == sentence
    assert w.exceptions() == [] and w.console_errors == [] and w.foreign_requests() == []
    fresh.close()
