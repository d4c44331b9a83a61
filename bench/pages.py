"""Page benchmarks: server time of every page, browser time of the Attention page, page switches, bertviz.

    .venv/bin/python -m bench.pages [--parts server,browser,switch,bertviz] [--reps 3]
                                    [--bertviz-path /tmp/bv] [--bertviz-assets DIR] [--root DIR]
                                    [--json out.json]

Run from the repository root. The browser parts start the server as ``make
run`` does (``services.server.AppServer``); ``--root`` serves another copy of
the app with this checkout's ``.venv``.

1. **server**: each page's script run (``streamlit.testing`` AppTest, the
   whole app: sidebar + page) on the bundled models, for a 12-word sentence and
   a 128-token one (exactly 128 tokens with [CLS]/[SEP]). *cold* = the trace
   caches (``st.cache_data``) cleared, models already loaded: what a student
   who types a new sentence waits for; *warm* = the same session run again
   (cache hit: what ticking a box or coming back to the page costs). The
   medians of ``--reps`` runs, each cold run on a different sentence. The
   first run of the process (model loading) is printed apart.
2. **browser**: the Attention page in Debian's Chromium (Playwright) against the
   server on a free 127.0.0.1 port: the sentence is typed into the
   sidebar box and submitted (Ctrl+Enter); the clock stops when every Plotly
   figure on the page holds the new data and has been drawn (``gd._fullData``
   rebuilt from the new ``gd.data``, then two animation frames), with the
   "running" widget gone. 12 words, 128 tokens and 512 tokens (the model's
   limit); each repetition is a new sentence (so the model runs, as for a
   student). The all-heads overview is block-averaged above 48 tokens (the
   page says so).
3. **switch**: a teacher's tour with one sentence (12 words, then 128
   tokens, each in a new tab): the app opened from a link, every other page
   clicked once in the sidebar navigation (*cold*: the caches fill), then the
   tour ``--reps`` times more (*warm*: each page is clicked from the one
   before it). Timed in the page from the click to the new page's first
   Plotly figure drawn (a figure whose data object was not on screen before
   the click, with ``gd._fullData`` built from it and its SVG in place), and
   to all its figures drawn with Streamlit idle; then until the page is quiet
   (the last Plotly draw: Streamlit 1.67 draws each new figure twice), with
   the websocket bytes received and the time of the last message, and the
   main thread's time in long tasks (> 50 ms: decoding, React, Plotly) from
   the click until quiet. The same tour is then replayed by
   a websocket client (as in ``bench/classroom.py``, no browser): the
   server's time to the first figure's message and to ``script_finished``,
   and the figures' JSON size.
4. **bertviz**: ``bertviz.model_view`` (installed outside the project, e.g.
   ``pip install --no-deps --target /tmp/bv bertviz``; it is NOT a project
   requirement) on the same attention (bundled MiniLM, all 6 layers x 12
   heads, via ``model_core``), rendered in the same Chromium; timed from
   navigation to its SVG being drawn (every head's thumbnail has its lines).
   bertviz's HTML loads require.js, d3 and jQuery from cdnjs.cloudflare.com
   and the package ships none of them, so offline it cannot render: the
   benchmark blocks every request that is not 127.0.0.1 and reports that.
   With ``--bertviz-assets DIR`` (a folder with ``require.min.js``,
   ``d3.min.js`` and ``jquery.min.js``, e.g. from ``npm pack requirejs@2.3.6
   d3@5.7.0 jquery@2.1.0``) the CDN URLs are answered from that folder and the
   ratio to our all-heads view is printed.

Targets: warm server time of Attention < 0.3 s at 12 words; browser draw of all heads < 1 s at 128 tokens;
a warm page switch, click -> first figure drawn, < 0.5 s.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import types
import urllib.parse
from pathlib import Path

from bench.classroom import Session
from services.server import AppServer, launch_chromium

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["attention", "masks", "positional", "embeddings", "predictions", "walkthrough", "translation", "objectives"]
TEXT_SOURCE = ROOT / "tests" / "data" / "everyday_paragraphs.txt"

TARGET_WARM_S = 0.3
TARGET_DRAW_S = 1.0


# ---------------------------------------------------------------------------
# Sentences of a known length
# ---------------------------------------------------------------------------

def _words() -> list[str]:
    return TEXT_SOURCE.read_text().split()


def words_sentence(n_words: int, salt: int) -> str:
    """``n_words`` words of everyday English, a different stretch for each ``salt``."""
    words = _words()
    start = (salt * 37) % (len(words) - n_words)
    return " ".join(words[start:start + n_words])


def tokens_sentence(tokenizer, n_tokens: int, salt: int) -> str:
    """A text that the (BERT) tokenizer turns into exactly ``n_tokens`` tokens, [CLS] and [SEP] included."""
    words = _words()
    start = (salt * 37) % len(words)
    chosen: list[str] = []
    count = 0
    i = start
    for _ in range(20 * len(words)):                    # bounded: the text is cycled, short words fill the end
        word = words[i % len(words)]
        i += 1
        n = len(tokenizer.tokenize(word))
        if count + n <= n_tokens - 2:
            chosen.append(word)
            count += n
        if count == n_tokens - 2:
            break
    text = " ".join(chosen)
    got = len(tokenizer(text)["input_ids"])
    if got != n_tokens:
        raise RuntimeError(f"built a text of {got} tokens, wanted {n_tokens}")
    return text


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------
# 1. server time per page (AppTest)
# ---------------------------------------------------------------------------

def bench_server(reps: int, tokenizer) -> list[dict]:
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from services import bytecache

    for name in list(logging.root.manager.loggerDict):      # bare-mode warnings of st.cache_data.clear()
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)

    def fresh(page: str, text: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.query_params["a"] = text
        at.switch_page(f"pages/{page}.py")
        return at

    def timed_run(at: AppTest) -> float:
        start = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(f"exception on the page: {at.exception[0].value}")
        return elapsed

    rows = []
    first = {}
    for page in PAGES:                                   # first run of each page: models load here
        first[page] = timed_run(fresh(page, words_sentence(12, 999)))
    print("first run of each page in this process (models load on the first): "
          + ", ".join(f"{p} {t:.2f} s" for p, t in first.items()), flush=True)
    sizes = {"12 words": lambda salt: words_sentence(12, salt),
             "128 tokens": lambda salt: tokens_sentence(tokenizer, 128, salt)}
    for page in PAGES:
        for size, make in sizes.items():
            cold, warm, notes = [], [], ""
            for rep in range(reps):
                st.cache_data.clear()
                bytecache.clear()
                at = fresh(page, make(100 + rep))
                cold.append(timed_run(at))
                warm.append(timed_run(at))
                if rep == 0:
                    notes = "; ".join(sorted({e.value[:70] for e in at.info if "not available" in e.value}))
            row = {"page": page, "size": size, "cold_s": median(cold), "warm_s": median(warm),
                   "cold_all": cold, "warm_all": warm, "first_s": first[page], "notes": notes}
            rows.append(row)
            print(f"  {page:12s} {size:10s} cold {row['cold_s']:6.3f} s   warm {row['warm_s']:6.3f} s"
                  + (f"   ({notes})" if notes else ""), flush=True)
    return rows


# ---------------------------------------------------------------------------
# Browser helpers
# ---------------------------------------------------------------------------

# Before a submit: remember each figure's current data, so "new" can be told from "old".
MARK_STALE_JS = """() => {
    window.__stale = new Map();
    for (const gd of document.querySelectorAll('.js-plotly-plot')) window.__stale.set(gd, gd.data);
    window.__t0 = performance.now(); window.__t1 = null;
}"""
# True (and the time noted) when every figure holds new data that Plotly has drawn and Streamlit is idle.
ALL_DRAWN_JS = """([expected, nTokens]) => {
    if (window.__t1 !== null) return true;
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    if (plots.length < expected) return false;
    for (const gd of plots) {
        if (!gd.data || window.__stale.get(gd) === gd.data) return false;
        if (!gd._fullData || !gd._fullData.length || gd._fullData[0]._input !== gd.data[0]) return false;
        if (!gd.querySelector('.main-svg')) return false;
    }
    const head = document.querySelector('.st-key-fig_att_head .js-plotly-plot');
    if (!head || head._fullData[0].z.length !== nTokens) return false;
    window.__t1 = performance.now();
    return true;
}"""
# Installed before the app loads: note when each websocket message arrives and its size.
WS_LOG_JS = """(() => {
    const Native = window.WebSocket;
    window.__wsLog = [];
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', e => window.__wsLog.push(
                [performance.now(), e.data.byteLength || e.data.size || e.data.length || 0]));
        }
    };
})();"""
# Messages between the submit and the end: [time of the last one, KB in all].
WS_SPAN_JS = """([t0, t1]) => {
    const inside = window.__wsLog.filter(([t]) => t >= t0 && t <= t1);
    return [inside.length ? inside[inside.length - 1][0] : t0, inside.reduce((a, [, n]) => a + n, 0) / 1024];
}"""
TWO_FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def launch(playwright):
    try:
        return launch_chromium(playwright)
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from None


def local_only(context, served: dict[str, Path] | None = None, blocked: list[str] | None = None) -> None:
    """Every request that is not 127.0.0.1 (or data:/blob:) is answered from ``served`` or aborted."""
    def handle(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
            return route.continue_()
        for suffix, path in (served or {}).items():
            if url.split("?")[0].endswith(suffix):
                return route.fulfill(path=str(path), content_type="application/javascript")
        if blocked is not None:
            blocked.append(url)
        return route.abort()
    context.route("**/*", handle)


def _base_path_probe(url: str) -> bool:
    # On a deep link (/attention) Streamlit's frontend first probes /attention/_stcore/... for a
    # base path and gets 404s: expected, not errors (tests/test_browser.py ignores them too).
    path = urllib.parse.urlparse(url).path
    return "/_stcore/" in path and not path.startswith("/_stcore/")


def watch_errors(page) -> list[str]:
    """The page's console errors and failed responses, collected from now on."""
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and not _base_path_probe(m.location.get("url", ""))
            and errors.append(m.text))
    page.on("response", lambda r: r.status >= 400 and not _base_path_probe(r.url)
            and errors.append(f"HTTP {r.status} {r.url}"))
    return errors


# ---------------------------------------------------------------------------
# 2. browser: submit -> all figures drawn on the Attention page
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def chromium():
    """Debian's Chromium through Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def watched_context(browser, *init_scripts: str):
    """A 1400x1000 browser context that only reaches 127.0.0.1, with ``init_scripts`` installed: (context, blocked)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []
    local_only(context, blocked=blocked)
    for script in init_scripts:
        context.add_init_script(script)
    return context, blocked


def bench_browser(reps: int, tokenizer, port: int, root: Path = ROOT) -> list[dict]:
    sizes = {"12 words": lambda salt: words_sentence(12, salt),
             "128 tokens": lambda salt: tokens_sentence(tokenizer, 128, salt),
             "512 tokens": lambda salt: tokens_sentence(tokenizer, 512, salt)}
    server = AppServer(root=root, port=port)
    port = server.port
    rows = []
    with server:
        with chromium() as browser:
            context, blocked = watched_context(browser, WS_LOG_JS)
            page = context.new_page()
            errors = watch_errors(page)
            page.goto(f"http://127.0.0.1:{port}/attention?a=" + words_sentence(12, 998).replace(" ", "+"))
            page.wait_for_selector(".st-key-fig_att_head .js-plotly-plot .main-svg", timeout=180_000)
            page.wait_for_timeout(1500)
            n_plots = page.locator(".js-plotly-plot").count()
            box = page.get_by_role("textbox", name="Sentence A", exact=True)
            for size, make in sizes.items():
                times, last_msg, kbytes, n_tokens = [], [], [], 0
                for rep in range(reps):
                    text = make(200 + rep)
                    n_tokens = len(tokenizer(text)["input_ids"])
                    box.fill(text)
                    page.evaluate(MARK_STALE_JS)
                    box.press("Control+Enter")
                    page.wait_for_function(ALL_DRAWN_JS, arg=[n_plots, n_tokens], polling="raf", timeout=180_000)
                    painted = page.evaluate(TWO_FRAMES_JS)
                    t0 = page.evaluate("() => window.__t0")
                    last, kb = page.evaluate(WS_SPAN_JS, [t0, painted])
                    times.append((painted - t0) / 1000)
                    last_msg.append((last - t0) / 1000)
                    kbytes.append(kb)
                    if page.locator('[data-testid="stException"]').count():
                        raise RuntimeError("exception box on the Attention page")
                row = {"size": size, "tokens": n_tokens, "figures": n_plots, "drawn_s": median(times),
                       "last_msg_s": median(last_msg), "kb": median(kbytes), "all": times}
                rows.append(row)
                print(f"  attention {size:10s} ({n_tokens} tokens, {n_plots} figures): submit -> all drawn "
                      f"{row['drawn_s']:.2f} s, last message {row['last_msg_s']:.2f} s, {row['kb']:.0f} KB received  "
                      f"(runs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
            if blocked or errors:
                print(f"  note: {len(blocked)} non-local requests blocked {sorted(set(blocked))[:3]}, "
                      f"{len(errors)} console errors {errors[:3]}", flush=True)
        # The same submits without a browser (a websocket client, as in classroom.py): the server's share alone.
        for row, (size, make) in zip(rows, sizes.items()):
            row["ws_s"] = median(asyncio.run(_server_only(port, [make(300 + rep) for rep in range(reps)])))
            print(f"  attention {size:10s}: same submit without a browser (websocket client): "
                  f"{row['ws_s']:.2f} s to script_finished", flush=True)
    return rows


async def _server_only(port: int, texts: list[str]) -> list[float]:
    session = Session(f"ws://127.0.0.1:{port}/_stcore/stream", f"http://127.0.0.1:{port}", 180)
    await session.connect()
    try:
        first = await session.open("attention", words_sentence(12, 997))
        if first.error:
            raise RuntimeError(first.error)
        times = []
        for text in texts:
            result = await session.type_sentence(text)
            if result.error:
                raise RuntimeError(result.error)
            times.append(result.seconds)
        return times
    finally:
        await session.close()


# ---------------------------------------------------------------------------
# 3. switch: click another page in the navigation -> its figures drawn
# ---------------------------------------------------------------------------

# The sidebar navigation's link text of each page (app.py's st.Page titles), in the order of the tour.
NAV_TITLES = {"attention": "Attention", "masks": "Masks", "positional": "Positional encoding",
              "embeddings": "Embeddings", "predictions": "Predictions", "walkthrough": "Walkthrough",
              "translation": "Translation", "objectives": "Objectives"}
TARGET_SWITCH_S = 0.5

# Installed before the app loads: when each click happened, and the main thread's long tasks (> 50 ms).
CLICK_LOG_JS = """(() => {
    window.__clicks = [];
    document.addEventListener('click', () => window.__clicks.push(performance.now()), true);
    window.__longTasks = [];
    new PerformanceObserver(list => {
        for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
    }).observe({type: 'longtask', buffered: true});
})();"""
# Installed before the app loads: when Plotly finished each full draw of a figure. Plotly gives a figure's
# div its emit() on the first draw; the setter wraps it to note every 'plotly_afterplot'.
DRAW_LOG_JS = """(() => {
    window.__draws = [];
    Object.defineProperty(HTMLDivElement.prototype, 'emit', {configurable: true, set(fn) {
        Object.defineProperty(this, 'emit', {configurable: true, writable: true, value: function (event, ...rest) {
            if (event === 'plotly_afterplot') window.__draws.push(performance.now());
            return fn.call(this, event, ...rest);
        }});
    }});
})();"""
# Before a click: every figure on screen belongs to the old page (its data object is remembered; a figure
# of the new page may reuse the old one's element, but always gets a new data object).
MARK_OLD_JS = """() => {
    window.__old = new Set([...document.querySelectorAll('.js-plotly-plot')].map(gd => gd.data).filter(Boolean));
    window.__clicks = []; window.__first = null; window.__all = null;
}"""
# Polled every animation frame after the click: when the new page's first figure was drawn, and when
# all of its figures were (at least ``expected``, none of the old page's left) with Streamlit idle.
SWITCH_DRAWN_JS = """(expected) => {
    const now = performance.now();
    const drawn = gd => gd.data && !window.__old.has(gd.data) && gd._fullData && gd._fullData.length
        && gd._fullData[0]._input === gd.data[0] && gd.querySelector('.main-svg');
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    const fresh = plots.filter(drawn).length;
    if (window.__first === null && fresh > 0) window.__first = now;
    if (window.__first === null || fresh < Math.max(expected, plots.length)) return false;
    if (document.querySelector('[data-testid="stStatusWidget"], [data-stale="true"]')) return false;
    window.__all = now;
    return true;
}"""
# Main-thread time in long tasks that started in [t0, t1], ms.
LONG_TASKS_JS = """([t0, t1]) => window.__longTasks.filter(([t]) => t >= t0 && t <= t1).reduce((a, [, d]) => a + d, 0)"""
IDLE_STATE_JS = """() => [!!document.querySelector('[data-testid="stStatusWidget"], [data-stale="true"]'),
    document.querySelectorAll('.js-plotly-plot .main-svg').length,
    (document.querySelector('[data-testid="stMain"]') || document.body).innerText.length]"""


def _settle(page, quiet: int = 3, step_ms: int = 250, limit_s: float = 180.0) -> None:
    """Wait until Streamlit is idle and the page stays unchanged for ``quiet`` checks in a row."""
    deadline = time.monotonic() + limit_s
    last, stable = None, 0
    while time.monotonic() < deadline:
        state = page.evaluate(IDLE_STATE_JS)
        stable = stable + 1 if state == last and not state[0] else 0
        if stable >= quiet:
            return
        last = state
        page.wait_for_timeout(step_ms)
    raise RuntimeError(f"the page did not settle within {limit_s:.0f} s")


def _click_page(page, name: str, expected: int) -> dict:
    """Click ``name`` in the sidebar navigation; time the new page's first figure and all of them."""
    page.evaluate(MARK_OLD_JS)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=NAV_TITLES[name], exact=True).click()
    page.wait_for_function(SWITCH_DRAWN_JS, arg=expected, polling="raf", timeout=180_000)
    painted = page.evaluate(TWO_FRAMES_JS)
    t0, first, done = page.evaluate("() => [window.__clicks[0], window.__first, window.__all]")
    last, kb = page.evaluate(WS_SPAN_JS, [t0, painted])
    _settle(page)
    if page.locator('[data-testid="stException"]').count():
        raise RuntimeError(f"exception box on the {name} page")
    figures = page.locator(".js-plotly-plot").count()
    draws = page.evaluate("(t0) => (window.__draws || []).filter(t => t >= t0)", t0)   # till the page was quiet
    busy = page.evaluate(LONG_TASKS_JS, [t0, max([painted, *draws])])
    return {"first_s": (first - t0) / 1000, "all_s": (done - t0) / 1000, "painted_s": (painted - t0) / 1000,
            "last_msg_s": (last - t0) / 1000, "kb": kb, "long_tasks_ms": busy, "figures": figures,
            "draws_per_figure": len(draws) / max(figures, 1),
            "last_draw_s": (max(draws) - t0) / 1000 if draws else float("nan")}


def bench_switch(reps: int, tokenizer, port: int, root: Path = ROOT) -> list[dict]:
    """Per page and sentence: a cold visit, then ``reps`` warm clicks from the previous page of the tour."""
    texts = {"12 words": words_sentence(12, 400), "128 tokens": tokens_sentence(tokenizer, 128, 400)}
    names = [name for name in NAV_TITLES if name in PAGES]
    server = AppServer(root=root, port=port)
    port = server.port
    rows = []
    with server:
        with chromium() as browser:
            for size, text in texts.items():
                context, blocked = watched_context(browser, WS_LOG_JS, CLICK_LOG_JS, DRAW_LOG_JS)
                page = context.new_page()
                errors = watch_errors(page)
                # Cold: the first page from a link, every other one by a click (the caches fill).
                start = time.perf_counter()
                page.goto(f"{server.url}/?{urllib.parse.urlencode({'a': text})}")
                page.wait_for_selector(".js-plotly-plot .main-svg", timeout=180_000)
                cold = {names[0]: {"first_s": time.perf_counter() - start}}
                _settle(page)
                if page.get_by_role("textbox", name="Sentence A", exact=True).input_value() != text:
                    raise RuntimeError("the link's sentence did not reach the Sentence A box")
                expected = {names[0]: page.locator(".js-plotly-plot").count()}
                for name in names[1:]:
                    cold[name] = _click_page(page, name, 1)
                    expected[name] = cold[name]["figures"]
                # Warm: the tour again, ``reps`` times (each click comes from the page before it).
                warm: dict[str, list[dict]] = {name: [] for name in names}
                for _ in range(reps):
                    for name in names:
                        warm[name].append(_click_page(page, name, expected[name]))
                if blocked or errors:
                    print(f"  note ({size}): {len(blocked)} non-local requests blocked {sorted(set(blocked))[:3]}, "
                          f"{len(errors)} console errors {errors[:3]}", flush=True)
                context.close()
                n_tokens = len(tokenizer(text)["input_ids"])
                for name in names:
                    runs = warm[name]
                    row = {"page": name, "size": size, "tokens": n_tokens, "figures": expected[name],
                           "cold_first_s": cold[name]["first_s"],
                           **{key: median([r[key] for r in runs])
                              for key in ("first_s", "all_s", "last_draw_s", "last_msg_s", "kb", "long_tasks_ms",
                                          "draws_per_figure")},
                           "first_all": [r["first_s"] for r in runs]}
                    rows.append(row)
                    print(f"  {name:12s} {size:10s} click -> first figure {row['first_s']:.2f} s, all drawn "
                          f"{row['all_s']:.2f} s, last draw {row['last_draw_s']:.2f} s "
                          f"({row['draws_per_figure']:.1f} draws a figure), last message {row['last_msg_s']:.2f} s, "
                          f"{row['kb']:.0f} KB, long tasks {row['long_tasks_ms']:.0f} ms ({row['figures']} figures; cold "
                          f"{row['cold_first_s']:.2f} s; runs {', '.join(f'{t:.2f}' for t in row['first_all'])})",
                          flush=True)
        # The same tour without a browser (a websocket client, as in classroom.py): the server's share alone.
        for size, text in texts.items():
            by_page = asyncio.run(_switch_server_only(port, text, names, reps))
            for row in rows:
                if row["size"] == size:
                    runs = by_page[row["page"]]
                    row.update(ws_s=median([r.seconds for r in runs]),
                               ws_first_s=median([r.first_chart_s for r in runs]),
                               ws_kb=median([r.nbytes / 1024 for r in runs]),
                               ws_figure_kb=median([r.chart_bytes / 1024 for r in runs]))
                    print(f"  {row['page']:12s} {size:10s} without a browser: first figure's message "
                          f"{row['ws_first_s']:.3f} s, script finished {row['ws_s']:.3f} s, {row['ws_kb']:.0f} KB "
                          f"({row['ws_figure_kb']:.0f} KB of figure JSON)", flush=True)
    return rows


async def _switch_server_only(port: int, text: str, names: list[str], reps: int) -> dict[str, list]:
    session = Session(f"ws://127.0.0.1:{port}/_stcore/stream", f"http://127.0.0.1:{port}", 180)
    await session.connect()
    try:
        first = await session.open("", text)
        if first.error:
            raise RuntimeError(first.error)
        # What the browser sends on every rerun: the sidebar box's text (the URL's is dropped on a switch).
        session.states[session.widgets["Sentence A"]] = ("string_value", text)
        for name in names:                                     # warm the caches, as the browser did
            await session.switch_page(name)
        runs: dict[str, list] = {name: [] for name in names}
        for _ in range(reps):
            for name in names:
                # "attention" is the default page's hidden twin (app.py): the same script.
                result = await session.switch_page(name)
                if result.error:
                    raise RuntimeError(f"{name}: {result.error}")
                runs[name].append(result)
        return runs
    finally:
        await session.close()


# ---------------------------------------------------------------------------
# 4. bertviz model_view on the same attention
# ---------------------------------------------------------------------------

def _import_bertviz(path: str):
    """Import bertviz from a folder outside the project. Its ``model_view(html_action="return")`` only
    wraps strings in IPython.display.HTML/Javascript, so a two-class stand-in replaces IPython when absent."""
    sys.path.insert(0, path)
    try:
        import IPython.display  # noqa: F401
    except ImportError:
        class _Wrap:
            def __init__(self, data: str = "") -> None:
                self.data = data
        display_mod = types.ModuleType("IPython.display")
        display_mod.HTML = display_mod.Javascript = _Wrap
        display_mod.display = lambda *a, **k: None
        ipython = types.ModuleType("IPython")
        ipython.display = display_mod
        sys.modules["IPython"], sys.modules["IPython.display"] = ipython, display_mod
    from bertviz import model_view
    return model_view


def bertviz_html(model_view, model, text: str) -> tuple[str, float, int]:
    import torch

    import model_core

    start = time.perf_counter()
    enc = model_core.encode(model, text)
    with torch.no_grad():
        out = model(enc.input_ids, record=("blocks.*.attn.pattern",))
    stacked = out.trace.stack("attn.pattern")                     # [layer, batch, head, q, k]
    attention = tuple(stacked[i] for i in range(stacked.shape[0]))  # bertviz: per layer [batch, head, q, k]
    html = model_view(attention, enc.tokens[0], html_action="return").data
    return html, time.perf_counter() - start, len(enc.tokens[0])


# bertviz draws into one <svg>, synchronously: a background rect per head thumbnail, then its lines.
BERTVIZ_DRAWN_JS = """(heads) => document.querySelectorAll('#vis rect.attn_background').length >= heads
    && document.querySelectorAll('#vis line').length > 0"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def bench_bertviz(args: argparse.Namespace, tokenizer, ours: dict[str, float]) -> list[dict]:
    from playwright.sync_api import TimeoutError as PwTimeout
    from playwright.sync_api import sync_playwright

    import model_core

    model_view = _import_bertviz(args.bertviz_path)
    model = model_core.load_bundled("encoder")
    heads = model.config.n_layers * model.config.n_heads
    served = None
    if args.bertviz_assets:
        folder = Path(args.bertviz_assets)
        served = {"/require.min.js": folder / "require.min.js", "/d3.min.js": folder / "d3.min.js",
                  "/jquery.min.js": folder / "jquery.min.js"}
        missing = [str(p) for p in served.values() if not p.exists()]
        if missing:
            raise SystemExit(f"--bertviz-assets lacks {missing}")
    sizes = {"12 words": words_sentence(12, 300), "128 tokens": tokens_sentence(tokenizer, 128, 300),
             "512 tokens": tokens_sentence(tokenizer, 512, 300)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        handler = lambda *a, **k: _Quiet(*a, directory=tmp, **k)  # noqa: E731
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as p:
                browser = launch(p)
                for size, text in sizes.items():
                    if size == "512 tokens" and not args.bertviz_512:
                        continue
                    html, build_s, n_tokens = bertviz_html(model_view, model, text)
                    name = f"bertviz_{n_tokens}.html"
                    Path(tmp, name).write_text(f"<!doctype html><html><body>{html}</body></html>")
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    blocked: list[str] = []
                    local_only(context, served, blocked)
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda e: errors.append(str(e)))
                    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
                    start = time.perf_counter()
                    page.goto(f"http://127.0.0.1:{httpd.server_port}/{name}", wait_until="commit")
                    drawn_s = None
                    try:
                        page.wait_for_function(BERTVIZ_DRAWN_JS, arg=heads, polling="raf",
                                               timeout=args.bertviz_timeout * 1000)
                        page.evaluate(TWO_FRAMES_JS)
                        drawn_s = time.perf_counter() - start
                    except PwTimeout:
                        pass
                    svg_elements = page.evaluate("() => document.querySelectorAll('#vis svg *').length")
                    context.close()
                    row = {"size": size, "tokens": n_tokens, "html_kb": len(html) / 1024, "build_s": build_s,
                           "drawn_s": drawn_s, "svg_elements": svg_elements, "ours_s": ours.get(size),
                           "blocked": sorted({u.split("?")[0] for u in blocked}), "errors": errors[:3]}
                    rows.append(row)
                    if drawn_s is None:
                        print(f"  bertviz {size:10s}: NOT drawn within {args.bertviz_timeout} s "
                              f"({len(row['blocked'])} CDN scripts blocked: {', '.join(row['blocked'])}; "
                              f"page errors: {'; '.join(e[:80] for e in row['errors']) or 'none'})", flush=True)
                    else:
                        ratio = f"{row['ours_s'] / drawn_s:.2f}x" if row["ours_s"] else "n/a"
                        print(f"  bertviz {size:10s}: HTML {row['html_kb']:.0f} KB built in {build_s:.2f} s, "
                              f"drawn {drawn_s:.2f} s, {svg_elements} SVG elements; ours/bertviz {ratio}", flush=True)
                browser.close()
        finally:
            httpd.shutdown()
    return rows


# ---------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="server,browser,switch,bertviz")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--port", type=int, default=0, help="port of the server the browser part starts (0 = free)")
    parser.add_argument("--bertviz-path", default="/tmp/bv", help="folder bertviz was pip-installed into (--target)")
    parser.add_argument("--bertviz-assets", help="folder with require.min.js, d3.min.js, jquery.min.js")
    parser.add_argument("--bertviz-timeout", type=float, default=60.0)
    parser.add_argument("--bertviz-512", action="store_true", help="also draw bertviz at 512 tokens (slow)")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="browser and switch parts: serve the app found in this folder (a patched copy) instead")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--pages", default=",".join(PAGES), help="server and switch parts: the pages to measure")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    PAGES[:] = [page for page in args.pages.split(",") if page]

    import model_core

    tokenizer = model_core.load_bundled("encoder").tokenizer
    load = os.getloadavg()
    print(f"machine load {load[0]:.1f} on {os.cpu_count()} cores; {args.reps} repetitions", flush=True)
    report: dict = {"load_before": load, "reps": args.reps}

    if "server" in parts:
        print("\n[1] server: script run per page (AppTest, bundled models)", flush=True)
        report["server"] = bench_server(args.reps, tokenizer)
    if "browser" in parts:
        print("\n[2] browser: Attention page, sentence submitted -> all figures drawn (Chromium)", flush=True)
        report["browser"] = bench_browser(args.reps, tokenizer, args.port, args.root.resolve())
    if "switch" in parts:
        print("\n[3] switch: click a page in the navigation -> its figures drawn, same sentence (Chromium)",
              flush=True)
        report["switch"] = bench_switch(args.reps, tokenizer, args.port, args.root.resolve())
    if "bertviz" in parts:
        print("\n[4] bertviz model_view, same attention, same Chromium"
              + (" (CDN scripts served from --bertviz-assets)" if args.bertviz_assets else " (offline: CDN blocked)"),
              flush=True)
        ours = {r["size"]: r["drawn_s"] for r in report.get("browser", [])}
        report["bertviz"] = bench_bertviz(args, tokenizer, ours)

    print("\n==== summary ====")
    if "server" in report:
        print(f"{'page':12s} {'sentence':10s} {'cold s':>8s} {'warm s':>8s} {'first s':>8s}")
        for r in report["server"]:
            print(f"{r['page']:12s} {r['size']:10s} {r['cold_s']:8.3f} {r['warm_s']:8.3f} {r['first_s']:8.2f}")
        att = next((r for r in report["server"] if r["page"] == "attention" and r["size"] == "12 words"), None)
        if att is not None:                                  # --pages may leave the Attention page out
            print(f"target: warm Attention at 12 words < {TARGET_WARM_S} s: {att['warm_s']:.3f} s "
                  f"{'PASS' if att['warm_s'] < TARGET_WARM_S else 'FAIL'}")
    if "browser" in report:
        print(f"\n{'attention, browser':20s} {'tokens':>6s} {'drawn s':>8s} {'last msg s':>10s} {'KB':>7s} "
              f"{'no-browser s':>12s}")
        for r in report["browser"]:
            print(f"{r['size']:20s} {r['tokens']:6d} {r['drawn_s']:8.2f} {r['last_msg_s']:10.2f} {r['kb']:7.0f} "
                  f"{r.get('ws_s', float('nan')):12.2f}")
        r128 = next(r for r in report["browser"] if r["size"] == "128 tokens")
        print(f"target: all heads drawn < {TARGET_DRAW_S} s at 128 tokens: {r128['drawn_s']:.2f} s "
              f"{'PASS' if r128['drawn_s'] < TARGET_DRAW_S else 'FAIL'}")
    if "bertviz" in report:
        print(f"\n{'bertviz model_view':20s} {'tokens':>6s} {'HTML KB':>8s} {'drawn s':>8s} {'ours s':>7s} {'ours/bv':>8s}")
        for r in report["bertviz"]:
            drawn = f"{r['drawn_s']:8.2f}" if r["drawn_s"] is not None else f"{'never':>8s}"
            ours_s = f"{r['ours_s']:7.2f}" if r["ours_s"] else f"{'-':>7s}"
            ratio = f"{r['ours_s'] / r['drawn_s']:7.2f}x" if r["ours_s"] and r["drawn_s"] else f"{'-':>8s}"
            print(f"{r['size']:20s} {r['tokens']:6d} {r['html_kb']:8.0f} {drawn} {ours_s} {ratio}")
    if "switch" in report:
        print(f"\n{'switch to':12s} {'sentence':10s} {'figs':>4s} {'cold s':>7s} {'first s':>7s} {'all s':>6s} "
              f"{'quiet s':>7s} {'draws':>5s} {'last msg s':>10s} {'KB':>6s} {'long ms':>7s} {'server s':>8s} "
              f"{'srv 1st s':>9s} {'fig KB':>6s}")
        for r in report["switch"]:
            print(f"{r['page']:12s} {r['size']:10s} {r['figures']:4d} {r['cold_first_s']:7.2f} {r['first_s']:7.2f} "
                  f"{r['all_s']:6.2f} {r['last_draw_s']:7.2f} {r['draws_per_figure']:5.1f} {r['last_msg_s']:10.2f} "
                  f"{r['kb']:6.0f} {r['long_tasks_ms']:7.0f} "
                  f"{r.get('ws_s', float('nan')):8.3f} {r.get('ws_first_s', float('nan')):9.3f} "
                  f"{r.get('ws_figure_kb', float('nan')):6.0f}")
        slow = [f"{r['page']} ({r['size']}) {r['first_s']:.2f} s" for r in report["switch"]
                if not r["first_s"] < TARGET_SWITCH_S]
        print(f"target: warm click -> first figure < {TARGET_SWITCH_S} s on every page: "
              + (f"FAIL: {', '.join(slow)}" if slow else "PASS"))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
