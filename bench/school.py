"""A school on one balancer: students spread over N replicas, a replica lost mid-lesson, a rolling restart.

    .venv/bin/python -m bench.school [--replicas 3] [--sessions 90] [--seconds 600] [--think 3 10]
                                     [--event 200:term:0] [--event 400:kill:1] [--event 480:rolling]
                                     [--window 120] [--settle 300] [--json out.json]

Not part of ``make test``; run from the repository root, with Debian's ``haproxy`` installed. It starts
``deploy.school.School`` (N ``services.server.AppServer`` replicas and HAProxy with ``deploy/haproxy.py``'s
configuration, all on 127.0.0.1), warms every replica directly, then drives ``--sessions`` students of
``bench/classroom.py`` through the balancer's address only, as browsers behind one school NAT would.

Each student keeps the balancer's cookie (``AEXREPLICA``, sent back on every reconnect, as a browser does) and
records which replica it got. ``--event T:ACTION[:REPLICA]`` at T seconds into the run:
- ``term:I``: SIGTERM to replica I (Streamlit's own shutdown); it is started again 20 s later;
- ``kill:I``: SIGKILL to replica I's process group (a crash, nothing cleaned up); started again 20 s later;
- ``rolling``: ``School.rolling_restart``: each replica drained, stopped and started, one at a time.

What a browser does when its websocket closes, a student does too: it reconnects at once (to the balancer; the
dead replica's cookie is redispatched to a live one) and reruns the page with the URL it shows, with no widget
state (a new replica has none). The view is **restored** when that run shows the same page, sentence, layer
and head as before the loss (read from the widgets the new replica drew from the URL). An interaction whose
run was cut by the loss is **lost in flight**; any other failure is an error.

Goals it reports against: 0 errors besides the interactions lost in flight, every lost view restored, every
replica serving students; and, for a lesson with no ``--event`` (e.g. 30 students on 2 replicas, one per core
of this machine, for 45 minutes), the one-server goals of ``bench/classroom.py``: p95 under 1 s in every
``--window`` and the replicas' RSS (summed, sampled every 2 s) growing under 10 % after the first ``--settle``
seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import websockets

from bench.classroom import (GOAL_RSS_GROWTH, GOAL_WINDOW_P95_S, Result, Session, act, arrive, page_list, pct,
                             print_windows, rss_mb, student_sentence, warm_up, windows)
from deploy.haproxy import COOKIE
from deploy.school import School

RESTART_AFTER_S = 20.0     # a stopped or killed replica comes back this long after (a supervisor's restart)
RECONNECT_FOR_S = 60.0     # a student retries its reconnect for this long, once a second


@dataclass
class Student:
    index: int
    replicas: list = field(default_factory=list)    # the replica of each connection, in order
    lost: int = 0                                   # interactions cut by a lost connection
    losses: int = 0                                 # connections lost (in flight or while thinking)
    restored: int = 0                               # of those, views shown again after reconnecting
    unrestored: list = field(default_factory=list)  # (before, after) views that did not come back
    example: tuple = ()                             # one (before, after) view that did


# The URL parameters that name a view, and the widgets that show them.
VIEW = {"a": "Sentence A", "layer": "Layer", "head": "Head"}


def url_view(s: Session) -> dict:
    """The view the student's address bar names: the page and the parameters of VIEW it holds."""
    params = urllib.parse.parse_qs(s.query, keep_blank_values=True)
    return {"page": s.page, **{label: params[name][0] for name, label in VIEW.items() if name in params}}


def drawn_view(s: Session, names: dict) -> dict:
    """The keys of ``names`` as the last run drew them: the sentence (always in the sidebar) and the layer and
    head where this page has those boxes (a page without them keeps them in the URL only)."""
    drawn = {label: s.values.get(label) for label in names if label != "page"}
    return {"page": s.page, **{k: (None if v is None else str(v)) for k, v in drawn.items()
                               if k == VIEW["a"] or k in s.values}}


def restored(before: dict, s: Session) -> bool:
    """The view came back: the new replica drew it from the URL, and the URL it wrote names the same view."""
    drawn = drawn_view(s, before)
    written = url_view(s)            # a fresh session may write more parameters than the old URL held
    return drawn == {k: v for k, v in before.items() if k in drawn} and all(written.get(k) == v
                                                                            for k, v in before.items())


def replica_of(s: Session) -> str:
    """The replica the balancer's cookie names (set on this connection's handshake, or kept from before)."""
    with contextlib.suppress(AttributeError):
        for header in s.ws.response.headers.get_all("Set-Cookie"):
            name, _, rest = header.partition("=")
            if name.strip() == COOKIE:
                s.headers["Cookie"] = f"{COOKIE}={rest.split(';')[0]}"
    return s.headers.get("Cookie", "=?").split("=", 1)[1]


async def reconnect(s: Session, me: Student, results: list[Result], deadline: float) -> None:
    """Reconnect through the balancer and rerun the page from its URL, as the browser does; check the view."""
    before = url_view(s)
    await s.close()
    me.losses += 1
    while time.monotonic() < deadline:
        try:
            await s.connect()
            break
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
            await asyncio.sleep(1.0)
    else:
        results.append(Result("reconnect", s.page, 0.0, 0, 0, "could not reconnect", at=time.monotonic()))
        return
    me.replicas.append(replica_of(s))
    s.states.clear()                                   # a new replica knows no widget state: the URL is all
    r = await s.rerun("reconnect", page_name=s.page)
    results.append(r)
    after = drawn_view(s, before)
    if not r.error and restored(before, s):
        me.restored += 1
        me.example = me.example or (before, after)
    else:
        me.unrestored.append((before, {**after, "url": url_view(s)}, r.error))


async def think(s: Session, seconds: float) -> bool:
    """Wait ``seconds`` like a student reading the page; False when the connection closed meanwhile."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(s.ws.wait_closed(), seconds)
        return False
    return True


async def student(me: Student, args: argparse.Namespace, url: str, origin: str, pages: list[str],
                  stop_at: float, results: list[Result]) -> None:
    rng, s = await arrive(me.index, args, url, origin, results)
    if s is None:
        return
    me.replicas.append(replica_of(s))
    try:
        results.append(await s.open(rng.choice(pages), student_sentence(rng, args.long_share)))
        for _ in range(args.max_actions):
            if not await think(s, rng.uniform(*args.think)):
                await reconnect(s, me, results, time.monotonic() + RECONNECT_FOR_S)
            if time.monotonic() >= stop_at:
                break
            r = await act(s, rng, args, pages)
            if r.error.startswith(("connection", "timeout")):
                r.action = "lost"                      # cut by the loss: counted apart from errors
                me.lost += 1
                results.append(r)
                await reconnect(s, me, results, time.monotonic() + RECONNECT_FOR_S)
            else:
                results.append(r)
    finally:
        await s.close()


def stop_replica(school: School, index: int, how: str) -> None:
    server = school.servers[index]
    if how == "kill":
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.proc.wait(10)
    server.stop()                                      # SIGTERM (a no-op after the kill), closes the log


def warm_replica(pages: list[str]):
    """A ``School.restart`` warm hook: one pass over every page on the restarted replica, before it is back."""
    def warm(server) -> None:
        asyncio.run(warm_up(f"ws://127.0.0.1:{server.port}/_stcore/stream", server.url, pages))
    return warm


async def run_events(school: School, events: list[tuple[float, str, int]], start: float, log: list,
                     pages: list[str]) -> None:
    """The events at their times. A crashed or stopped replica comes back cold (as a supervisor restarts it);
    the rolling restart warms each replica before putting it back."""
    for at, action, index in sorted(events):
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        began = time.monotonic() - start
        if action == "rolling":
            await asyncio.to_thread(school.rolling_restart, 15.0, warm_replica(pages))
        else:
            await asyncio.to_thread(stop_replica, school, index, action)
            await asyncio.sleep(RESTART_AFTER_S)
            await asyncio.to_thread(school.servers[index].start)
        log.append({"at_s": round(began, 1), "action": action, "replica": index,
                    "done_s": round(time.monotonic() - start, 1)})


async def drive(args: argparse.Namespace, school: School) -> dict:
    url = f"ws://127.0.0.1:{school.port}/_stcore/stream"
    origin = school.url
    pages = await page_list(url, origin)
    for server in school.servers:                      # every replica loads its models before the lesson
        warm = await warm_up(f"ws://127.0.0.1:{server.port}/_stcore/stream", server.url, pages)
        bad = [r.error for r in warm if r.error]
        if bad:
            raise RuntimeError(f"warm-up of {server.url} failed: {bad[:3]}")
    results: list[Result] = []
    students = [Student(i) for i in range(args.sessions)]
    events_log: list = []
    start = time.monotonic()
    stop_at = start + args.seconds
    stop, samples, each = asyncio.Event(), [], []
    sampler = asyncio.create_task(sample_replicas(school, start, stop, samples, each))
    events = asyncio.create_task(run_events(school, args.event, start, events_log, pages))
    tasks = [asyncio.create_task(student(me, args, url, origin, pages, stop_at, results)) for me in students]
    done, pending = await asyncio.wait(tasks, timeout=args.seconds + args.ramp + args.timeout + RECONNECT_FOR_S + 30)
    for t in pending:
        t.cancel()
    for t in done:
        if t.exception() is not None:
            results.append(Result("crash", "", 0.0, 0, 0, f"client task failed: {t.exception()!r}"))
    with contextlib.suppress(asyncio.CancelledError):
        events.cancel()
        await events
    await asyncio.sleep(2.0)                           # the sessions' disconnects settle before the last reading
    stop.set()
    await sampler
    counts = {f"r{i}": sum(1 for me in students for r in me.replicas[:1] if r == f"r{i}")
              for i in range(len(school.servers))}
    balancer = {f"r{i}": school.sessions(i, "stot") for i in range(len(school.servers))}
    return {"results": results, "students": students, "events": events_log, "first_replica": counts,
            "balancer_sessions": balancer, "rss": samples, "rss_each": each,
            "start": start, "wall_s": time.monotonic() - start}


async def sample_replicas(school: School, start: float, stop: asyncio.Event, samples: list, each: list) -> None:
    """Every 2 s: the replicas' RSS summed (``samples``: (t, MB), for the windows) and one by one (``each``)."""
    while not stop.is_set():
        mbs = []
        for server in school.servers:
            try:
                mbs.append(rss_mb(server.pid) if server.proc is not None and server.proc.poll() is None else 0.0)
            except OSError:                            # a replica stopped between the check and the read
                mbs.append(0.0)
        samples.append((time.monotonic() - start, sum(mbs)))
        each.append((time.monotonic() - start, mbs))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


def growth(samples: list, settle: float) -> tuple[float, float, float]:
    """(MB at the end of the first ``settle`` seconds, MB at the end, growth as a fraction) of a (t, MB) series."""
    settled = [mb for t, mb in samples if t < settle] or [samples[0][1]]
    return settled[-1], samples[-1][1], (samples[-1][1] - settled[-1]) / settled[-1]


def parse_event(text: str) -> tuple[float, str, int]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[1] not in ("term", "kill", "rolling"):
        raise argparse.ArgumentTypeError(f"{text!r}: write T:term:I, T:kill:I or T:rolling")
    return float(parts[0]), parts[1], int(parts[2]) if len(parts) == 3 else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=90)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--think", type=float, nargs=2, default=(3.0, 10.0), metavar=("MIN", "MAX"))
    parser.add_argument("--long-share", type=float, default=0.05)
    parser.add_argument("--ramp", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-actions", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--event", type=parse_event, action="append", default=[],
                        help="T:term:I, T:kill:I or T:rolling (repeatable)")
    parser.add_argument("--settle", type=float, default=300.0,
                        help="seconds of the class counted as warm-up for the memory growth (the caches fill)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with School(args.replicas) as school:
        print(f"{args.replicas} replicas behind {school.url} (logs in {school.dir}); {args.sessions} students for "
              f"{args.seconds:.0f} s; events {args.event}", flush=True)
        info = asyncio.run(drive(args, school))
    results, students = info["results"], info["students"]
    lost = [r for r in results if r.action == "lost"]
    errors = [r for r in results if r.error and r.action != "lost"]
    ok = [r.seconds for r in results if not r.error]
    losses = sum(me.losses for me in students)
    restored = sum(me.restored for me in students)
    timed_out = sum(1 for r in lost if r.error.startswith("timeout"))
    print(f"\n{len(results)} interactions, {len(errors)} errors, {len(lost)} lost in flight ({timed_out} of them timed "
          f"out rather than closed); p50 {pct(ok, 0.5):.2f} s, p95 {pct(ok, 0.95):.2f} s")
    print("students per replica (first connection): " + ", ".join(f"{k} {v}" for k, v in info["first_replica"].items()))
    print("connections per replica (HAProxy's count, warm-up excluded, plain requests included): "
          + ", ".join(f"{k} {v}" for k, v in info["balancer_sessions"].items()))
    print(f"connections lost {losses}, views restored {restored}; students who lost one: "
          f"{sum(1 for me in students if me.losses)}; most interactions lost by one student: "
          f"{max((me.lost for me in students), default=0)}")
    for event in info["events"]:
        print(f"  event {event['action']} r{event['replica']} at {event['at_s']} s (done at {event['done_s']} s)")
    rows = windows(results, info["rss"], info["start"], args.window)
    print_windows(rows)
    settled, end, grew = growth(info["rss"], args.settle)
    print(f"replicas' RSS summed: {settled:.0f} MB after the first {args.settle:.0f} s -> {end:.0f} MB at the end "
          f"({grew * 100:+.1f} %); one by one: " + ", ".join(
              f"r{i} {growth([(t, mbs[i]) for t, mbs in info['rss_each']], args.settle)[2] * 100:+.1f} %"
              for i in range(args.replicas)))
    moved = [r for me in students for r in me.replicas[1:]]
    print("reconnections went to: " + ", ".join(f"r{i} {moved.count(f'r{i}')}" for i in range(args.replicas)))
    example = next((me.example for me in students if me.example), None)
    if example:
        print(f"  a restored view: before (the URL) {example[0]}\n                   after (drawn) {example[1]}")
    for me in students:
        for before, after, error in me.unrestored[:1]:
            print(f"  student {me.index}: view not restored ({error or 'different view'}): {before} -> {after}")
    for r in errors[:10]:
        print(f"  error {r.action:9s} {r.page:12s} {r.error}")
    verdict = {"0 errors besides those in flight": not errors, "every view restored": restored == losses,
               "every replica served students": all(info["first_replica"].values())}
    if not args.event:                                 # a lesson with nothing stopped: the one-server goals too
        full = [row for row in rows if row["to_s"] <= args.seconds]
        verdict[f"p95 < {GOAL_WINDOW_P95_S:g} s in every window"] = all(
            row["p95_s"] < GOAL_WINDOW_P95_S for row in full)
        verdict[f"RSS growth < {GOAL_RSS_GROWTH:.0%} after the first {args.settle:.0f} s"] = grew < GOAL_RSS_GROWTH
    print("goals:", ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in verdict.items()))
    if args.json:
        args.json.write_text(json.dumps({
            "args": {k: v for k, v in vars(args).items() if k != "json"}, "events": info["events"],
            "first_replica": info["first_replica"], "balancer_sessions": info["balancer_sessions"], "interactions": len(results), "errors": len(errors),
            "lost_in_flight": len(lost), "lost_timed_out": timed_out, "losses": losses, "restored": restored, "p95_s": pct(ok, 0.95),
            "windows": rows, "rss_settled_mb": settled, "rss_end_mb": end, "rss_growth": grew,
            "per_student": [{"student": me.index, "replicas": me.replicas, "lost": me.lost, "losses": me.losses,
                             "restored": me.restored} for me in students],
            "goals": verdict}, indent=1, default=str))
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
