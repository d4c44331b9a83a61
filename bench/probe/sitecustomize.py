"""What the server holds, sampled from inside it: ``bench/classroom.py --probe`` puts this folder on the server's
``PYTHONPATH``, so Python imports it at start-up (``sitecustomize``) in the server process only.

Every ``AEX_PROBE_PERIOD`` seconds (default 30) a daemon thread appends one JSON line to ``AEX_PROBE_OUT``:
RSS and CPU seconds, threads, how many objects ``gc.freeze()`` exempted, the collections so far and the seconds
they took (by generation, from ``gc.callbacks``), Streamlit's sessions, and the app's result cache
(``services.bytecache``: bytes and entries).

``AEX_PROBE_OBJECTS=1`` also counts the objects the cyclic GC tracks, with ``gc.get_objects()``. That is off by
default because it is not harmless: on CPython before 3.13 it can hand out a tuple that another thread is still
building with ``tuple(generator)``, whose resize then fails with "SystemError: Objects/tupleobject.c:927: bad
argument to internal function" in the page being run (python/cpython#39117, fixed by gh-107137). The 45-minute
lesson run met it 3 times in 11,084 interactions. Without it, nothing here changes what the app does.

``AEX_PROBE_STACKS=1`` adds a sampling profiler for the script runs (py-spy cannot read this pyenv build of
CPython): a second daemon thread reads ``sys._current_frames()`` ``AEX_PROBE_HZ`` times a second (default 100),
keeps every thread's stack (for a thread running a page, the chain of ``file:function`` from Streamlit's
``exec_func_with_error_handling`` down; for the others, ``[other]`` and their innermost frames), and rewrites
``AEX_PROBE_OUT + ".stacks.json"`` every period with the counts so far. A sample needs the GIL, so time inside
C code that holds it lands on the Python line that called it; C code that releases it (torch's kernels) is
sampled while it runs.
"""
import gc
import json
import os
import sys
import threading
import time

_OUT = os.environ.get("AEX_PROBE_OUT")
_PERIOD = float(os.environ.get("AEX_PROBE_PERIOD", "30"))
_COUNT_OBJECTS = os.environ.get("AEX_PROBE_OBJECTS") == "1"
_collections = {"full_n": 0, "full_s": 0.0, "young_n": 0, "young_s": 0.0}
_started = [0.0]


def _on_gc(phase, info):
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    kind = "full" if info.get("generation") == 2 else "young"
    _collections[f"{kind}_n"] += 1
    _collections[f"{kind}_s"] += time.perf_counter() - _started[0]


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _sessions():
    try:
        from streamlit.runtime import Runtime
        if not Runtime.exists():
            return None
        return len(Runtime.instance()._session_mgr.list_sessions())   # a private attribute: a probe may read it
    except Exception:
        return None


def sample(t0):
    cache = sys.modules.get("services.bytecache")
    times = os.times()
    return {"t": round(time.monotonic() - t0, 1), "rss_mb": _status("VmRSS") // 1024,
            "cpu_s": round(times.user + times.system, 2), "threads": _status("Threads"),
            "tracked": len(gc.get_objects()) if _COUNT_OBJECTS else None, "frozen": gc.get_freeze_count(),
            **{k: round(v, 3) for k, v in _collections.items()}, "sessions": _sessions(),
            "cache_mb": round(cache.CACHE.total_bytes / 2**20, 1) if cache else None,
            "cache_entries": len(cache.CACHE) if cache else None,
            "cache_hits": cache.CACHE.hits if cache else None, "cache_misses": cache.CACHE.misses if cache else None}


_STACKS: dict[str, int] = {}
_SAMPLES = [0]
_ENTRY = "exec_func_with_error_handling"


def _stack_of(frame) -> str:
    """`file:function;...` from the page's entry down to the running frame; for a thread that is not running a
    page, `[other];` and its innermost 4 frames (the event loop, the websocket writes, idle waits)."""
    names = []
    while frame is not None:
        code = frame.f_code
        if code.co_name == _ENTRY:
            return ";".join(reversed(names))
        names.append(f"{os.path.basename(code.co_filename)}:{code.co_name}")
        frame = frame.f_back
    return ";".join(["[other]"] + list(reversed(names[:4])))


def _sampler():
    period, me = 1.0 / float(os.environ.get("AEX_PROBE_HZ", "100")), threading.get_ident()
    while True:
        time.sleep(period)
        _SAMPLES[0] += 1
        for ident, frame in sys._current_frames().items():
            if ident != me:
                stack = _stack_of(frame)
                _STACKS[stack] = _STACKS.get(stack, 0) + 1


def _loop():
    t0 = time.monotonic()
    while True:
        time.sleep(_PERIOD)
        with open(_OUT, "a") as f:
            f.write(json.dumps(sample(t0)) + "\n")
        if _STACKS:
            with open(_OUT + ".stacks.json", "w") as f:
                json.dump({"samples": _SAMPLES[0], "stacks": dict(_STACKS)}, f)


if _OUT:
    gc.callbacks.append(_on_gc)
    threading.Thread(target=_loop, daemon=True, name="aex-probe").start()
    if os.environ.get("AEX_PROBE_STACKS") == "1":
        threading.Thread(target=_sampler, daemon=True, name="aex-probe-stacks").start()
