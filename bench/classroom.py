"""Classroom load test: N students on one server, typing sentences and switching pages.

    .venv/bin/python -m bench.classroom [--sessions 30] [--seconds 300] [--port 0]
                                        [--think 3 10] [--server-env OMP_NUM_THREADS=1] [--root DIR]
                                        [--window 300] [--json out.json]

Not part of ``make test``; run from the repository root. It starts the server
itself as ``make run`` does (``services.server.AppServer``: same command line,
same environment) on a free loopback port (or ``--port``), waits for
``/_stcore/health``, warms the
models with one pass over every page, then drives ``--sessions`` concurrent
sessions for ``--seconds`` and stops the server. All traffic goes to
127.0.0.1; every loop is bounded in count and in time.

How the students are simulated: each one is a **Streamlit websocket client**
(``/_stcore/stream``, the protobuf protocol the browser itself speaks:
``BackMsg.rerun_script`` with widget states and the page hash out,
``ForwardMsg`` deltas in), not a headless browser. The reason: in a
classroom the 30 browsers run on 30 student machines and only the server is
shared, so the server is what this test must load. 30 headless Chromium pages
on this 2-core machine would spend the cores on layout and Plotly drawing,
measure Chromium rather than the app, and starve the server they are meant to
test; 30 websocket clients cost a few percent of one core. What a browser adds
on top (drawing the figures) is measured once, without load, by
``bench/pages.py``.

A student: opens a random page from a link (``?a=`` sentence), then repeats
"think for a few seconds, then act", where an act is one of: type a new
sentence in the sidebar's Sentence A box (mostly their own, sometimes the
teacher's example, so the cache sees both; 5 % of the time a pasted paragraph
of about 90 tokens, ``--long-share``), switch to another page, or tick a
page's checkbox (e.g. Attention's "Hide [CLS]/[SEP]"). Acts are what the
browser sends for them: a rerun with the changed widget state or page hash.

Latency of an interaction = from sending the rerun to the server's
``script_finished`` for it (the moment the browser's "Running..." widget goes
away), i.e. every delta of the page, figures included, has arrived.
Errors = exception boxes (``st.exception``/uncaught exceptions), error alerts,
script runs that did not finish successfully, timeouts (``--timeout``) and
failed/closed connections. Server RSS (and CPU seconds) come from
``/proc/<pid>``: at start (idle), after the warm-up (models loaded: the base of
the growth figure), the peak, and at the end.

It also reports latency and memory per ``--window`` seconds (interactions sent in the window; RSS sampled in
it), so a slow growth over a 45-minute lesson shows as a trend, not only as two end points.

Before the server starts, ``bench.calibrate`` times the bundled encoder's forward pass in a child process: the
machine's speed that day, printed and kept in the JSON, since these VMs differ 2.6x from day to day.

Goals it reports against: 0 errors, p95 < 2 s over the run and < 1 s in every window, RSS growth < 10 % from
the end of the warm-up to the end. The warm-up pass loads the models but leaves the result cache nearly empty;
``--settle S`` counts the class's first S seconds as warm-up too (students arrive, the cache fills towards its
byte budget) and measures the growth from the last RSS reading before S (both growths are printed).

``--probe`` also samples the server from inside (``bench/probe/sitecustomize.py`` on its ``PYTHONPATH``):
per window, the CPU seconds, the seconds spent in full garbage collections, the objects the collector tracks,
the sessions and the result cache's size, so what grows shows next to the RSS.

``bench/school.py`` drives the same students through a load balancer.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from services.server import RUN_ENV, AppServer, free_port

ROOT = Path(__file__).resolve().parents[1]

GOAL_P95_S = 2.0
GOAL_WINDOW_P95_S = 1.0     # a 45-minute lesson: p95 under this in every window (issue 16)
GOAL_RSS_GROWTH = 0.10
PROBE = ROOT / "bench" / "probe"       # its sitecustomize.py samples the server from inside (--probe)

# Sentences the teacher puts on the board (students paste them: cache hits).
BOARD = (
    "The animal didn't cross the street because it was too tired.",
    "She sat on the bank of the river.",
    "The keys to the old wooden cabinet are on the table.",
    "Where did the cat sleep? The cat slept on the warm mat.",
    "The dog chased the cat.",
    "Paris is the capital of France.",
)
# Students' own sentences are built from these (mostly unique: cache misses).
SUBJECTS = ("the teacher", "my little brother", "a tired dog", "the old robot", "our class", "the bank",
            "a student", "the cat", "my friend", "the river", "the computer", "a bird")
VERBS = ("saw", "chased", "liked", "forgot", "painted", "followed", "ignored", "helped", "found", "visited")
OBJECTS = ("the red ball", "a long story", "the river bank", "his homework", "the green door",
           "a strange noise", "the last train", "the empty school", "an old song", "the tall tree")
TAILS = ("because it was late", "after lunch", "in the rain", "before the bell rang", "and then it laughed",
         "near the station", "without a word", "while everyone watched", "", "")


PARAGRAPHS = [p.strip() for p in (ROOT / "tests" / "data" / "everyday_paragraphs.txt").read_text().split("\n\n")
              if p.strip()]


def student_sentence(rng: random.Random, long_share: float = 0.0) -> str:
    """A sentence like a student would type: short, sometimes two clauses, sometimes the board's,
    and with probability ``long_share`` a pasted paragraph (60-80 words, about 80-100 tokens)."""
    if PARAGRAPHS and rng.random() < long_share:
        return rng.choice(PARAGRAPHS)
    if rng.random() < 0.25:
        return rng.choice(BOARD)
    parts = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(TAILS)]
    if rng.random() < 0.3:
        parts += ["and", rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
    text = " ".join(p for p in parts if p)
    return text[0].upper() + text[1:] + rng.choice((".", ".", "!", "?"))


# ---------------------------------------------------------------------------
# The server's process, read from /proc
# ---------------------------------------------------------------------------

def machine_speed() -> float:
    """``bench.calibrate``'s figure for this machine now (ms per bundled-encoder forward pass, one thread), run
    in a child process before the server starts, so a run can be compared with other days' (NaN if it fails)."""
    try:
        out = subprocess.run([sys.executable, "-m", "bench.calibrate"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, check=True).stdout
        return float(json.loads(out.splitlines()[-1])["encoder_forward_ms"])
    except (subprocess.SubprocessError, OSError, ValueError, KeyError, IndexError):
        return float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


# ---------------------------------------------------------------------------
# One websocket session (what the browser does, minus drawing)
# ---------------------------------------------------------------------------

@dataclass
class Result:
    action: str
    page: str
    seconds: float
    nbytes: int
    charts: int
    error: str = ""
    first_chart_s: float = float("nan")   # when the first Plotly figure's delta arrived
    chart_bytes: int = 0                  # the figures' JSON specs, of nbytes
    at: float = float("nan")              # time.monotonic() when the rerun was sent (for the windows)


def shown_value(kind: str, widget) -> object:
    """What a widget of this run shows: the value the server set, else its default (for a fresh session, the
    value the URL gave it)."""
    if kind == "selectbox":
        if widget.set_value:
            return widget.raw_value
        return widget.options[widget.default] if 0 <= widget.default < len(widget.options) else None
    if kind in ("text_area", "text_input", "checkbox"):
        return widget.value if widget.set_value else widget.default
    return None


@dataclass
class Session:
    url: str
    origin: str
    timeout: float
    ws: object = None
    pages: dict = field(default_factory=dict)        # url_pathname -> page_script_hash
    page: str = ""                                   # current url_pathname
    widgets: dict = field(default_factory=dict)      # label -> widget id (current run)
    checkboxes: list = field(default_factory=list)   # (id, label) of the current page's checkboxes
    states: dict = field(default_factory=dict)       # widget id -> (kind, value) we have set
    query: str = ""
    values: dict = field(default_factory=dict)       # label -> the value the last run's widget shows
    headers: dict = field(default_factory=dict)      # extra handshake headers (a balancer's cookie)

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                           origin=self.origin, open_timeout=self.timeout, ping_interval=None,
                                           additional_headers=self.headers or None)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def rerun(self, action: str, page_hash: str = "", page_name: str = "", query: str | None = None) -> Result:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query if query is None else query
        cs.page_script_hash = page_hash
        cs.page_name = page_name
        for wid, (kind, value) in self.states.items():
            w = cs.widget_states.widgets.add()
            w.id = wid
            setattr(w, kind, value)
        start = time.perf_counter()
        nbytes = charts = chart_bytes = 0
        first_chart = float("nan")
        error = ""
        widgets: dict[str, str] = {}
        values: dict[str, object] = {}
        checkboxes: list[tuple[str, str]] = []
        sent_at = time.monotonic()
        try:
            await self.ws.send(msg.SerializeToString())
            deadline = start + self.timeout
            while True:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise asyncio.TimeoutError
                raw = await asyncio.wait_for(self.ws.recv(), left)
                nbytes += len(raw)
                fwd = ForwardMsg()
                fwd.ParseFromString(raw)
                kind = fwd.WhichOneof("type")
                if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                    el = fwd.delta.new_element
                    ek = el.WhichOneof("type")
                    if ek == "plotly_chart":
                        if not charts:
                            first_chart = time.perf_counter() - start
                        charts += 1
                        chart_bytes += len(el.plotly_chart.spec)
                    elif ek == "exception" and not error:
                        error = f"exception: {el.exception.type}: {el.exception.message[:120]}"
                    elif ek == "alert" and el.alert.format == 1 and not error:   # Alert.ERROR
                        error = f"error box: {el.alert.body[:120]}"
                    elif ek in ("text_area", "text_input", "selectbox", "checkbox", "radio", "slider"):
                        w = getattr(el, ek)
                        widgets[w.label] = w.id
                        values[w.label] = shown_value(ek, w)
                        if ek == "checkbox" and fwd.metadata.delta_path[:1] == [0]:   # main area, not sidebar
                            checkboxes.append((w.id, w.label))
                elif kind == "navigation":
                    for p in fwd.navigation.app_pages:
                        # The default page has no url_pathname; its URL is its title in lower case.
                        name = p.url_pathname or (p.page_name.lower() if p.is_default else "")
                        if name and name != "app":
                            self.pages[name] = p.page_script_hash
                elif kind == "page_info_changed":
                    self.query = fwd.page_info_changed.query_string
                elif kind == "script_finished":
                    status = fwd.script_finished
                    if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                        continue
                    if status != ForwardMsg.FINISHED_SUCCESSFULLY and not error:
                        error = f"script_finished status {status}"
                    break
        except asyncio.TimeoutError:
            error = f"timeout (> {self.timeout:.0f} s)"
        except websockets.ConnectionClosed as err:
            error = f"connection closed: {err}"
        except OSError as err:
            error = f"connection failed: {err}"
        self.widgets, self.checkboxes = widgets, checkboxes
        if not error:
            self.values = values
        return Result(action, self.page, time.perf_counter() - start, nbytes, charts, error, first_chart, chart_bytes,
                      sent_at)

    async def open(self, page: str, sentence: str) -> Result:
        self.page = page
        self.query = urllib.parse.urlencode({"a": sentence})
        return await self.rerun("open", page_name=page)

    async def type_sentence(self, sentence: str) -> Result:
        wid = self.widgets.get("Sentence A")
        if wid is None:
            return Result("type", self.page, 0.0, 0, 0, "no Sentence A box on the last run")
        self.states[wid] = ("string_value", sentence)
        return await self.rerun("type", self.pages.get(self.page, ""), self.page)

    async def switch_page(self, page: str) -> Result:
        self.page = page
        # Streamlit drops the page's query params on a page switch; the sidebar keeps its state.
        return await self.rerun("page", self.pages[page], page, query="")

    async def tick(self, rng: random.Random) -> Result | None:
        if not self.checkboxes:
            return None
        wid, _ = rng.choice(self.checkboxes)
        kind, value = self.states.get(wid, ("bool_value", False))
        self.states[wid] = ("bool_value", not value)
        return await self.rerun("option", self.pages.get(self.page, ""), self.page)


async def act(s: Session, rng: random.Random, args: argparse.Namespace, pages: list[str]) -> Result:
    """One thing a student does: type a sentence (45 %), switch pages (35 %) or tick a checkbox (20 %)."""
    roll = rng.random()
    if roll < 0.45:
        return await s.type_sentence(student_sentence(rng, args.long_share))
    if roll < 0.8:
        return await s.switch_page(rng.choice([p for p in pages if p != s.page] or pages))
    return await s.tick(rng) or await s.type_sentence(student_sentence(rng, args.long_share))


async def arrive(i: int, args: argparse.Namespace, url: str, origin: str,
                 results: list[Result]) -> tuple[random.Random, Session | None]:
    """Student ``i`` arrives: its seeded random stream, after a random part of the ramp, connected (None when
    the connection failed, which is counted as an error)."""
    rng = random.Random(args.seed * 1000 + i)
    await asyncio.sleep(rng.uniform(0, args.ramp))
    s = Session(url, origin, args.timeout)
    try:
        await s.connect()
    except Exception as err:  # noqa: BLE001  (any failure to connect is a counted error)
        results.append(Result("open", "", 0.0, 0, 0, f"connect failed: {type(err).__name__}: {err}"))
        return rng, None
    return rng, s


async def student(i: int, args: argparse.Namespace, url: str, origin: str, pages: list[str],
                  stop_at: float, results: list[Result]) -> None:
    rng, s = await arrive(i, args, url, origin, results)
    if s is None:
        return
    try:
        results.append(await s.open(rng.choice(pages), student_sentence(rng, args.long_share)))
        for _ in range(args.max_actions):
            await asyncio.sleep(rng.uniform(*args.think))
            if time.monotonic() >= stop_at:
                break
            r = await act(s, rng, args, pages)
            results.append(r)
            if r.error.startswith(("connection", "timeout")):
                await s.close()
                with contextlib.suppress(Exception):
                    await s.connect()
                    s.states.clear()
                    results.append(await s.open(s.page, student_sentence(rng, args.long_share)))
    finally:
        await s.close()


async def page_list(url: str, origin: str) -> list[str]:
    s = Session(url, origin, 120)
    await s.connect()
    try:
        r = await s.open("", BOARD[0])
        if r.error:
            raise RuntimeError(f"first run failed: {r.error}")
        return [p for p in s.pages if p]
    finally:
        await s.close()


async def warm_up(url: str, origin: str, pages: list[str]) -> list[Result]:
    """One pass over every page with the board's first sentence: loads the models, fills the caches."""
    s = Session(url, origin, 180)
    await s.connect()
    try:
        out = [await s.open(pages[0], BOARD[0])]
        for p in pages[1:]:
            out.append(await s.switch_page(p))
        return out
    finally:
        await s.close()


async def sample_rss(pid: int, stop: asyncio.Event, samples: list[tuple[float, float]]) -> None:
    start = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(OSError):
            samples.append((time.monotonic() - start, rss_mb(pid)))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def table(results: list[Result]) -> list[dict]:
    rows = []
    groups: dict[str, list[Result]] = {"all": results}
    for r in results:
        groups.setdefault(f"action {r.action}", []).append(r)
    for r in results:
        groups.setdefault(f"page {r.page or '(default)'}", []).append(r)
    for name, rs in groups.items():
        ok = [r.seconds for r in rs if not r.error]
        rows.append({"group": name, "n": len(rs), "errors": sum(1 for r in rs if r.error),
                     "p50_s": pct(ok, 0.5), "p95_s": pct(ok, 0.95), "max_s": max(ok) if ok else float("nan"),
                     "kb_per_run": statistics.mean(r.nbytes for r in rs) / 1024 if rs else 0.0,
                     "no_figure": sum(1 for r in rs if not r.error and r.charts == 0)})
    return rows


def windows(results: list[Result], samples: list[tuple[float, float]], start: float, width: float) -> list[dict]:
    """Latency and memory per ``width``-second window of the run: interactions sent in the window (n, errors,
    p50, p95 of the successful ones) and the server RSS sampled in it (largest and last reading, MB)."""
    if not results and not samples:
        return []
    last = max([r.at - start for r in results if r.at == r.at] + [t for t, _ in samples] + [0.0])
    rows = []
    for w in range(int(last // width) + 1):
        lo, hi = w * width, (w + 1) * width
        rs = [r for r in results if lo <= r.at - start < hi]
        ok = [r.seconds for r in rs if not r.error]
        mbs = [mb for t, mb in samples if lo <= t < hi]
        rows.append({"window": w, "from_s": lo, "to_s": hi, "n": len(rs), "errors": sum(1 for r in rs if r.error),
                     "p50_s": pct(ok, 0.5), "p95_s": pct(ok, 0.95), "rss_max_mb": max(mbs, default=float("nan")),
                     "rss_last_mb": mbs[-1] if mbs else float("nan")})
    return rows


def probe_windows(lines: list[dict], rows: list[dict]) -> None:
    """Add the probe's readings to each window row: CPU seconds and full-collection seconds spent in it, and
    the last reading of tracked objects (None unless AEX_PROBE_OBJECTS=1), sessions and cache size in it, and the
    result cache's hit rate over the window's lookups."""
    if not lines:
        return
    previous = lines[0]
    for row in rows:
        inside = [x for x in lines if row["from_s"] <= x["t"] < row["to_s"]]
        if not inside:
            row.update(cpu_s=float("nan"), full_gc_s=float("nan"), tracked=None, sessions=0, cache_mb=float("nan"),
                       hit_rate=float("nan"))
            continue
        last = inside[-1]
        hits = (last.get("cache_hits") or 0) - (previous.get("cache_hits") or 0)
        misses = (last.get("cache_misses") or 0) - (previous.get("cache_misses") or 0)
        row.update(cpu_s=last["cpu_s"] - previous["cpu_s"], full_gc_s=last["full_s"] - previous["full_s"],
                   tracked=last["tracked"], sessions=last["sessions"] or 0, cache_mb=last["cache_mb"] or 0.0,
                   hit_rate=hits / (hits + misses) if hits + misses else float("nan"))
        previous = last


def print_windows(rows: list[dict]) -> None:
    probed = any("cpu_s" in row for row in rows)
    extra = (f" {'CPU s':>6s} {'CPU/int':>7s} {'full GC s':>9s} {'objects':>8s} {'sess':>4s} {'cache MB':>8s} "
             f"{'hit %':>5s}") if probed else ""
    print(f"{'window':>13s} {'n':>5s} {'err':>4s} {'p50 s':>7s} {'p95 s':>7s} {'RSS max':>8s} {'RSS last':>8s}{extra}")
    for row in rows:
        line = (f"{row['from_s']:5.0f}-{row['to_s']:5.0f} s {row['n']:5d} {row['errors']:4d} {row['p50_s']:7.2f} "
                f"{row['p95_s']:7.2f} {row['rss_max_mb']:8.0f} {row['rss_last_mb']:8.0f}")
        if probed:
            line += (f" {row['cpu_s']:6.0f} {row['cpu_s'] / max(row['n'], 1):7.3f} {row['full_gc_s']:9.1f} "
                     f"{'-' if row['tracked'] is None else row['tracked']:>8} {row['sessions']:4d} "
                     f"{row['cache_mb']:8.1f} {100 * row['hit_rate']:5.0f}")
        print(line)


async def drive(args: argparse.Namespace, port: int, pid: int) -> dict:
    url, origin = f"ws://127.0.0.1:{port}/_stcore/stream", f"http://127.0.0.1:{port}"
    info: dict = {"rss_idle_mb": rss_mb(pid), "cpu_idle_s": cpu_s(pid)}
    pages = await page_list(url, origin)
    t0 = time.perf_counter()
    warm = await warm_up(url, origin, pages)
    info["warm_up_s"] = time.perf_counter() - t0
    info["warm_up_errors"] = [f"{r.page}: {r.error}" for r in warm if r.error]
    info["pages"] = pages
    await asyncio.sleep(1.0)
    info["rss_start_mb"] = rss_mb(pid)
    cpu0 = cpu_s(pid)
    results: list[Result] = []
    stop = asyncio.Event()
    samples: list[tuple[float, float]] = []
    sampler = asyncio.create_task(sample_rss(pid, stop, samples))
    start = time.monotonic()
    stop_at = start + args.seconds
    tasks = [asyncio.create_task(student(i, args, url, origin, pages, stop_at, results))
             for i in range(args.sessions)]
    # Hard bound: the run, plus one interaction's timeout and a margin for closing.
    done, pending = await asyncio.wait(tasks, timeout=args.seconds + args.ramp + args.timeout + 30)
    for t in pending:
        t.cancel()
    for t in done:
        if t.exception() is not None:
            results.append(Result("crash", "", 0.0, 0, 0, f"client task failed: {t.exception()!r}"))
    wall = time.monotonic() - start
    stop.set()
    await sampler
    await asyncio.sleep(2.0)   # let the sessions' disconnects settle before the last reading
    quarters = [samples[min(len(samples) - 1, round(q * (len(samples) - 1)))] for q in (0.25, 0.5, 0.75)] \
        if samples else []
    info.update(rss_end_mb=rss_mb(pid), rss_peak_mb=max([mb for _, mb in samples] + [rss_mb(pid)]), wall_s=wall,
                rss_quarters=quarters, rss_samples=samples,
                server_cpu_s=cpu_s(pid) - cpu0, server_threads_end=threads(pid), cancelled=len(pending))
    info["windows"] = windows(results, samples, start, args.window)
    settled = [mb for t, mb in samples if t < args.settle]
    info["rss_settled_mb"] = settled[-1] if settled else info["rss_start_mb"]
    info["results"] = results
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=300.0, help="how long students keep acting")
    parser.add_argument("--port", type=int, default=0, help="server port (0 = a free one)")
    parser.add_argument("--think", type=float, nargs=2, default=(3.0, 10.0), metavar=("MIN", "MAX"),
                        help="seconds a student looks at the page between acts (uniform)")
    parser.add_argument("--long-share", type=float, default=0.05,
                        help="share of typed texts that are a pasted paragraph instead of a sentence")
    parser.add_argument("--ramp", type=float, default=10.0, help="students arrive over this many seconds")
    parser.add_argument("--timeout", type=float, default=60.0, help="an interaction slower than this is an error")
    parser.add_argument("--max-actions", type=int, default=500, help="per student, a bound besides --seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=float, default=300.0, help="seconds per window of the latency and "
                        "memory table")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="server environment on top of make run's (services.server.RUN_ENV); "
                             "KEY= unsets one; repeatable")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="run the app found in this folder (a patched copy), with this checkout's .venv")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds of the class counted as warm-up: the "
                        "RSS growth goal is measured from the last reading before them")
    parser.add_argument("--probe", action="store_true", help="sample the server from inside "
                        "(bench/probe/sitecustomize.py) and add its readings to the window table; the count of tracked "
                        "objects needs --server-env AEX_PROBE_OBJECTS=1 (see that file: it is not harmless)")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()
    env_extra = dict(kv.split("=", 1) for kv in args.server_env)
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    probe_out = scratch / f"classroom_probe_{os.getpid()}.jsonl"
    if args.probe:
        probe_out.unlink(missing_ok=True)
        env_extra.update(PYTHONPATH=os.pathsep.join(filter(None, [str(PROBE), env_extra.get("PYTHONPATH")])),
                         AEX_PROBE_OUT=str(probe_out), AEX_PROBE_PERIOD=str(min(30.0, args.window / 4)))
    port = args.port or free_port()
    server = AppServer(root=args.root, port=port, env_extra=env_extra,
                       log_path=scratch / f"classroom_streamlit_{port}.log")
    shown_env = {k: server.env.get(k, "(unset)") for k in {*RUN_ENV, *env_extra}}
    load = os.getloadavg()
    speed = machine_speed()
    print(f"machine speed (bench.calibrate): {speed:.1f} ms per encoder forward pass, one thread", flush=True)
    print(f"starting streamlit on 127.0.0.1:{server.port} (log {server.log_path}); machine load {load[0]:.1f} on "
          f"{os.cpu_count()} cores; server env {shown_env}; app in {server.root}", flush=True)
    with server:
        info = asyncio.run(drive(args, server.port, server.pid))
    results: list[Result] = info.pop("results")
    if args.probe and probe_out.exists():
        info["probe"] = [json.loads(line) for line in probe_out.read_text().splitlines() if line.strip()]
        probe_windows(info["probe"], info["windows"])
    rows = table(results)
    errors = [r for r in results if r.error]
    growth_from_warm_up = (info["rss_end_mb"] - info["rss_start_mb"]) / info["rss_start_mb"]
    growth = (info["rss_end_mb"] - info["rss_settled_mb"]) / info["rss_settled_mb"]
    p95 = rows[0]["p95_s"]

    print(f"\n{args.sessions} sessions (websocket clients), {args.seconds:.0f} s, think {args.think[0]:g}-"
          f"{args.think[1]:g} s, ramp {args.ramp:g} s; warm-up pass over {len(info['pages'])} pages took "
          f"{info['warm_up_s']:.1f} s; load before start {load[0]:.1f}")
    print(f"{'group':28s} {'n':>5s} {'err':>4s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s} {'KB/run':>8s} {'nofig':>5s}")
    for row in rows:
        print(f"{row['group']:28s} {row['n']:5d} {row['errors']:4d} {row['p50_s']:7.2f} {row['p95_s']:7.2f} "
              f"{row['max_s']:7.2f} {row['kb_per_run']:8.1f} {row['no_figure']:5d}")
    n_ok = len(results) - len(errors)
    print(f"\nthroughput {len(results) / info['wall_s']:.2f} interactions/s; server CPU {info['server_cpu_s']:.0f} s "
          f"= {info['server_cpu_s'] / max(n_ok, 1):.2f} CPU-s per interaction; threads at end {info['server_threads_end']}")
    print(f"server RSS: idle {info['rss_idle_mb']:.0f} MB, after warm-up {info['rss_start_mb']:.0f} MB, "
          f"peak {info['rss_peak_mb']:.0f} MB, end {info['rss_end_mb']:.0f} MB (growth {growth_from_warm_up * 100:+.1f} %)")
    if args.settle:
        print(f"after the first {args.settle:.0f} s of the class (students arrived, cache filled): "
              f"{info['rss_settled_mb']:.0f} MB -> {info['rss_end_mb']:.0f} MB at the end (growth {growth * 100:+.1f} %)")
    print("server RSS during the run: " + ", ".join(f"{mb:.0f} MB at {t:.0f} s" for t, mb in info["rss_quarters"]))
    print(f"\nper {args.window:.0f}-second window (interactions sent in it; server RSS sampled in it):")
    print_windows(info["windows"])
    window_p95 = [row["p95_s"] for row in info["windows"] if row["n"]]
    if info["warm_up_errors"]:
        print("warm-up errors:", *info["warm_up_errors"], sep="\n  ")
    if errors:
        print(f"errors ({len(errors)}), first 10:")
        for r in errors[:10]:
            print(f"  {r.action:6s} {r.page:12s} {r.error}")
    verdict = {"0 errors": not errors, f"p95 < {GOAL_P95_S:g} s": p95 < GOAL_P95_S,
               f"p95 < {GOAL_WINDOW_P95_S:g} s in every window": bool(window_p95) and max(window_p95) < GOAL_WINDOW_P95_S,
               f"RSS growth < {GOAL_RSS_GROWTH:.0%}" + (f" after the first {args.settle:.0f} s" if args.settle else ""):
                   growth < GOAL_RSS_GROWTH}
    print("goals:", ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in verdict.items()))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: (list(v) if isinstance(v, tuple) else v)
                                                  for k, v in vars(args).items() if k != "json"},
                                         "load_before": load, "encoder_forward_ms": speed, **info, "rows": rows,
                                         "growth": growth,
                                         "growth_from_warm_up": growth_from_warm_up,
                                         "errors": [r.__dict__ for r in errors[:50]], "goals": verdict},
                                        indent=1, default=str))
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
