"""The server definition (services.server): `make run`, the tests and the benchmarks start the same server."""
from __future__ import annotations

import os
import re
import sys
import urllib.request
from pathlib import Path

import pytest

from services import server

ROOT = Path(__file__).resolve().parents[1]


def _make_target(name: str) -> list[str]:
    """The recipe lines of one Makefile target."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{name}\s*:", line))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_make_run_goes_through_services_server():
    assert _make_target("run") == ["$(PY) -m services.server"]


def test_main_execs_streamlit_with_the_run_environment(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "execvpe", lambda file, argv, env: calls.append((file, argv, env)))
    monkeypatch.setattr(os, "chdir", lambda path: calls.append(("chdir", path)))
    server.main([])
    (_, root), (file, argv, env) = calls
    assert root == server.ROOT == ROOT
    assert file == sys.executable and argv[:5] == [sys.executable, "-m", "streamlit", "run", "app.py"]
    flags = dict(zip(argv[5::2], argv[6::2]))
    assert flags == {"--server.address": "127.0.0.1", "--server.port": "8501",
                     "--server.headless": "true", "--browser.gatherUsageStats": "false",
                     "--runner.postScriptGC": "false"}
    assert env["OMP_NUM_THREADS"] == "1" and env["MALLOC_ARENA_MAX"] == "2"

    server.main(["--port", "9123"])
    assert calls[-1][1][calls[-1][1].index("--server.port") + 1] == "9123"
    server.main(["--address", "10.0.0.2", "--port", "8601"])   # a replica on a school's machine
    flags = dict(zip(calls[-1][1][5::2], calls[-1][1][6::2]))
    assert (flags["--server.address"], flags["--server.port"]) == ("10.0.0.2", "8601")


def test_app_server_runs_the_same_command_and_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "8")              # the run environment wins over the caller's
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    app = server.AppServer(port=4321, env_extra={"MALLOC_ARENA_MAX": "", "EXTRA": "x"})
    assert app.command == server.streamlit_command(4321)
    assert app.env["OMP_NUM_THREADS"] == "1"
    assert "MALLOC_ARENA_MAX" not in app.env                  # KEY= unsets
    assert app.env["EXTRA"] == "x" and app.env["SOMETHING_ELSE"] == "kept"
    default = server.AppServer()
    assert default.port != 0 and default.root == ROOT
    assert {k: default.env[k] for k in server.RUN_ENV} == server.RUN_ENV


def test_app_server_starts_with_the_environment_at_exec_and_stops(tmp_path):
    (tmp_path / "app.py").write_text("import streamlit as st\nst.write('hello')\n")
    log = tmp_path / "server.log"
    with server.AppServer(root=tmp_path, log_path=log) as app:
        with urllib.request.urlopen(app.url + "/_stcore/health", timeout=5) as response:
            assert response.read() == b"ok"
        environ = Path(f"/proc/{app.pid}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=2" in environ and b"OMP_NUM_THREADS=1" in environ
        assert os.getpgid(app.pid) == app.pid                # its own process group
        proc = app.proc
    assert proc.poll() is not None


def test_app_server_names_the_log_when_streamlit_exits_early(tmp_path):
    (tmp_path / "app.py").write_text("")
    log = tmp_path / "server.log"
    app = server.AppServer(root=tmp_path, env_extra={"PYTHONPATH": str(tmp_path)}, log_path=log)
    (tmp_path / "streamlit.py").write_text("raise SystemExit(3)\n")   # shadows streamlit: exits at once
    with pytest.raises(RuntimeError, match=rf"code 3 .*{re.escape(str(log))}"):
        app.start()
