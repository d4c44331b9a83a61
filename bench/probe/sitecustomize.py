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
lesson run met it once in 17,000 interactions. Without it, nothing here changes what the app does.
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
            "cache_entries": len(cache.CACHE) if cache else None}


def _loop():
    t0 = time.monotonic()
    while True:
        time.sleep(_PERIOD)
        with open(_OUT, "a") as f:
            f.write(json.dumps(sample(t0)) + "\n")


if _OUT:
    gc.callbacks.append(_on_gc)
    threading.Thread(target=_loop, daemon=True, name="aex-probe").start()
